//! The call router: for every call, fetch instructions from the application,
//! execute them verb by verb on a media node over ESL, post results back,
//! and record everything.
//!
//! Each call is one task ([`session::Session`]) that owns its channel. The
//! node's dispatcher feeds it the channel's events; the REST API reaches it
//! through a [`Control`] channel.

mod conference;
mod dial;
mod documents;
mod hold;
mod node;
mod queue;
mod recording;
mod relay;
mod session;
mod verbs;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use conference::{ConferenceError, Conferences, Room};
pub use node::Node;
pub use queue::{Member, Queues};
use recording::Tape;
pub use relay::Change;
use session::{Interrupt, Session};

use crate::config::EslNode;
use crate::events::{event as events, Event, Publisher};
use crate::media::Media;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Call, CallStatus, Store};
use crate::webhook::{Method, Webhooks};

/// Where a call's next instructions come from.
#[derive(Debug, Clone)]
pub enum Instructions {
    /// Request this URL (with the call's parameters) for a document.
    Fetch {
        url: String,
        method: Method,
        fallback: Option<(String, Method)>,
        /// Parameters sent beside the call's own (a verb's results: Digits …).
        extra: Vec<(String, String)>,
    },
    /// A document given inline (the REST API's `Twiml` parameter).
    Inline(String),
}

/// What the REST API asks of a live call.
#[derive(Debug)]
pub enum Control {
    Redirect(Instructions),
    /// Hang up (`completed`) or, before answer, cancel (`canceled`).
    End(CallStatus),
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("no media node is connected")]
    NoNode,
    #[error("media node {node}: {source}")]
    Node { node: String, source: esl::Error },
    #[error("call {0} is not in progress")]
    NotLive(String),
}

/// The call router, cheap to clone.
#[derive(Clone)]
pub struct CallRouter {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub store: Store,
    pub webhooks: Webhooks,
    /// Where the call's events go: `events.publish(Event { … })`.
    pub events: Publisher,
    pub media: Arc<Media>,
    nodes: Mutex<Vec<Arc<Node>>>,
    /// Each live call's control queue. Boxed: a queue's first block holds 32
    /// messages whether or not any come.
    live: Mutex<HashMap<String, mpsc::Sender<Box<Control>>>>,
    /// With Redis: controls for calls other instances run.
    relay: std::sync::OnceLock<Arc<relay::Relay>>,
    pub conferences: Conferences,
    pub queues: Queues,
    dial_template: String,
    pub public_url: url::Url,
    pub recordings_dir: PathBuf,
    pub tracker: TaskTracker,
    /// Time from the switch waking a call to its next command.
    pub reaction: prometheus_client::metrics::histogram::Histogram,
    /// Cancelled at shutdown: every call hangs up and every task ends.
    pub token: CancellationToken,
    parked: mpsc::Sender<node::Parked>,
}

/// What the router needs from the rest of Switchboard.
pub struct RouterConfig {
    pub store: Store,
    pub webhooks: Webhooks,
    /// The event router's publisher.
    pub events: Publisher,
    /// Where Play and Say audio comes from.
    pub media: Arc<Media>,
    pub dial_template: String,
    pub public_url: url::Url,
    pub recordings_dir: PathBuf,
}

