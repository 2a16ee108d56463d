//! The ESL-compatible event socket: existing FreeSWITCH event consumers
//! (fs_cli-style tools, greenswitch, modesl) connect as to a FreeSWITCH
//! node, authenticate as an account, and read that account's events only.
//!
//! * `auth AccountSid:AuthToken` (a client that only knows a password) or
//!   `userauth AccountSid[@domain]:AuthToken`; API keys (`SK…:secret`) too.
//! * `event plain|json|xml NAMES`: `ALL`; `CUSTOM` with subclasses
//!   `switchboard::call.answered` … (or the bare type names `call.answered`);
//!   FreeSWITCH channel event names (`CHANNEL_ANSWER` …) for the raw events
//!   of the account's channels, aggregated across all media nodes.
//! * Switchboard's events arrive as `CUSTOM` events with
//!   `Event-Subclass: switchboard::<type>`, `variable_sb_call_sid`,
//!   `variable_sb_account_sid`, the data's fields as headers, and the
//!   CloudEvents JSON as the body.

use std::collections::HashSet;
use std::sync::Arc;

use esl::{Command, EventFormat, Frame, ServerCodec};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bus::{Bus, ChannelEvent, Filter, Subscription};
use super::event::{is_known_type, Envelope};
use crate::store::{AccountStatus, Store};

/// The `Event-Subclass` prefix of Switchboard's events.
pub const SUBCLASS_PREFIX: &str = "switchboard::";

pub struct Server {
    pub store: Store,
    pub bus: Bus,
    pub tracker: TaskTracker,
    pub token: CancellationToken,
}

