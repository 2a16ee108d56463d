"""Drives Switchboard's REST API with the official `twilio` helper library,
with only its base URL changed. Run by tests/interop.rs against a live server.

Environment: SWITCHBOARD_URL, ACCOUNT_SID, AUTH_TOKEN, OTHER_ACCOUNT_SID,
OTHER_AUTH_TOKEN, BULK_ACCOUNT_SID, BULK_AUTH_TOKEN, BULK_COUNT, and APP_URL,
the developer's application (it answers /hold, /malformed and /recorded).
"""
import datetime
import os
import time

import json

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

URL = os.environ["SWITCHBOARD_URL"]


def client(sid, token):
    c = Client(sid, token)
    c.api.base_url = URL
    return c


def expect_error(call, status, code):
    try:
        call()
    except TwilioRestException as e:
        assert e.status == status, (e.status, e.msg)
        assert e.code == code, (e.code, e.msg)
        return e
    raise AssertionError(f"expected HTTP {status} with code {code}")


def expect_page_error(call, status, code):
    # The library reports a page it cannot fetch as a plain TwilioException.
    try:
        call()
    except TwilioRestException:
        raise
    except TwilioException as e:
        response = e.args[1]
        assert response.status_code == status, (response.status_code, response.text)
        assert json.loads(response.text)["code"] == code, response.text
        return
    raise AssertionError(f"expected HTTP {status} with code {code}")


me = client(os.environ["ACCOUNT_SID"], os.environ["AUTH_TOKEN"])
other = client(os.environ["OTHER_ACCOUNT_SID"], os.environ["OTHER_AUTH_TOKEN"])
sid = os.environ["ACCOUNT_SID"]

# Accounts: fetch, update, subaccounts.
account = me.api.v2010.accounts(sid).fetch()
assert account.sid == sid and account.status == "active", account
account = me.api.v2010.accounts(sid).update(friendly_name="Renamed")
assert account.friendly_name == "Renamed"
sub = me.api.v2010.accounts.create(friendly_name="Team A")
assert sub.owner_account_sid == sid and sub.sid != sid
listed = {a.sid for a in me.api.v2010.accounts.list()}
assert listed == {sid, sub.sid}, listed
sub = me.api.v2010.accounts(sub.sid).update(status="suspended")
assert sub.status == "suspended"
sub_client = client(sub.sid, sub.auth_token)
expect_error(lambda: sub_client.api.v2010.accounts(sub.sid).fetch(), 401, 20005)
me.api.v2010.accounts(sub.sid).update(status="active")
# A subaccount never sees its owner.
expect_error(lambda: sub_client.api.v2010.accounts(sid).fetch(), 404, 20404)
print("accounts ok")

# Applications: full CRUD, validation, isolation.
app = me.applications.create(
    friendly_name="IVR", voice_url="https://example.com/ivr", voice_method="GET"
)
assert app.sid.startswith("AP") and app.voice_method == "GET"
assert app.status_callback_method == "POST" and app.voice_caller_id_lookup is False
app = me.applications(app.sid).update(voice_url="https://example.com/ivr2")
assert me.applications(app.sid).fetch().voice_url == "https://example.com/ivr2"
assert [a.sid for a in me.applications.list(friendly_name="IVR")] == [app.sid]
e = expect_error(lambda: me.applications.create(voice_url="not a url"), 400, 21205)
assert "VoiceUrl" in e.msg, e.msg
expect_error(lambda: me.applications.create(voice_method="PUT"), 400, 20001)
expect_error(lambda: other.api.v2010.accounts(sid).applications(app.sid).fetch(), 404, 20404)
expect_error(lambda: other.applications(app.sid).fetch(), 404, 20404)
print("applications ok")

# IncomingPhoneNumbers: full CRUD, bound to an application.
number = me.incoming_phone_numbers.create(phone_number="+14155550100", voice_application_sid=app.sid)
assert number.phone_number == "+14155550100" and number.friendly_name == "+14155550100"
assert number.voice_application_sid == app.sid
number = me.incoming_phone_numbers(number.sid).update(voice_url="https://example.com/inbound")
assert number.voice_url == "https://example.com/inbound"
assert [n.sid for n in me.incoming_phone_numbers.list(phone_number="+14155550100")] == [number.sid]
expect_error(lambda: me.incoming_phone_numbers.create(phone_number="415-555"), 400, 21421)
expect_error(lambda: other.incoming_phone_numbers.create(phone_number="+14155550100"), 400, 21422)
expect_error(lambda: other.incoming_phone_numbers.create(phone_number="+14155550101", voice_application_sid=app.sid), 400, 20001)
me.applications(app.sid).delete()
assert me.incoming_phone_numbers(number.sid).fetch().voice_application_sid is None
me.incoming_phone_numbers(number.sid).delete()
expect_error(lambda: me.incoming_phone_numbers(number.sid).fetch(), 404, 20404)
print("incoming phone numbers ok")