impl CallRouter {
    pub fn new(config: RouterConfig) -> CallRouter {
        let (parked, mut parked_rx) = mpsc::channel(256);
        let inner = Arc::new(Inner {
            store: config.store,
            webhooks: config.webhooks,
            events: config.events,
            media: config.media,
            nodes: Mutex::new(Vec::new()),
            live: Mutex::new(HashMap::new()),
            relay: std::sync::OnceLock::new(),
            conferences: Conferences::default(),
            queues: Queues::default(),
            dial_template: config.dial_template,
            public_url: config.public_url,
            recordings_dir: config.recordings_dir,
            tracker: TaskTracker::new(),
            // 1 µs to about a second, 25 % apart.
            reaction: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.000001, 1.25, 62),
            ),
            token: CancellationToken::new(),
            parked,
        });
        let router = CallRouter { inner };
        let inbound = router.clone();
        let token = router.inner.token.clone();
        router.inner.tracker.spawn(async move {
            loop {
                let (node, event) = tokio::select! {
                    parked = parked_rx.recv() => match parked {
                        Some(parked) => parked,
                        None => return,
                    },
                    () = token.cancelled() => return,
                };
                let router = inbound.clone();
                inbound
                    .inner
                    .tracker
                    .spawn(async move { router.inbound(node, event).await });
            }
        });
        router
    }

    /// Connects to a media node and starts following its events.
    pub async fn add_node(&self, node: &EslNode) -> Result<(), RouterError> {
        let name = format!("{}:{}", node.host, node.port);
        let (connected, events) = Node::connect(name.clone(), name.clone(), node.password.clone())
            .await
            .map_err(|source| RouterError::Node {
                node: name.clone(),
                source,
            })?;
        let parked = self.inner.parked.clone();
        let token = self.inner.token.clone();
        let dispatcher = connected.clone();
        let publisher = self.inner.events.clone();
        self.inner.tracker.spawn(async move {
            tokio::select! {
                () = dispatcher.dispatch(events, parked, publisher) => {}
                () = token.cancelled() => {}
            }
        });
        self.inner.lock_nodes().push(connected);
        tracing::info!(node = %name, "media node connected");
        Ok(())
    }

    /// The reaction-time histogram, for `/metrics`.
    pub fn reaction(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.inner.reaction.clone()
    }

    /// The connected nodes' names.
    pub fn nodes(&self) -> Vec<String> {
        self.inner
            .lock_nodes()
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// Starts an outbound call already stored as `queued`.
    pub fn place(
        &self,
        call: Call,
        auth_token: String,
        instructions: Instructions,
    ) -> Result<(), RouterError> {
        let node = self.inner.pick_node().ok_or(RouterError::NoNode)?;
        let control = self.inner.register(&call.sid);
        let uuid = uuid::Uuid::new_v4().to_string();
        let session = Session::new(self.inner.clone(), call, auth_token, node, uuid, control);
        self.inner.tracker.spawn(outbound(session, instructions));
        Ok(())
    }

    /// Sends `control` to a live call: here, or through the relay on the
    /// instance that runs it.
    pub async fn control(&self, call_sid: &str, control: Control) -> Result<(), RouterError> {
        if self.live_control(call_sid).is_some() || self.inner.relay.get().is_none() {
            return self.control_here(call_sid, control).await;
        }
        let command = relay::Command::Call {
            call_sid: call_sid.to_owned(),
            control: relay::Wire::from(&control),
        };
        match self.relayed(command).await {
            Some(relay::Outcome::Done) => Ok(()),
            _ => Err(RouterError::NotLive(call_sid.to_owned())),
        }
    }

    /// Hands `command` to the instance that runs its call or holds its room.
    async fn relayed(&self, command: relay::Command) -> Option<relay::Outcome> {
        self.inner.relay.get()?.ask(command).await
    }

    /// Carries out a command another instance relayed, when this one runs
    /// its call or holds its room (else `None`: another instance answers).
    async fn carry_out_here(&self, command: relay::Command) -> Option<relay::Outcome> {
        use relay::{Command, Outcome};
        match command {
            Command::Call { call_sid, control } => {
                let control = control.into_control()?;
                self.control_here(&call_sid, control).await.ok()?;
                Some(Outcome::Done)
            }
            Command::EndConference {
                account_sid,
                conference_sid,
            } => {
                let room = self.conference(&account_sid, &conference_sid)?;
                self.end_here(&room).await;
                Some(Outcome::Done)
            }
            Command::Participant {
                account_sid,
                conference_sid,
                call_sid,
                change,
            } => {
                let room = self.conference(&account_sid, &conference_sid)?;
                Some(match self.change_here(&room, &call_sid, change).await {
                    Ok(()) => Outcome::Done,
                    Err(ConferenceError::Node(reason)) => Outcome::Refused(reason),
                    Err(_) => Outcome::NotParticipant,
                })
            }
        }
    }

    /// Relays controls for calls this instance does not run to the one that
    /// does, and runs those relayed to it, through Redis.
    pub fn relay_through(&self, client: redis::Client, conn: redis::aio::ConnectionManager) {
        let relay = Arc::new(relay::Relay::new(client, conn));
        if self.inner.relay.set(relay.clone()).is_ok() {
            self.inner.tracker.spawn(relay.listen(self.clone()));
        }
    }

    fn live_control(&self, call_sid: &str) -> Option<mpsc::Sender<Box<Control>>> {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(call_sid)
            .cloned()
    }

    /// Hands `control` to a call this instance runs.
    async fn control_here(&self, call_sid: &str, control: Control) -> Result<(), RouterError> {
        let tx = self.live_control(call_sid);
        match tx {
            Some(tx) => tx
                .send(Box::new(control))
                .await
                .map_err(|_| RouterError::NotLive(call_sid.to_owned())),
            None => Err(RouterError::NotLive(call_sid.to_owned())),
        }
    }

    /// A live conference of the account's.
    pub fn conference(&self, account_sid: &str, sid: &str) -> Option<Arc<Room>> {
        self.inner.conferences.room(account_sid, sid)
    }

    /// Ends a live conference (the REST API's `Status=completed`), here or
    /// on the instance that holds it; whether one did.
    pub async fn end_conference(&self, account_sid: &str, sid: &str) -> bool {
        if let Some(room) = self.conference(account_sid, sid) {
            self.end_here(&room).await;
            return true;
        }
        let command = relay::Command::EndConference {
            account_sid: account_sid.to_owned(),
            conference_sid: sid.to_owned(),
        };
        self.relayed(command).await == Some(relay::Outcome::Done)
    }

    async fn end_here(&self, room: &Room) {
        room.end(&self.inner, "conference-ended-via-api", None)
            .await;
    }

    /// Mutes, holds or removes a participant of a live conference, here or
    /// on the instance that holds the room.
    pub async fn change_participant(
        &self,
        account_sid: &str,
        conference_sid: &str,
        call_sid: &str,
        change: Change,
    ) -> Result<(), ConferenceError> {
        if let Some(room) = self.conference(account_sid, conference_sid) {
            return self.change_here(&room, call_sid, change).await;
        }
        let command = relay::Command::Participant {
            account_sid: account_sid.to_owned(),
            conference_sid: conference_sid.to_owned(),
            call_sid: call_sid.to_owned(),
            change,
        };
        match self.relayed(command).await {
            Some(relay::Outcome::Done) => Ok(()),
            Some(relay::Outcome::NotParticipant) => Err(ConferenceError::NotParticipant),
            Some(relay::Outcome::Refused(reason)) => Err(ConferenceError::Node(reason)),
            None => Err(ConferenceError::NotLive),
        }
    }

    async fn change_here(
        &self,
        room: &Room,
        call_sid: &str,
        change: Change,
    ) -> Result<(), ConferenceError> {
        match change {
            Change::Update { muted, hold } => room
                .update(&self.inner, call_sid, muted, hold)
                .await
                .map(|_| ()),
            Change::Kick => room.kick(call_sid).await,
        }
    }

    /// Who waits in a queue now, front first.
    pub fn queue_members(&self, queue_sid: &str) -> Vec<Member> {
        self.inner.queues.members(queue_sid)
    }

    /// The average wait of a queue's callers so far, in seconds.
    pub fn queue_average_wait(&self, queue_sid: &str) -> i64 {
        self.inner.queues.average_wait_secs(queue_sid)
    }

    /// Takes a caller (`None`: the front one) out of a queue to new instructions.
    pub fn dequeue(
        &self,
        queue_sid: &str,
        call_sid: Option<&str>,
        instructions: Instructions,
    ) -> Option<Member> {
        self.inner
            .queues
            .redirect(queue_sid, call_sid, instructions)
    }

    /// Stops every call task and node connection, waiting for them to end.
    pub async fn shutdown(&self) {
        self.inner.token.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// A call parked by a node's dialplan: find the number's application and run it.
    async fn inbound(&self, node: Arc<Node>, event: esl::Event) {
        let Some(uuid) = event.unique_id().map(|u| u.into_owned()) else {
            return;
        };
        let to = event
            .header("Caller-Destination-Number")
            .map(|v| v.into_owned())
            .unwrap_or_default();
        let from = event
            .header("Caller-Caller-ID-Number")
            .map(|v| v.into_owned())
            .unwrap_or_default();
        let store = &self.inner.store;
        let mut number = store.incoming_number(&to).await;
        if matches!(number, Ok(None)) && !to.starts_with('+') {
            number = store.incoming_number(&format!("+{to}")).await;
        }
        let row = match number {
            Ok(Some(row)) => row,
            Ok(None) => {
                tracing::warn!(node = %node.name, %uuid, %to, %from, "inbound call to a number no account owns: rejected");
                // No account owns it: logged, and delivered to no tenant.
                self.inner
                    .events
                    .publish(Event {
                        kind: events::CALL_REJECTED,
                        account_sid: String::new(),
                        call_sid: None,
                        data: serde_json::json!({
                            "from": from,
                            "to": to,
                            "reason": "unallocated-number",
                            "node": node.name,
                            "channel_uuid": uuid,
                        }),
                    })
                    .await;
                let _ = node
                    .client
                    .api(&format!("uuid_kill {uuid} UNALLOCATED_NUMBER"))
                    .await;
                return;
            }
            Err(e) => {
                tracing::error!(%uuid, error = %e, "cannot look up an inbound number");
                let _ = node
                    .client
                    .api(&format!("uuid_kill {uuid} TEMPORARY_FAILURE"))
                    .await;
                return;
            }
        };
        match self
            .take_inbound(node.clone(), &uuid, &from, &to, &event, &row)
            .await
        {
            Ok(()) => {}
            Err(e) => {
                tracing::error!(%uuid, error = %e, "cannot take an inbound call");
                let _ = node
                    .client
                    .api(&format!("uuid_kill {uuid} TEMPORARY_FAILURE"))
                    .await;
            }
        }
    }

    async fn take_inbound(
        &self,
        node: Arc<Node>,
        uuid: &str,
        from: &str,
        to: &str,
        event: &esl::Event,
        row: &sqlx::any::AnyRow,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use sqlx::Row;
        let text = |column: &str| -> Result<Option<String>, sqlx::Error> {
            row.try_get::<Option<String>, _>(column)
        };
        // A number bound to an application takes the application's settings.
        let app = text("voice_application_sid")?;
        let pick = |own: &str, app_column: &str| -> Result<Option<String>, sqlx::Error> {
            if app.is_some() {
                text(app_column)
            } else {
                text(own)
            }
        };
        let account_sid: String = row.try_get("account_sid")?;
        let account = self
            .inner
            .store
            .account(&account_sid)
            .await?
            .ok_or("the number's account is gone")?;
        let now = now_millis();
        let call = Call {
            sid: Sid::new(Kind::Call).to_string(),
            account_sid,
            parent_call_sid: None,
            direction: "inbound".into(),
            from: from.to_owned(),
            to: to.to_owned(),
            caller_name: event
                .header("Caller-Caller-ID-Name")
                .map(|v| v.into_owned())
                .filter(|n| n != from),
            forwarded_from: None,
            status: CallStatus::Ringing,
            answered_by: None,
            phone_number_sid: Some(row.try_get("sid")?),
            application_sid: app.clone(),
            url: pick("voice_url", "app_voice_url")?,
            method: pick("voice_method", "app_voice_method")?.unwrap_or_else(|| "POST".into()),
            fallback_url: pick("voice_fallback_url", "app_voice_fallback_url")?,
            fallback_method: pick("voice_fallback_method", "app_voice_fallback_method")?
                .unwrap_or_else(|| "POST".into()),
            twiml: None,
            status_callback: pick("status_callback", "app_status_callback")?,
            status_callback_method: pick("status_callback_method", "app_status_callback_method")?
                .unwrap_or_else(|| "POST".into()),
            // Twilio reports completion to a number's StatusCallback.
            status_callback_events: "completed".into(),
            timeout_secs: 60,
            node: Some(node.name.clone()),
            channel_uuid: Some(uuid.to_owned()),
            start_time: None,
            end_time: None,
            duration: None,
            date_created: now,
            date_updated: now,
            send_digits: None,
            record: None,
            time_limit_secs: None,
        };
        self.inner.store.insert_call(&call).await?;
        let control = self.inner.register(&call.sid);
        // Every later event of the channel names its call and tenant.
        node.client
            .api_ok(&format!("uuid_setvar {uuid} sb_call_sid {}", call.sid))
            .await?;
        node.client
            .api_ok(&format!(
                "uuid_setvar {uuid} sb_account_sid {}",
                call.account_sid
            ))
            .await?;
        let instructions = match &call.url {
            Some(url) => Instructions::Fetch {
                url: url.clone(),
                method: Method::parse(Some(&call.method)),
                fallback: call
                    .fallback_url
                    .clone()
                    .map(|f| (f, Method::parse(Some(&call.fallback_method)))),
                extra: Vec::new(),
            },
            None => Instructions::Inline("<Response><Reject/></Response>".into()),
        };
        let session = Session::new(
            self.inner.clone(),
            call,
            account.auth_token,
            node,
            uuid.to_owned(),
            control,
        );
        self.inner.tracker.spawn(inbound(session, instructions));
        Ok(())
    }
}

impl Inner {
    fn lock_nodes(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Node>>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The least loaded node.
    fn pick_node(&self) -> Option<Arc<Node>> {
        self.lock_nodes().iter().min_by_key(|n| n.load()).cloned()
    }

    fn register(&self, call_sid: &str) -> mpsc::Receiver<Box<Control>> {
        let (tx, rx) = mpsc::channel(8);
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call_sid.to_owned(), tx);
        rx
    }

    fn unregister(&self, call_sid: &str) {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_sid);
    }

    /// The dial string that reaches `number` through the configured trunk.
    pub fn dial_string(&self, number: &str) -> String {
        self.dial_template.replace("{number}", number)
    }
}

