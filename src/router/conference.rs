//! Conferences (`<Dial><Conference>`): rooms of calls in a media node's
//! mod_conference.
//!
//! On the switch a room is named by its Conference SID, so one tenant's
//! "sales" never meets another's, and no friendly name needs escaping.
//! Switchboard, not the switch, decides when a room starts
//! (startConferenceOnEnter), plays its wait music until then, and ends it
//! (endConferenceOnExit, the last one out, or the REST API): those are the
//! moments Twilio reports, so they are kept where the callbacks are sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use twiml::{ConferenceBeep, ConferenceEvent};

use super::hold::{self, Hold};
use super::node::Node;
use super::session::{Interrupt, Session};
use super::verbs::{self, Next};
use super::Inner;
use crate::events::event as events;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Participant};
use crate::webhook::{self, Method};

/// The profile of mod_conference Switchboard's rooms use (freeswitch-conf/).
const PROFILE: &str = "switchboard";
/// Played to a room when someone enters or leaves it (`beep`).
const BEEP: &str = "tone_stream://%(200,0,1000)";

/// Where a room is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nobody who starts it has entered: participants hear the wait music.
    Waiting,
    Started,
    Ended,
}

#[derive(Debug, thiserror::Error)]
pub enum ConferenceError {
    #[error("the call is not a participant of the conference")]
    NotParticipant,
    #[error("the conference is not live on any instance")]
    NotLive,
    #[error("the media node did not accept the command: {0}")]
    Node(String),
}

/// Every live room of this instance.
#[derive(Default)]
pub struct Conferences {
    rooms: Mutex<Rooms>,
}

#[derive(Default)]
struct Rooms {
    by_sid: HashMap<String, Arc<Room>>,
    /// (account, friendly name) → the live room's SID.
    by_name: HashMap<(String, String), String>,
}

pub struct Room {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    node: Arc<Node>,
    phase: watch::Sender<Phase>,
    /// Cancelled when the room leaves its waiting phase: the wait music stops.
    begun: CancellationToken,
    state: Mutex<RoomState>,
}

#[derive(Default)]
struct RoomState {
    members: Vec<Member>,
    /// Set by the first participant whose `<Conference>` names one, as Twilio does.
    callback: Option<Callback>,
    sequence: u32,
}

struct Member {
    participant: Participant,
    uuid: String,
    beep: ConferenceBeep,
    /// Cancelled when the REST API removes the participant.
    removed: CancellationToken,
    /// Cancelled when the participant's wait music must stop (the room
    /// begins, or the participant is removed).
    released: CancellationToken,
}

struct Callback {
    url: String,
    method: Method,
    events: Vec<ConferenceEvent>,
    queue: mpsc::Sender<webhook::Request>,
}

impl Conferences {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A live room of `account_sid`'s, by SID.
    pub fn room(&self, account_sid: &str, sid: &str) -> Option<Arc<Room>> {
        self.lock()
            .by_sid
            .get(sid)
            .filter(|room| room.account_sid == account_sid)
            .cloned()
    }

    /// The live room called `name`, created on `node` if there is none; and
    /// whether it was created.
    fn enter(&self, account_sid: &str, name: &str, node: &Arc<Node>) -> (Arc<Room>, bool) {
        let mut rooms = self.lock();
        let key = (account_sid.to_owned(), name.to_owned());
        if let Some(room) = rooms
            .by_name
            .get(&key)
            .and_then(|sid| rooms.by_sid.get(sid))
        {
            return (room.clone(), false);
        }
        let room = Arc::new(Room {
            sid: Sid::new(Kind::Conference).to_string(),
            account_sid: account_sid.to_owned(),
            friendly_name: name.to_owned(),
            node: node.clone(),
            phase: watch::Sender::new(Phase::Waiting),
            begun: CancellationToken::new(),
            state: Mutex::new(RoomState::default()),
        });
        rooms.by_name.insert(key, room.sid.clone());
        rooms.by_sid.insert(room.sid.clone(), room.clone());
        (room, true)
    }

    fn remove(&self, room: &Room) {
        let mut rooms = self.lock();
        rooms.by_sid.remove(&room.sid);
        let key = (room.account_sid.clone(), room.friendly_name.clone());
        if rooms.by_name.get(&key) == Some(&room.sid) {
            rooms.by_name.remove(&key);
        }
    }
}

