//! One live call: its channel's events, the control messages sent to it, its
//! status changes and their callbacks, and the notifications it raises.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use esl::Event;
use tokio::sync::mpsc;

use super::node::{Mailbox, Node};
use super::recording::Tape;
use super::{Control, Inner, Instructions};
use crate::events::event as events;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Call, CallStatus, Notification};
use crate::webhook::{self, Method};

/// Why the verbs stopped before their end.
#[derive(Debug)]
pub enum Interrupt {
    /// The caller's channel is gone.
    HungUp,
    /// The REST API gave the call new instructions.
    Redirect(Instructions),
    /// The REST API ended the call with this status.
    End(CallStatus),
}

/// A call in progress on one channel of one node.
pub struct Session {
    pub router: Arc<Inner>,
    pub call: Call,
    pub auth_token: String,
    pub node: Arc<Node>,
    pub uuid: String,
    /// The events of the call's channels (its own, and legs it dialled).
    pub events: Mailbox,
    pub control: mpsc::Receiver<Box<Control>>,
    pub answered_at: Option<i64>,
    /// The CHANNEL_HANGUP_COMPLETE of the caller's channel, once seen.
    pub hangup: Option<Event>,
    /// Digits pressed and not consumed yet.
    pub dtmf: VecDeque<char>,
    /// Events of dialled legs, for the Dial in progress.
    pub leg_events: VecDeque<Event>,
    /// Whether the caller's channel is in a bridge (CHANNEL_BRIDGE until CHANNEL_UNBRIDGE).
    pub bridged: bool,
    /// Files of the last recordings the switch reported finished (RECORD_STOP).
    pub stopped_recordings: VecDeque<String>,
    /// The whole-call recording (`Record=true`), once the switch is writing it.
    pub recording: Option<Box<Tape>>,
    /// The document being run, for relative URLs.
    pub document_url: Option<String>,
    /// When the switch last woke this call (an event, an execution's end)
    /// with no command sent since: the start of its reaction time.
    pub woken: Option<std::time::Instant>,
    /// The next StatusCallback's SequenceNumber.
    sequence: u32,
}

impl Session {
    pub fn new(
        router: Arc<Inner>,
        call: Call,
        auth_token: String,
        node: Arc<Node>,
        uuid: String,
        control: mpsc::Receiver<Box<Control>>,
    ) -> Session {
        let events = Mailbox::default();
        node.claim_into(&uuid, events.clone());
        Session {
            router,
            call,
            auth_token,
            node,
            uuid,
            events,
            control,
            answered_at: None,
            hangup: None,
            dtmf: VecDeque::new(),
            leg_events: VecDeque::new(),
            bridged: false,
            stopped_recordings: VecDeque::new(),
            recording: None,
            document_url: None,
            woken: None,
            sequence: 0,
        }
    }

    /// Awaits `future` while following the channel: events are taken in,
    /// and a hangup or an API control interrupts.
    pub async fn wait<F: Future>(&mut self, future: F) -> Result<F::Output, Interrupt> {
        match self.follow(future, |_| false).await? {
            Some(output) => Ok(output),
            None => unreachable!("only a barge-in gives up before the future"),
        }
    }