/// The status a call ends with when it was never answered.
fn unanswered_status(cause: &str) -> CallStatus {
    match cause {
        "USER_BUSY" => CallStatus::Busy,
        "NO_ANSWER" | "NO_USER_RESPONSE" | "ORIGINATOR_CANCEL" | "CALL_REJECTED"
        | "ALLOTTED_TIMEOUT" => CallStatus::NoAnswer,
        _ => CallStatus::Failed,
    }
}

/// An API-placed call's life: originate, follow it to answer, run its
/// instructions, record how it ended. The task owns the session and each
/// step, boxed, borrows it: a call waiting in one step holds that step's
/// state only, not the largest state of all steps.
async fn outbound(mut session: Session, instructions: Instructions) {
    let ended = match Box::pin(originate(&mut session)).await {
        Some(unanswered) => Some(unanswered),
        None => {
            Box::pin(answered_options(&mut session)).await;
            Box::pin(run(&mut session, instructions)).await
        }
    };
    Box::pin(finish(&mut session, ended)).await;
}

/// Originates the call and follows it until it answers (`None`) or ends
/// unanswered (its status).
async fn originate(session: &mut Session) -> Option<CallStatus> {
    let call = session.call.clone();
    let mut vars = vec![
        format!("origination_uuid={}", session.uuid),
        format!("sb_call_sid={}", call.sid),
        format!("sb_account_sid={}", call.account_sid),
        format!("origination_caller_id_number={}", call.from),
        format!("origination_caller_id_name={}", call.from),
        format!("originate_timeout={}", call.timeout_secs),
        "ignore_early_media=true".into(),
        // Switchboard decides when digits stop a prompt, not the switch.
        "playback_terminators=none".into(),
    ];
    // TimeLimit, counted from the answer and kept by the switch: the call
    // ends when its time is up whatever the control plane is doing (or
    // whether it is running at all).
    if let Some(limit) = call.time_limit_secs {
        vars.push(format!(
            "execute_on_answer='sched_hangup +{limit} ALLOTTED_TIMEOUT'"
        ));
    }
    let command = format!(
        "originate {{{}}}{} &park()",
        vars.join(","),
        session.router.dial_string(&call.to)
    );
    if let Err(e) = session
        .router
        .store
        .set_call_channel(&call.sid, &session.node.name, &session.uuid)
        .await
    {
        tracing::error!(call = %call.sid, error = %e, "cannot record the call's channel");
    }
    session
        .publish(events::CALL_INITIATED, session.call_data())
        .await;
    session.status_callback("initiated").await;
    let job = match session.node.client.bgapi(&command).await {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(call = %call.sid, error = %e, "originate not accepted");
            session
                .notify(
                    13227,
                    &format!("The call could not be placed: {e}"),
                    None,
                    None,
                    false,
                )
                .await;
            return Some(CallStatus::Failed);
        }
    };
    let mut job = Box::pin(job);
    let mut ringing = false;
    // Follow the channel until it answers or the originate fails.
    let outcome = loop {
        if session.answered_at.is_some() {
            break None;
        }
        tokio::select! {
            result = &mut job => {
                match result {
                    Ok(event) => {
                        let body = event.body_str().unwrap_or_default().trim().to_owned();
                        if let Some(cause) = body.strip_prefix("-ERR ") {
                            break Some(unanswered_status(cause.trim()));
                        }
                        // +OK: the answer event is on its way (or already taken).
                        session.answered().await;
                    }
                    Err(e) => {
                        tracing::error!(call = %call.sid, error = %e, "originate lost");
                        break Some(CallStatus::Failed);
                    }
                }
            }
            () = session.router.token.cancelled() => {
                let _ = session.node.client.api(&format!("uuid_kill {} ORIGINATOR_CANCEL", session.uuid)).await;
                break Some(CallStatus::Canceled);
            }
            control = session.control.recv() => {
                if let Some(Control::End(_)) = control.map(|c| *c) {
                    let _ = session.node.client.api(&format!("uuid_kill {} ORIGINATOR_CANCEL", session.uuid)).await;
                    break Some(CallStatus::Canceled);
                }
            }
            event = session.events.recv() => {
                match event.event_name().as_deref() {
                    Some("CHANNEL_PROGRESS" | "CHANNEL_PROGRESS_MEDIA") if !ringing => {
                        ringing = true;
                        session.set_status(CallStatus::Ringing).await;
                    }
                    Some("CHANNEL_ANSWER") => session.answered().await,
                    Some("CHANNEL_HANGUP_COMPLETE") => {
                        let cause = event.header("Hangup-Cause").map(|c| c.into_owned()).unwrap_or_default();
                        session.hangup = Some(event);
                        break Some(unanswered_status(&cause));
                    }
                    _ => {}
                }
            }
        }
    };
    // The originate's BACKGROUND_JOB may come after the answer: not waited
    // for, and not kept (it would pin the node's read buffer for the call).
    drop(job);
    outcome
}