impl Room {
    fn lock(&self) -> std::sync::MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// The room's command on its node; `+OK`-less answers are errors.
    async fn command(&self, args: &str) -> Result<String, ConferenceError> {
        let reply = self
            .node
            .client
            .api(&format!("conference {} {args}", self.sid))
            .await
            .map_err(|e| ConferenceError::Node(e.to_string()))?;
        if reply.starts_with("-ERR") || reply.contains("not found") {
            return Err(ConferenceError::Node(reply.trim().to_owned()));
        }
        Ok(reply)
    }

    /// mod_conference's member ID of a channel, from the room's member list.
    async fn member_id(&self, uuid: &str) -> Option<u64> {
        let list = self.command("json_list").await.ok()?;
        let value: serde_json::Value = serde_json::from_str(list.trim()).ok()?;
        find_member(&value, uuid)
    }

    /// A member's flag changed on the switch (`mute`, `unmute`, `hold`, `unhold`).
    async fn member_command(&self, uuid: &str, command: &str) -> Result<(), ConferenceError> {
        let id = self
            .member_id(uuid)
            .await
            .ok_or(ConferenceError::NotParticipant)?;
        self.command(&format!("{command} {id}")).await.map(|_| ())
    }

    /// Queues a statusCallback for `event` if the room's subscriber wants it.
    fn report(
        &self,
        kind: ConferenceEvent,
        event: &str,
        participant: Option<&Participant>,
        extra: Vec<(String, String)>,
    ) {
        let mut state = self.lock();
        state.sequence += 1;
        let sequence = state.sequence;
        let Some(callback) = state.callback.as_ref().filter(|c| c.events.contains(&kind)) else {
            return;
        };
        let mut params: Vec<(String, String)> = vec![
            ("AccountSid".into(), self.account_sid.clone()),
            ("ConferenceSid".into(), self.sid.clone()),
            ("FriendlyName".into(), self.friendly_name.clone()),
            ("StatusCallbackEvent".into(), event.into()),
            ("SequenceNumber".into(), sequence.to_string()),
            ("Timestamp".into(), crate::api::rfc2822(now_millis())),
        ];
        if let Some(p) = participant {
            params.extend([
                ("CallSid".into(), p.call_sid.clone()),
                ("Muted".into(), p.muted.to_string()),
                ("Hold".into(), p.hold.to_string()),
                ("Coaching".into(), "false".into()),
                (
                    "EndConferenceOnExit".into(),
                    p.end_conference_on_exit.to_string(),
                ),
                (
                    "StartConferenceOnEnter".into(),
                    p.start_conference_on_enter.to_string(),
                ),
            ]);
            if let Some(label) = &p.label {
                params.push(("ParticipantLabel".into(), label.clone()));
            }
        }
        params.extend(extra);
        let request = webhook::Request {
            url: callback.url.clone(),
            method: callback.method,
            params,
        };
        if callback.queue.try_send(request).is_err() {
            tracing::warn!(conference = %self.sid, "conference callback queue full; callback dropped");
        }
    }

    /// Starts the room if it is waiting: its waiting participants go in.
    async fn start(&self, router: &Inner) {
        let started = self.phase.send_if_modified(|phase| {
            let waiting = *phase == Phase::Waiting;
            if waiting {
                *phase = Phase::Started;
            }
            waiting
        });
        if !started {
            return;
        }
        self.begun.cancel();
        if let Err(e) = router
            .store
            .set_conference_status(&self.sid, "in-progress", None, None)
            .await
        {
            tracing::error!(conference = %self.sid, error = %e, "cannot record a conference's start");
        }
        self.report(ConferenceEvent::Start, "conference-start", None, Vec::new());
    }