# Keys: create (secret shown once), list, update, delete; a key authenticates.
key = me.new_keys.create(friendly_name="ci")
assert key.sid.startswith("SK") and len(key.secret) == 32
by_key = Client(key.sid, key.secret, sid)
by_key.api.base_url = URL
assert by_key.api.v2010.accounts(sid).fetch().sid == sid
assert [k.sid for k in me.keys.list()] == [key.sid]
assert me.keys(key.sid).update(friendly_name="ci2").friendly_name == "ci2"
me.keys(key.sid).delete()
expect_error(lambda: by_key.api.v2010.accounts(sid).fetch(), 401, 20003)
print("keys ok")

# Calls on the embedded virtual switch: +15005550006 answers, +15005550003 is
# busy, +15005550009 talks into recordings.
APP = os.environ["APP_URL"]
FROM = "+15005550100"
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")


def eventually(what, probe, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def finished(call_sid):
    def probe():
        call = me.calls(call_sid).fetch()
        return call if call.status in FINAL else None

    return eventually(f"call {call_sid} to end", probe)


# Create with Url, redirect to inline TwiML, end it with Status=completed.
held = me.calls.create(to="+15005550006", from_=FROM, url=APP + "/hold")
assert held.sid.startswith("CA") and held.status == "queued", held.status
assert held.direction == "outbound-api" and held.to == "+15005550006"
eventually("the call to answer", lambda: me.calls(held.sid).fetch().status == "in-progress")
redirected = me.calls(held.sid).update(twiml='<Response><Pause length="60"/></Response>')
assert redirected.sid == held.sid and redirected.status == "in-progress", redirected.status
me.calls(held.sid).update(status="completed")
held = finished(held.sid)
assert held.status == "completed" and held.start_time and held.end_time, held.status
expect_error(lambda: me.calls(held.sid).update(url=APP + "/hold"), 400, 21220)

# Create with Twiml; a busy number ends busy.
busy = me.calls.create(to="+15005550003", from_=FROM, twiml="<Response><Say>Hi</Say></Response>")
assert finished(busy.sid).status == "busy"

# A broken application leaves a notification on its call.
broken = me.calls.create(to="+15005550006", from_=FROM, url=APP + "/malformed")
finished(broken.sid)
notes = me.calls(broken.sid).notifications.list()
assert [n.error_code for n in notes] == ["12100"], [n.error_code for n in notes]
assert notes[0].call_sid == broken.sid
assert me.notifications(notes[0].sid).fetch().error_code == "12100"
assert notes[0].sid in {n.sid for n in me.notifications.list()}
assert me.calls(held.sid).notifications.list() == []

# Record leaves a recording on its call.
recorded = me.calls.create(
    to="+15005550009",
    from_=FROM,
    twiml=f'<Response><Record maxLength="10" timeout="2" action="{APP}/recorded"/></Response>',
)
finished(recorded.sid)
recordings = me.calls(recorded.sid).recordings.list()
assert len(recordings) == 1 and recordings[0].call_sid == recorded.sid, recordings
assert int(me.recordings(recordings[0].sid).fetch().duration) > 0
assert [r.sid for r in me.recordings.list(call_sid=recorded.sid)] == [recordings[0].sid]
assert me.calls(busy.sid).recordings.list() == []

# Lists, newest first, filtered by To, From, Status and StartTime.
everyone = [held.sid, busy.sid, broken.sid, recorded.sid]
assert [c.sid for c in me.calls.list()] == everyone[::-1]
assert [c.sid for c in me.calls.list(to="+15005550003")] == [busy.sid]
assert [c.sid for c in me.calls.list(from_=FROM, status="busy")] == [busy.sid]
assert [c.sid for c in me.calls.list(status="completed", page_size=1)] == [recorded.sid, broken.sid, held.sid]
today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
started = {c.sid for c in me.calls.list(start_time=today)}
assert started == {held.sid, broken.sid, recorded.sid}, started
assert {c.sid for c in me.calls.list(start_time_after=held.start_time)} == started
assert me.calls.list(start_time_before="2020-01-01") == []
expect_page_error(lambda: me.calls.list(status="ringing-ish"), 400, 20001)
expect_page_error(lambda: me.calls.list(start_time="yesterday"), 400, 20001)

# Validation, isolation, delete.
expect_error(lambda: me.calls.create(to="555", from_=FROM, url=APP + "/hold"), 400, 21211)
expect_error(lambda: me.calls.create(to="+15005550006", from_=FROM, url="not a url"), 400, 21205)
expect_error(lambda: me.calls.create(to="+15005550006", from_=FROM), 400, 21205)
expect_error(lambda: other.calls(held.sid).fetch(), 404, 20404)
expect_page_error(lambda: other.api.v2010.accounts(sid).calls.list(), 404, 20404)
expect_page_error(lambda: other.calls(held.sid).recordings.list(), 404, 20404)
assert other.calls.list() == []
me.calls(busy.sid).delete()
expect_error(lambda: me.calls(busy.sid).fetch(), 404, 20404)
expect_error(lambda: other.calls(held.sid).delete(), 404, 20404)
print("calls ok")

# Queues: create, update, list; a caller in line is dequeued to a URL.
q = me.queues.create(friendly_name="support", max_size=10)
assert q.sid.startswith("QU") and q.max_size == 10 and q.current_size == 0, q.max_size
q = me.queues(q.sid).update(friendly_name="help desk", max_size=20)
assert q.friendly_name == "help desk" and q.max_size == 20
assert [x.sid for x in me.queues.list()] == [q.sid]
expect_error(lambda: me.queues.create(friendly_name="help desk"), 400, 22003)
expect_error(lambda: me.queues.create(friendly_name="huge", max_size=5001), 400, 20001)
waiting = me.calls.create(
    to="+15005550006", from_=FROM, twiml="<Response><Enqueue>help desk</Enqueue></Response>"
)
members = eventually("the caller in line", lambda: me.queues(q.sid).members.list())
assert members[0].call_sid == waiting.sid and members[0].position == 1, members[0].position
assert me.queues(q.sid).members("Front").fetch().call_sid == waiting.sid
assert me.queues(q.sid).fetch().current_size == 1
expect_error(lambda: other.queues(q.sid).members("Front").fetch(), 404, 20404)
expect_error(lambda: other.queues(q.sid).delete(), 404, 20404)
expect_error(lambda: me.queues(q.sid).delete(), 400, 20001)
dequeued = me.queues(q.sid).members(waiting.sid).update(url=APP + "/recorded")
assert dequeued.call_sid == waiting.sid
assert finished(waiting.sid).status == "completed"
assert me.queues(q.sid).members.list() == []
me.queues(q.sid).delete()
expect_error(lambda: me.queues(q.sid).fetch(), 404, 20404)

# Conferences: a live room; its participant muted, held, then removed.
caller = me.calls.create(
    to="+15005550006",
    from_=FROM,
    twiml="<Response><Dial><Conference>Standup</Conference></Dial></Response>",
)
room = eventually("the room", lambda: me.conferences.list(status="in-progress"))[0]
assert room.friendly_name == "Standup" and room.sid.startswith("CF"), room.friendly_name
people = eventually("the participant", lambda: me.conferences(room.sid).participants.list())
assert [p.call_sid for p in people] == [caller.sid]
participant = me.conferences(room.sid).participants(caller.sid)
assert participant.update(muted=True).muted is True
assert participant.update(hold=True).hold is True
assert [p.call_sid for p in me.conferences(room.sid).participants.list(muted=True)] == [caller.sid]
assert me.conferences(room.sid).participants.list(hold=False) == []
expect_error(lambda: other.conferences(room.sid).fetch(), 404, 20404)
expect_error(lambda: other.conferences(room.sid).participants(caller.sid).delete(), 404, 20404)
participant.delete()
assert finished(caller.sid).status == "completed"


def ended():
    room_now = me.conferences(room.sid).fetch()
    return room_now if room_now.status == "completed" else None


assert eventually("the room to end", ended).reason_conference_ended == "last-participant-left"
assert [c.sid for c in me.conferences.list(friendly_name="Standup")] == [room.sid]
print("queues and conferences ok")

# Auto-paging walks a long list exactly once.
bulk = client(os.environ["BULK_ACCOUNT_SID"], os.environ["BULK_AUTH_TOKEN"])
count = int(os.environ["BULK_COUNT"])
seen = [a.sid for a in bulk.applications.stream(page_size=1000)]
assert len(seen) == count and len(set(seen)) == count, (len(seen), len(set(seen)))
page = bulk.applications.page(page_size=7)
second = page.next_page()
first_sids, second_sids = [a.sid for a in page], [a.sid for a in second]
assert len(first_sids) == 7 and len(second_sids) == 7
assert not set(first_sids) & set(second_sids)
assert second.previous_page_url is not None
print("paging ok")
