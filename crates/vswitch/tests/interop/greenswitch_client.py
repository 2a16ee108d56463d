"""Drives the virtual switch with greenswitch, a third-party ESL client:
auth, api, bgapi originate, and the call's events, then uuid_kill.

    python greenswitch_client.py HOST PORT
Exits 0 and prints INTEROP OK when every step behaved as FreeSWITCH does.
"""
import sys

import gevent
import gevent.event
import greenswitch

host, port = sys.argv[1], int(sys.argv[2])
UUID = "5eed0000-0000-4000-8000-00000000beef"
seen = {}
got = {name: gevent.event.Event() for name in ("BACKGROUND_JOB", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE")}


def on_event(event):
    name = event.headers.get("Event-Name")
    if name == "BACKGROUND_JOB" or event.headers.get("Unique-ID") == UUID:
        seen.setdefault(name, event)
        if name in got:
            got[name].set()


def check(cond, what):
    if not cond:
        print("INTEROP FAILED:", what)
        sys.exit(1)


fs = greenswitch.InboundESL(host=host, port=port, password="ClueCon")
fs.connect()
for name in got:
    fs.register_handle(name, on_event)

status = fs.send("api status")
check("is ready" in status.data, "api status body: %r" % status.data)
check(fs.send("api no_such_command").data == "-ERR no_such_command Command not found!\n", "unknown api")
reply = fs.send("event plain ALL")
check(reply.data == "+OK event listener enabled plain", "event reply %r" % reply.data)
reply = fs.send("bgapi originate {origination_uuid=%s}vswitch/ring=200ms;answer &park()" % UUID)
check(reply.data.startswith("+OK Job-UUID: "), "bgapi reply %r" % reply.data)
job = reply.data.split(": ", 1)[1]

for name in ("BACKGROUND_JOB", "CHANNEL_ANSWER", "CHANNEL_PARK"):
    check(got[name].wait(timeout=20), "no %s" % name)
check(seen["BACKGROUND_JOB"].headers.get("Job-UUID") == job, "job uuid")
check(seen["CHANNEL_ANSWER"].headers.get("Answer-State") == "answered", "answer state")

check(fs.send("api uuid_kill %s" % UUID).data == "+OK\n", "uuid_kill")
check(got["CHANNEL_HANGUP_COMPLETE"].wait(timeout=20), "no CHANNEL_HANGUP_COMPLETE")
check(seen["CHANNEL_HANGUP_COMPLETE"].headers.get("Hangup-Cause") == "NORMAL_CLEARING", "hangup cause")
fs.stop()
print("INTEROP OK")