    /// Ends the room: everyone still in it leaves (and goes on with their
    /// documents), and it is recorded `completed` with why.
    pub async fn end(&self, router: &Inner, reason: &str, ended_by: Option<&str>) {
        let ended = self.phase.send_if_modified(|phase| {
            let live = *phase != Phase::Ended;
            *phase = Phase::Ended;
            live
        });
        if !ended {
            return;
        }
        self.begun.cancel();
        router.conferences.remove(self);
        if let Err(e) = router
            .store
            .set_conference_status(&self.sid, "completed", Some(reason), ended_by)
            .await
        {
            tracing::error!(conference = %self.sid, error = %e, "cannot record a conference's end");
        }
        let mut extra = vec![("ReasonConferenceEnded".to_owned(), reason.to_owned())];
        if let Some(call) = ended_by {
            extra.push(("CallSidEndingConference".into(), call.to_owned()));
        }
        self.report(ConferenceEvent::End, "conference-end", None, extra);
        // An empty room is already gone from the switch.
        let _ = self.command("kick all").await;
    }

    /// Mutes or holds a participant (the REST API's Participant update).
    pub async fn update(
        &self,
        router: &Inner,
        call_sid: &str,
        muted: Option<bool>,
        hold: Option<bool>,
    ) -> Result<Participant, ConferenceError> {
        let (uuid, mut participant) = self
            .member(call_sid)
            .ok_or(ConferenceError::NotParticipant)?;
        let changes = [
            (
                muted,
                participant.muted,
                "mute",
                "unmute",
                ConferenceEvent::Mute,
            ),
            (
                hold,
                participant.hold,
                "hold",
                "unhold",
                ConferenceEvent::Hold,
            ),
        ];
        for (wanted, now, on, off, kind) in changes {
            let Some(wanted) = wanted.filter(|w| *w != now) else {
                continue;
            };
            let command = if wanted { on } else { off };
            // A participant still hearing the wait music is not in the switch's room yet.
            if self.phase() == Phase::Started {
                self.member_command(&uuid, command).await?;
            }
            match kind {
                ConferenceEvent::Mute => participant.muted = wanted,
                _ => participant.hold = wanted,
            }
            if let Some(member) = self
                .lock()
                .members
                .iter_mut()
                .find(|m| m.participant.call_sid == call_sid)
            {
                member.participant.muted = participant.muted;
                member.participant.hold = participant.hold;
            }
            let event = format!("participant-{command}");
            self.report(kind, &event, Some(&participant), Vec::new());
        }
        if let Err(e) = router
            .store
            .set_participant(&self.sid, call_sid, participant.muted, participant.hold)
            .await
        {
            tracing::error!(conference = %self.sid, error = %e, "cannot record a participant's change");
        }
        Ok(participant)
    }

    /// Takes a participant out of the room (the REST API's Participant
    /// delete); its call goes on with its document.
    pub async fn kick(&self, call_sid: &str) -> Result<(), ConferenceError> {
        let uuid = {
            let state = self.lock();
            let member = state
                .members
                .iter()
                .find(|m| m.participant.call_sid == call_sid)
                .ok_or(ConferenceError::NotParticipant)?;
            member.removed.cancel();
            member.released.cancel();
            member.uuid.clone()
        };
        if self.phase() == Phase::Started {
            if let Some(id) = self.member_id(&uuid).await {
                self.command(&format!("kick {id}")).await?;
            }
        }
        Ok(())
    }

    fn member(&self, call_sid: &str) -> Option<(String, Participant)> {
        self.lock()
            .members
            .iter()
            .find(|m| m.participant.call_sid == call_sid)
            .map(|m| (m.uuid.clone(), m.participant.clone()))
    }

    /// Whether anyone else hears a beep for `beep` now (enter or exit).
    fn beeps(&self, beep: ConferenceBeep, entering: bool) -> bool {
        let wanted = match beep {
            ConferenceBeep::True => true,
            ConferenceBeep::False => false,
            ConferenceBeep::OnEnter => entering,
            ConferenceBeep::OnExit => !entering,
        };
        wanted && self.phase() == Phase::Started && self.lock().members.len() > 1
    }
}

/// Finds `{"uuid": uuid, "id": N}` anywhere in mod_conference's json_list.
fn find_member(value: &serde_json::Value, uuid: &str) -> Option<u64> {
    match value {
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_member(v, uuid)),
        serde_json::Value::Object(map) => {
            if map.get("uuid").and_then(|u| u.as_str()) == Some(uuid) {
                if let Some(id) = map.get("id").and_then(|id| id.as_u64()) {
                    return Some(id);
                }
            }
            map.values().find_map(|v| find_member(v, uuid))
        }
        _ => None,
    }
}