/// What the API asked for once its call answers: digits sent to the called
/// party (`SendDigits`), and a recording of the whole call (`Record`).
async fn answered_options(session: &mut Session) {
    if let Some(digits) = session.call.send_digits.clone() {
        session
            .api(&format!("uuid_send_dtmf {} {digits}", session.uuid))
            .await;
    }
    if let Some(options) = session.call.record.clone() {
        // The options were checked when the call was created: Twilio's words.
        let trim = if options.trim {
            twiml::Trim::TrimSilence
        } else {
            twiml::Trim::DoNotTrim
        };
        let events = twiml::RecordingEvent::ALL
            .iter()
            .copied()
            .filter(|e| {
                options
                    .status_callback_events
                    .split(' ')
                    .any(|w| w == e.as_str())
            })
            .collect();
        let method = twiml::Method::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == options.status_callback_method)
            .unwrap_or(twiml::Method::Post);
        let callback = options
            .status_callback
            .as_ref()
            .map(|url| (url, method, events));
        let mut tape = Tape::new(session, "OutboundAPI", trim, callback);
        let track = twiml::RecordingTrack::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == options.track)
            .unwrap_or(twiml::RecordingTrack::Both);
        if tape.start(session, options.channels == 2, track).await {
            session.recording = Some(Box::new(tape));
        }
    }
}