    /// The next event of a dialled leg, waiting until `deadline` at most.
    pub async fn next_leg_event(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Event>, Interrupt> {
        if self.leg_events.is_empty() {
            let until = tokio::time::sleep_until(deadline);
            self.follow(until, |s| !s.leg_events.is_empty()).await?;
        }
        Ok(self.leg_events.pop_front())
    }

    /// Follows the channel into the bridge it is entering and out of it
    /// again; false if the bridge never began.
    pub async fn through_bridge(&mut self) -> Result<bool, Interrupt> {
        let patience = tokio::time::sleep(Duration::from_secs(5));
        if self.follow(patience, |s| s.bridged).await?.is_some() {
            return Ok(false);
        }
        tracing::debug!(call = %self.call.sid, "bridged");
        let forever = std::future::pending::<()>();
        self.follow(forever, |s| !s.bridged).await?;
        Ok(true)
    }

    /// The one loop behind [`Session::wait`], [`Session::wait_or_digit`] and
    /// [`Session::through_bridge`]: once `enough` holds, the wait ends (`None`).
    pub(super) async fn follow<F: Future>(
        &mut self,
        future: F,
        enough: fn(&Session) -> bool,
    ) -> Result<Option<F::Output>, Interrupt> {
        let mut future = std::pin::pin!(future);
        loop {
            if self.hangup.is_some() {
                return Err(Interrupt::HungUp);
            }
            if enough(self) {
                return Ok(None);
            }
            tokio::select! {
                biased;
                // Switchboard is stopping: the call ends like a REST hangup.
                () = self.router.token.cancelled() => return Err(Interrupt::End(CallStatus::Completed)),
                control = self.control.recv() => match control.map(|c| *c) {
                    Some(Control::Redirect(instructions)) => return Err(Interrupt::Redirect(instructions)),
                    Some(Control::End(status)) => return Err(Interrupt::End(status)),
                    None => {}
                },
                event = self.events.recv() => self.take(event).await,
                output = &mut future => return Ok(Some(output)),
            }
        }
    }

    /// Waits for `duration` while following the channel.
    pub async fn sleep(&mut self, duration: Duration) -> Result<(), Interrupt> {
        self.wait(tokio::time::sleep(duration)).await
    }

    /// Waits for the next digit, at most `timeout`.
    pub async fn next_digit(&mut self, timeout: Duration) -> Result<Option<char>, Interrupt> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(digit) = self.dtmf.pop_front() {
                return Ok(Some(digit));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            // Wakes on the deadline, or as soon as a digit lands in `dtmf`.
            self.wait_or_digit(tokio::time::sleep_until(deadline))
                .await?;
        }
    }

    /// Takes one event of the caller's channel into the call's state.
    async fn take(&mut self, event: Event) {
        self.woken = Some(std::time::Instant::now());
        if event.unique_id().as_deref() != Some(self.uuid.as_str()) {
            self.other_leg(event);
            return;
        }
        match event.event_name().as_deref() {
            Some("DTMF") => {
                if let Some(digit) = event.header("DTMF-Digit").and_then(|d| d.chars().next()) {
                    self.dtmf.push_back(digit);
                }
            }
            Some("CHANNEL_ANSWER") => self.answered().await,
            Some("CHANNEL_BRIDGE") => self.bridged = true,
            Some("CHANNEL_UNBRIDGE") => self.bridged = false,
            Some("CHANNEL_HANGUP_COMPLETE") => self.hangup = Some(event),
            Some("RECORD_STOP") => {
                if let Some(path) = event.header("Record-File-Path") {
                    // Only a recording being waited for needs this: keep a few.
                    if self.stopped_recordings.len() == 8 {
                        self.stopped_recordings.pop_front();
                    }
                    self.stopped_recordings.push_back(path.into_owned());
                }
            }
            _ => {}
        }
    }

    /// Events of a dialled leg wait in their own queue for the Dial in progress.
    fn other_leg(&mut self, event: Event) {
        self.leg_events.push_back(event);
    }

    pub async fn answered(&mut self) {
        if self.answered_at.is_none() {
            let now = now_millis();
            self.answered_at = Some(now);
            self.set_status(CallStatus::InProgress).await;
        }
    }

    /// Records a new status and sends its callback when the app asked for it.
    pub async fn set_status(&mut self, status: CallStatus) {
        let now = now_millis();
        let (start, end, duration) = match status {
            CallStatus::InProgress => (Some(now), None, None),
            s if s.is_final() => (None, Some(now), Some(self.duration_secs())),
            _ => (None, None, None),
        };
        if let Err(e) = self
            .router
            .store
            .set_call_status(&self.call.sid, status, start, end, duration)
            .await
        {
            tracing::error!(call = %self.call.sid, error = %e, "cannot record the call's status");
        }
        tracing::debug!(call = %self.call.sid, status = status.as_str(), "call status");
        self.call.status = status;
        if start.is_some() {
            self.call.start_time = start;
        }
        if let Some(end) = end {
            self.call.end_time = Some(end);
            self.call.duration = duration;
        }
        let (event, kind) = match status {
            CallStatus::Ringing => ("ringing", events::CALL_RINGING),
            CallStatus::InProgress => ("answered", events::CALL_ANSWERED),
            s if s.is_final() => ("completed", events::CALL_COMPLETED),
            _ => return,
        };
        self.publish(kind, self.call_data()).await;
        self.status_callback(event).await;
    }