/// `<Dial><Conference>`: the caller joins the room, hearing the wait music
/// until it starts, and stays until it leaves, is removed or the room ends.
pub async fn join(
    session: &mut Session,
    dial: &twiml::Dial,
    conference: &twiml::Conference,
) -> Result<Next, Interrupt> {
    let name = conference.name.trim();
    if name.is_empty() {
        let message = "Conference: the room needs a name";
        session.notify(12200, message, None, None, false).await;
        return Ok(Next::End);
    }
    session.answer().await?;
    let router = session.router.clone();
    let account_sid = session.call.account_sid.clone();
    let (room, created) = router.conferences.enter(&account_sid, name, &session.node);
    if created {
        let region = conference.region().cloned().unwrap_or_else(|| "us1".into());
        if let Err(e) = router
            .store
            .insert_conference(&room.sid, &account_sid, name, &region)
            .await
        {
            tracing::error!(conference = %room.sid, error = %e, "cannot record a conference");
        }
    }
    if room.node.name != session.node.name {
        let message = format!(
            "Conference {name}: the room is on media node {} and this call is on {}; \
             conferences across nodes are not supported yet",
            room.node.name, session.node.name
        );
        session.notify(12200, &message, None, None, false).await;
        return Ok(Next::Continue);
    }
    let participant = Participant {
        call_sid: session.call.sid.clone(),
        conference_sid: room.sid.clone(),
        account_sid: account_sid.clone(),
        label: conference.participant_label().cloned(),
        muted: conference.muted(),
        hold: false,
        start_conference_on_enter: conference.start_conference_on_enter(),
        end_conference_on_exit: conference.end_conference_on_exit(),
    };
    let removed = CancellationToken::new();
    let released = room.begun.child_token();
    let admitted = {
        let mut state = room.lock();
        if state.members.len() >= conference.max_participants() as usize {
            false
        } else {
            if state.callback.is_none() {
                state.callback = callback(session, conference);
            }
            state.members.push(Member {
                participant: participant.clone(),
                uuid: session.uuid.clone(),
                beep: conference.beep(),
                removed: removed.clone(),
                released: released.clone(),
            });
            true
        }
    };
    if !admitted {
        let message = format!(
            "Conference {name} is full ({} participants)",
            conference.max_participants()
        );
        session.notify(12200, &message, None, None, true).await;
        return Ok(Next::Continue);
    }
    if let Err(e) = router.store.insert_participant(&participant).await {
        tracing::error!(conference = %room.sid, error = %e, "cannot record a participant");
    }
    room.report(
        ConferenceEvent::Join,
        "participant-join",
        Some(&participant),
        Vec::new(),
    );
    let data = participant_data(&room, &participant);
    session
        .publish(events::CONFERENCE_PARTICIPANT_JOINED, data)
        .await;
    if participant.start_conference_on_enter {
        room.start(&router).await;
    }
    let outcome = Box::pin(attend(
        session,
        &room,
        conference,
        &participant,
        &removed,
        &released,
    ))
    .await;
    leave(session, &room, &participant).await;
    outcome?;
    match dial.action() {
        Some(action) => match verbs::action_request(
            session,
            Some(action),
            dial.method(),
            vec![("DialCallStatus".into(), "completed".into())],
        ) {
            Some(request) => Ok(verbs::goto(request)),
            None => verbs::bad_url(session, "Dial action", action).await,
        },
        None => Ok(Next::Continue),
    }
}

/// The statusCallback a participant's `<Conference>` asks for, with its own
/// ordered delivery queue.
fn callback(session: &Session, conference: &twiml::Conference) -> Option<Callback> {
    let url = session.resolve(conference.status_callback()?.trim())?;
    let (queue, mut requests) = mpsc::channel::<webhook::Request>(64);
    let webhooks = session.router.webhooks.clone();
    let token = session.auth_token.clone();
    session.router.tracker.spawn(async move {
        while let Some(request) = requests.recv().await {
            if let Err(e) = webhooks.send(&request, &token).await {
                tracing::warn!(error = %e, "conference status callback failed");
            }
        }
    });
    Some(Callback {
        url,
        method: verbs::method(conference.status_callback_method()),
        // Without statusCallbackEvent, the room's start and end are reported.
        events: conference
            .status_callback_event()
            .cloned()
            .unwrap_or_else(|| vec![ConferenceEvent::Start, ConferenceEvent::End]),
        queue,
    })
}