/// A parked inbound call's life: taken over, its instructions run, how it
/// ended recorded (steps boxed as for [`outbound`]).
async fn inbound(mut session: Session, instructions: Instructions) {
    let ended = match Box::pin(take_over(&mut session)).await {
        true => Box::pin(run(&mut session, instructions)).await,
        false => Some(CallStatus::Canceled),
    };
    Box::pin(finish(&mut session, ended)).await;
}

/// Readies a parked channel for its instructions; false if the caller has
/// already hung up.
async fn take_over(session: &mut Session) -> bool {
    session
        .publish(events::CALL_RINGING, session.call_data())
        .await;
    // The caller may have hung up before the call was claimed.
    let exists = session
        .node
        .client
        .api(&format!("uuid_exists {}", session.uuid))
        .await;
    if !matches!(exists.as_deref().map(str::trim), Ok("true")) {
        return false;
    }
    let _ = session
        .node
        .client
        .api(&format!(
            "uuid_setvar {} playback_terminators none",
            session.uuid
        ))
        .await;
    true
}

/// Runs documents until the call ends: `Some` status when the API ended it.
async fn run(session: &mut Session, mut instructions: Instructions) -> Option<CallStatus> {
    loop {
        // Boxed, like every large step of a call: a call waiting in one verb
        // holds only that verb's state, not the largest state of all verbs.
        match Box::pin(documents::run(session, instructions)).await {
            Ok(()) => break None,
            Err(Interrupt::Redirect(next)) => {
                let _ = session
                    .node
                    .client
                    .api(&format!("uuid_break {} all", session.uuid))
                    .await;
                instructions = next;
            }
            Err(Interrupt::End(status)) => break Some(status),
            Err(Interrupt::HungUp) => break None,
        }
    }
}