impl Server {
    pub async fn run(self, listener: TcpListener) {
        let server = Arc::new(self);
        loop {
            let accepted = tokio::select! {
                () = server.token.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracing::debug!(%peer, "event socket connection");
                    let conn = server.clone();
                    server
                        .tracker
                        .spawn(async move { conn.serve(stream).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn serve(&self, stream: TcpStream) {
        let mut framed = Framed::new(stream, ServerCodec::new());
        if framed.send(Frame::auth_request()).await.is_err() {
            return;
        }
        let mut listener = Listener::default();
        loop {
            tokio::select! {
                () = self.token.cancelled() => {
                    let _ = framed.send(Frame::disconnect_notice()).await;
                    return;
                }
                command = framed.next() => {
                    let Some(Ok(command)) = command else { return };
                    match self.handle(&mut listener, command).await {
                        Reply::Frame(frame) => if framed.send(frame).await.is_err() { return },
                        Reply::Close(frame) => {
                            let _ = framed.send(frame).await;
                            let _ = framed.send(Frame::disconnect_notice()).await;
                            return;
                        }
                    }
                }
                Some(envelope) = next_envelope(&mut listener.events) => {
                    if let Some(frame) = listener.frame(&envelope) {
                        if framed.send(frame).await.is_err() { return }
                    }
                }
                Some(event) = next_channel_event(&mut listener.channel) => {
                    if let Some(frame) = listener.channel_frame(&event) {
                        if framed.send(frame).await.is_err() { return }
                    }
                }
            }
        }
    }

    async fn handle(&self, listener: &mut Listener, command: Command) -> Reply {
        let reply = |text: &str| Reply::Frame(Frame::command_reply(text));
        match command {
            Command::Auth { password } => {
                // `auth AccountSid:AuthToken`: the credentials ride in the password.
                let (user, secret) = password.split_once(':').unwrap_or(("", &password));
                self.authenticate(listener, user, secret).await
            }
            Command::UserAuth { user, password } => {
                let user = user.split('@').next().unwrap_or_default();
                self.authenticate(listener, user, &password).await
            }
            Command::Exit => Reply::Close(Frame::command_reply("+OK bye")),
            _ if listener.account_sid.is_none() => reply("-ERR command not found"),
            Command::Event { format, events } => {
                if events.is_empty() {
                    return reply("-ERR no keywords supplied");
                }
                listener.format = format;
                listener.subscribe(&events);
                if listener.events.is_none() {
                    let filter = Filter {
                        account_sid: listener.account_sid.clone().unwrap_or_default(),
                        include_subaccounts: false,
                        types: None,
                    };
                    match self.bus.subscribe(self.store.clone(), filter, None).await {
                        Ok(subscription) => listener.events = Some(subscription),
                        Err(e) => {
                            tracing::error!(error = %e, "event socket subscription");
                            return reply("-ERR cannot subscribe");
                        }
                    }
                }
                if listener.all || !listener.channel_names.is_empty() {
                    listener
                        .channel
                        .get_or_insert_with(|| self.bus.channel_events());
                }
                reply(&format!("+OK event listener enabled {}", format.as_str()))
            }
            Command::NoEvents => {
                listener.clear();
                reply("+OK no longer listening for events")
            }
            Command::Api { .. } | Command::BgApi { .. } => Reply::Frame(Frame::api_response(
                "-ERR Switchboard's event socket carries events only\n",
            )),
            _ => reply("-ERR command not found"),
        }
    }

    async fn authenticate(&self, listener: &mut Listener, user: &str, secret: &str) -> Reply {
        match crate::api::authenticate(&self.store, user, secret).await {
            Ok(principal) if principal.account.status == AccountStatus::Active => {
                listener.account_sid = Some(principal.account.sid);
                Reply::Frame(Frame::command_reply("+OK accepted"))
            }
            _ => Reply::Close(Frame::command_reply("-ERR invalid")),
        }
    }
}

enum Reply {
    Frame(Frame),
    /// Answer, then the disconnect notice, then close (a failed auth, `exit`).
    Close(Frame),
}

async fn next_envelope(events: &mut Option<Subscription>) -> Option<Arc<Envelope>> {
    match events {
        Some(subscription) => subscription.next().await,
        None => std::future::pending().await,
    }
}

async fn next_channel_event(
    channel: &mut Option<broadcast::Receiver<ChannelEvent>>,
) -> Option<ChannelEvent> {
    let Some(rx) = channel else {
        return std::future::pending().await;
    };
    loop {
        match rx.recv().await {
            Ok(event) => return Some(event),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    skipped = n,
                    "event socket client too slow: channel events skipped"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// One connection's state: who it is and what it asked for.
struct Listener {
    account_sid: Option<String>,
    format: EventFormat,
    all: bool,
    /// Every Switchboard type (`CUSTOM` without subclasses).
    all_custom: bool,
    types: HashSet<String>,
    channel_names: HashSet<String>,
    events: Option<Subscription>,
    channel: Option<broadcast::Receiver<ChannelEvent>>,
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            account_sid: None,
            format: EventFormat::Plain,
            all: false,
            all_custom: false,
            types: HashSet::new(),
            channel_names: HashSet::new(),
            events: None,
            channel: None,
        }
    }
}

impl Listener {
    fn subscribe(&mut self, names: &[String]) {
        let mut custom = false;
        for name in names {
            let name = name.trim_start_matches("SWITCH_EVENT_");
            if let Some(kind) = name.strip_prefix(SUBCLASS_PREFIX) {
                self.types.insert(kind.to_owned());
            } else if is_known_type(name) {
                self.types.insert(name.to_owned());
            } else if name.eq_ignore_ascii_case("ALL") {
                self.all = true;
            } else if name == "CUSTOM" {
                custom = true;
            } else {
                self.channel_names.insert(name.to_ascii_uppercase());
            }
        }
        // `CUSTOM` alone is every custom event; with subclasses, only those.
        if custom && !names.iter().any(|n| n.contains("::")) {
            self.all_custom = true;
        }
    }

    fn clear(&mut self) {
        let account_sid = self.account_sid.take();
        *self = Listener {
            account_sid,
            ..Listener::default()
        };
    }

    fn frame(&self, e: &Envelope) -> Option<Frame> {
        let wanted = self.all || self.all_custom || self.types.contains(&e.kind);
        wanted.then(|| Frame::event(&to_esl(e), self.format))
    }

    fn channel_frame(&self, event: &ChannelEvent) -> Option<Frame> {
        let (account, event) = event.as_ref();
        if Some(account) != self.account_sid.as_ref() {
            return None;
        }
        let name = event.event_name()?;
        let wanted = self.all || self.channel_names.contains(name.as_ref());
        wanted.then(|| Frame::event(event, self.format))
    }
}

/// A Switchboard event as FreeSWITCH lays out a CUSTOM event.
pub fn to_esl(e: &Envelope) -> esl::Event {
    let mut event = esl::Event::custom(&format!("{SUBCLASS_PREFIX}{}", e.kind));
    let micros = e.time * 1000;
    let gmt = chrono::DateTime::from_timestamp_millis(e.time).unwrap_or_default();
    event
        .add_header("Core-UUID", "switchboard")
        .add_header("FreeSWITCH-Hostname", "switchboard")
        .add_header(
            "Event-Date-Local",
            &gmt.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
        .add_header(
            "Event-Date-GMT",
            &gmt.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )
        .add_header("Event-Date-Timestamp", &micros.to_string())
        .add_header("Event-Sequence", &e.id.to_string())
        .add_header("Switchboard-Event-Type", &e.kind)
        .add_header("Switchboard-Event-Id", &e.id.to_string());
    if let Some(call) = &e.call_sid {
        event.add_header("variable_sb_call_sid", call);
    }
    event.add_header("variable_sb_account_sid", &e.account_sid);
    if let Some(data) = e.data.as_object() {
        for (key, value) in data {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            event.add_header(key, &text);
        }
    }
    event.set_body(e.json.clone());
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switchboard_event_is_a_custom_event_naming_its_call_and_account() {
        let envelope = Envelope::new(
            9,
            "call.answered".into(),
            "AC1".into(),
            None,
            Some("CA1".into()),
            1_764_033_099_000,
            serde_json::json!({"call_status": "in-progress", "parent_call_sid": null}),
        );
        let event = to_esl(&envelope);
        assert_eq!(event.event_name().as_deref(), Some("CUSTOM"));
        assert_eq!(
            event.subclass().as_deref(),
            Some("switchboard::call.answered")
        );
        assert_eq!(event.variable("sb_call_sid").as_deref(), Some("CA1"));
        assert_eq!(event.variable("sb_account_sid").as_deref(), Some("AC1"));
        assert_eq!(event.header("Event-Sequence").as_deref(), Some("9"));
        assert_eq!(event.header("call_status").as_deref(), Some("in-progress"));
        assert!(!event.has_header("parent_call_sid"));
        assert_eq!(event.body_str(), Some(envelope.json.as_str()));
        // It survives FreeSWITCH's plain serialisation and a parse back.
        let parsed = esl::Event::parse_plain(event.to_bytes(EventFormat::Plain)).unwrap();
        assert_eq!(parsed.subclass(), event.subclass());
        assert_eq!(parsed.body_str(), Some(envelope.json.as_str()));
    }

    #[test]
    fn event_names_select_types_custom_events_and_channel_events() {
        let mut listener = Listener::default();
        listener.subscribe(&[
            "CUSTOM".into(),
            "switchboard::call.completed".into(),
            "gather.completed".into(),
            "CHANNEL_ANSWER".into(),
        ]);
        assert!(!listener.all && !listener.all_custom);
        assert!(listener.types.contains("call.completed"));
        assert!(listener.types.contains("gather.completed"));
        assert!(listener.channel_names.contains("CHANNEL_ANSWER"));
        let mut listener = Listener::default();
        listener.subscribe(&["CUSTOM".into()]);
        assert!(listener.all_custom);
        let mut listener = Listener::default();
        listener.subscribe(&["all".into()]);
        assert!(listener.all);
    }
}