/// In the room until the caller leaves it: wait music first if it has not started.
async fn attend(
    session: &mut Session,
    room: &Room,
    conference: &twiml::Conference,
    participant: &Participant,
    removed: &CancellationToken,
    released: &CancellationToken,
) -> Result<(), Interrupt> {
    if room.phase() == Phase::Waiting {
        // Twilio's default waitUrl is its hosted hold music: the node's own plays.
        let url = match conference.wait_url() {
            u if u == twiml::DEFAULT_CONFERENCE_WAIT_URL => None,
            u => Some(session.resolve(u.trim()).unwrap_or_default()),
        };
        let sid = room.sid.clone();
        let name = room.friendly_name.clone();
        let params = move || {
            vec![
                ("ConferenceSid".to_owned(), sid.clone()),
                ("FriendlyName".to_owned(), name.clone()),
            ]
        };
        let music = Hold {
            url,
            method: verbs::method(conference.wait_method()),
            what: "Conference waitUrl",
            params: &params,
            released,
            may_leave: false,
        };
        hold::hold(session, music).await?;
        session
            .api(&format!("uuid_break {} all", session.uuid))
            .await;
    }
    if room.phase() == Phase::Ended || removed.is_cancelled() {
        return Ok(());
    }
    let flags = if participant.muted {
        "+flags{mute}"
    } else {
        ""
    };
    let beep = room
        .lock()
        .members
        .iter()
        .find(|m| m.participant.call_sid == participant.call_sid)
        .map(|m| m.beep)
        .unwrap_or(ConferenceBeep::False);
    if room.beeps(beep, true) {
        let _ = room.command(&format!("play {BEEP}")).await;
    }
    let arg = format!("{}@{PROFILE}{flags}", room.sid);
    let inside = session.execute("conference", Some(&arg)).await;
    if let Err(Interrupt::Redirect(_) | Interrupt::End(_)) = &inside {
        // The REST API took the call elsewhere: out of the room first.
        if let Some(id) = room.member_id(&session.uuid).await {
            let _ = room.command(&format!("kick {id}")).await;
        }
    }
    inside.map(|_| ())
}

/// A participant as the event router describes it.
fn participant_data(room: &Room, participant: &Participant) -> serde_json::Value {
    serde_json::json!({
        "conference_sid": room.sid,
        "friendly_name": room.friendly_name,
        "call_sid": participant.call_sid,
        "muted": participant.muted,
        "hold": participant.hold,
        "label": participant.label,
    })
}

/// The participant is out: the room reports it, and ends when this was the
/// last one in or one whose exit ends it.
async fn leave(session: &Session, room: &Room, participant: &Participant) {
    let router = &session.router;
    let (remaining, beep, now) = {
        let mut state = room.lock();
        let at = state
            .members
            .iter()
            .position(|m| m.participant.call_sid == participant.call_sid);
        let member = at.map(|i| state.members.remove(i));
        (
            state.members.len(),
            member.as_ref().map(|m| m.beep),
            member.map(|m| m.participant),
        )
    };
    let participant = now.unwrap_or_else(|| participant.clone());
    if let Err(e) = router
        .store
        .delete_participant(&room.sid, &participant.call_sid)
        .await
    {
        tracing::error!(conference = %room.sid, error = %e, "cannot record a participant leaving");
    }
    room.report(
        ConferenceEvent::Leave,
        "participant-leave",
        Some(&participant),
        Vec::new(),
    );
    let data = participant_data(room, &participant);
    session
        .publish(events::CONFERENCE_PARTICIPANT_LEFT, data)
        .await;
    if remaining == 0 {
        room.end(router, "last-participant-left", Some(&participant.call_sid))
            .await;
    } else if participant.end_conference_on_exit {
        let reason = "participant-with-end-conference-on-exit-left";
        room.end(router, reason, Some(&participant.call_sid)).await;
    } else if let Some(beep) = beep {
        if matches!(beep, ConferenceBeep::True | ConferenceBeep::OnExit)
            && room.phase() == Phase::Started
        {
            let _ = room.command(&format!("play {BEEP}")).await;
        }
    }
}