/// Hangs the channel up if it is still there, waits for the switch to say
/// so, and records the call's final status.
async fn finish(session: &mut Session, status: Option<CallStatus>) {
    if session.hangup.is_none() {
        let cause = match status {
            Some(CallStatus::Canceled) => "ORIGINATOR_CANCEL",
            _ => "NORMAL_CLEARING",
        };
        session
            .api(&format!("uuid_kill {} {cause}", session.uuid))
            .await;
        // The hangup's own event carries billsec; don't wait forever for it,
        // and not at all at shutdown, when the node's events stop.
        let patience = if session.router.token.is_cancelled() {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_secs(5)
        };
        let wait = tokio::time::timeout(patience, async {
            loop {
                let event = session.events.recv().await;
                if event.unique_id().as_deref() == Some(session.uuid.as_str())
                    && event.event_name().as_deref() == Some("CHANNEL_HANGUP_COMPLETE")
                {
                    return event;
                }
            }
        });
        session.hangup = wait.await.ok();
    }
    let final_status = match status {
        Some(CallStatus::Canceled) if session.answered_at.is_some() => CallStatus::Completed,
        Some(status) => status,
        None if session.answered_at.is_some() => CallStatus::Completed,
        None => {
            let cause = session
                .hangup
                .as_ref()
                .and_then(|e| e.header("Hangup-Cause").map(|c| c.into_owned()))
                .unwrap_or_default();
            unanswered_status(&cause)
        }
    };
    // The node closes the whole-call recording when the channel hangs up.
    if let Some(tape) = session.recording.take() {
        tape.keep(session).await;
    }
    session.set_status(final_status).await;
    session.node.release(&session.uuid);
    session.router.unregister(&session.call.sid);
}
