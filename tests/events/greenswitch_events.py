"""Reads Switchboard's event socket with greenswitch, a third-party ESL client.

    python greenswitch_events.py HOST PORT PASSWORD 'event plain ALL'
Authenticates with `auth PASSWORD` (AccountSid:AuthToken), sends the event
command, prints READY, then one JSON line per event received until stdin
closes.
"""
import json
import sys

import gevent
import gevent.os
import greenswitch

host, port, password, command = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def on_event(event):
    h = event.headers
    print(json.dumps({
        "name": h.get("Event-Name"),
        "subclass": h.get("Event-Subclass"),
        "type": h.get("Switchboard-Event-Type"),
        "call_sid": h.get("variable_sb_call_sid"),
        "account_sid": h.get("variable_sb_account_sid"),
        "unique_id": h.get("Unique-ID"),
    }), flush=True)


fs = greenswitch.InboundESL(host=host, port=port, password=password)
fs.connect()
fs.register_handle("*", on_event)
reply = fs.send(command)
if not reply.data.startswith("+OK event listener enabled"):
    print("FAILED: %r" % reply.data, flush=True)
    sys.exit(1)
print("READY", flush=True)
# Until the test closes stdin.
while gevent.os.tp_read(sys.stdin.fileno(), 1):
    pass
fs.stop()