    /// Publishes an event of this call to the event router.
    pub async fn publish(&self, kind: &'static str, data: serde_json::Value) {
        self.router
            .events
            .publish(crate::events::Event {
                kind,
                account_sid: self.call.account_sid.clone(),
                call_sid: Some(self.call.sid.clone()),
                data,
            })
            .await;
    }

    /// The call as events describe it.
    pub fn call_data(&self) -> serde_json::Value {
        let call = &self.call;
        let mut data = serde_json::json!({
            "call_sid": call.sid,
            "account_sid": call.account_sid,
            "parent_call_sid": call.parent_call_sid,
            "from": call.from,
            "to": call.to,
            "direction": call.direction,
            "call_status": call.status.as_str(),
        });
        if call.status.is_final() {
            data["duration"] = self.duration_secs().into();
        }
        data
    }

    /// Sends a StatusCallback for `event` if the call subscribed to it,
    /// through the event router's outbox (in order, retried).
    pub async fn status_callback(&mut self, event: &str) {
        let Some(url) = self.call.status_callback.clone() else {
            return;
        };
        let wanted = self
            .call
            .status_callback_events
            .split_whitespace()
            .any(|e| e == event);
        if !wanted {
            return;
        }
        let mut params = self.params();
        if event == "initiated" {
            // The call is placed but not ringing yet: Twilio names this moment.
            for (name, value) in &mut params {
                if name == "CallStatus" {
                    *value = "initiated".into();
                }
            }
        }
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("Timestamp".into(), crate::api::rfc2822(now_millis())));
        params.push(("SequenceNumber".into(), self.sequence.to_string()));
        self.sequence += 1;
        if self.call.status.is_final() {
            params.push(("CallDuration".into(), self.duration_secs().to_string()));
            params.push((
                "Duration".into(),
                ((self.duration_secs() + 59) / 60).to_string(),
            ));
        }
        let request = webhook::Request {
            url,
            method: Method::parse(Some(&self.call.status_callback_method)),
            params,
        };
        self.report(request).await;
    }

    /// Seconds from answer to hangup, as Twilio bills them.
    pub fn duration_secs(&self) -> i64 {
        if let Some(billsec) = self
            .hangup
            .as_ref()
            .and_then(|e| e.variable("billsec"))
            .and_then(|b| b.parse::<i64>().ok())
        {
            return billsec;
        }
        match self.answered_at {
            Some(at) => (now_millis() - at).max(0) / 1000,
            None => 0,
        }
    }

    /// The parameters of every request about this call.
    pub fn params(&self) -> Vec<(String, String)> {
        call_params(&self.call)
    }

    /// Records an error (or, with `warning`, a warning) about this call.
    pub async fn notify(
        &self,
        code: u32,
        message: &str,
        request: Option<&webhook::Request>,
        response_body: Option<&str>,
        warning: bool,
    ) {
        tracing::warn!(call = %self.call.sid, code, %message, "notification");
        let now = now_millis();
        let notification = Notification {
            sid: Sid::new(Kind::Notification).to_string(),
            account_sid: self.call.account_sid.clone(),
            call_sid: Some(self.call.sid.clone()),
            error_code: code.to_string(),
            log: if warning { "1" } else { "0" }.into(),
            message_text: message.to_owned(),
            more_info: format!("https://www.twilio.com/docs/errors/{code}"),
            request_method: request.map(|r| r.method.as_str().to_owned()),
            request_url: request.map(|r| r.url.clone()),
            request_variables: request.map(|r| {
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&r.params)
                    .finish()
            }),
            response_body: response_body.map(str::to_owned),
            date_created: now,
        };
        if let Err(e) = self.router.store.insert_notification(&notification).await {
            tracing::error!(call = %self.call.sid, error = %e, "cannot record a notification");
        }
        let data = serde_json::json!({
            "notification_sid": notification.sid,
            "error_code": notification.error_code,
            "log": notification.log,
            "message": message,
        });
        self.publish(events::NOTIFICATION_CREATED, data).await;
    }
}

impl Session {
    /// Awaits `future` like [`Session::wait`], but gives up (returning
    /// `None`) as soon as the caller presses a digit: prompts that barge in.
    pub async fn wait_or_digit<F: Future>(
        &mut self,
        future: F,
    ) -> Result<Option<F::Output>, Interrupt> {
        self.follow(future, |s| !s.dtmf.is_empty()).await
    }

    /// Runs a dialplan application on the caller's channel to its end.
    pub async fn execute(&mut self, app: &str, arg: Option<&str>) -> Result<Event, Interrupt> {
        tracing::debug!(call = %self.call.sid, app, arg, "execute");
        self.reacted();
        let execution = match self.node.client.execute(&self.uuid, app, arg).await {
            Ok(execution) => execution,
            Err(e) => {
                tracing::warn!(call = %self.call.sid, app, error = %e, "cannot execute");
                return Err(Interrupt::HungUp);
            }
        };
        match self.wait(execution).await? {
            Ok(event) => {
                self.woken = Some(std::time::Instant::now());
                Ok(event)
            }
            Err(e) => {
                tracing::warn!(call = %self.call.sid, app, error = %e, "execution lost");
                Err(Interrupt::HungUp)
            }
        }
    }

    /// Answers the caller's channel if nothing has yet.
    pub async fn answer(&mut self) -> Result<(), Interrupt> {
        if self.answered_at.is_none() {
            // uuid_answer answers whatever the channel is running (a parked
            // dialplan included) and replies when it is done.
            let reply = self.api(&format!("uuid_answer {}", self.uuid)).await;
            if !reply.as_deref().is_some_and(|r| r.starts_with("+OK")) {
                return Err(Interrupt::HungUp);
            }
            self.answered().await;
        }
        Ok(())
    }

    /// An API command on the caller's node; its output, or `None` if the node is gone.
    pub async fn api(&mut self, command: &str) -> Option<String> {
        self.reacted();
        self.node.client.api(command).await.ok()
    }

    /// A command is going out: the time since the switch woke the call is
    /// its reaction time (`switchboard_call_reaction_seconds`).
    pub fn reacted(&mut self) {
        if let Some(woken) = self.woken.take() {
            self.router.reaction.observe(woken.elapsed().as_secs_f64());
        }
    }

    /// A URL of the document resolved to absolute, as Twilio resolves relative URLs.
    pub fn resolve(&self, url: &str) -> Option<String> {
        match url::Url::parse(url) {
            Ok(absolute) => Some(absolute.to_string()),
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let base = url::Url::parse(self.document_url.as_deref()?).ok()?;
                base.join(url).ok().map(|u| u.to_string())
            }
            Err(_) => None,
        }
    }

    /// Sends a request that reports something (a status, a recording)
    /// without steering the call: through the outbox, in order, retried.
    pub async fn report(&self, request: webhook::Request) {
        self.router
            .events
            .callback(&self.call.account_sid, &self.call.sid, request)
            .await;
    }
}

/// Twilio's parameters of every request about `call`.
pub fn call_params(call: &Call) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("AccountSid".into(), call.account_sid.clone()),
        ("ApiVersion".into(), crate::api::VERSION.into()),
        ("CallSid".into(), call.sid.clone()),
        ("CallStatus".into(), call.status.as_str().into()),
        ("Called".into(), call.to.clone()),
        ("Caller".into(), call.from.clone()),
        ("Direction".into(), call.direction.clone()),
        ("From".into(), call.from.clone()),
        ("To".into(), call.to.clone()),
    ];
    if let Some(name) = &call.caller_name {
        params.push(("CallerName".into(), name.clone()));
    }
    if let Some(forwarded) = &call.forwarded_from {
        params.push(("ForwardedFrom".into(), forwarded.clone()));
    }
    if let Some(parent) = &call.parent_call_sid {
        params.push(("ParentCallSid".into(), parent.clone()));
    }
    params
}
