//! The Event Socket server: accepts ESL connections and answers them as
//! mod_event_socket does (auth, api, bgapi, event subscriptions with filters,
//! sendevent, sendmsg, log, exit), using the `esl` crate's codec for the wire.
//!
//! The same connection handler serves outbound-socket connections (the
//! `socket` Application connects out and then behaves as the server side).

use std::sync::Arc;

use bytes::Bytes;
use esl::{Command as EslCommand, EventFormat, Frame, ServerCodec};
use futures_util::{SinkExt, StreamExt};
use regex::Regex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use crate::bus::{Delivery, Interest, Listener, LogLine};
use crate::channel::HangupCause;
use crate::event::{origin, SwitchEvent};
use crate::session::{AppCall, Command};
use crate::switch::Switch;

/// The events `myevents` subscribes to (mod_event_socket's list).
const MYEVENTS: &[&str] = &[
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DATA",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "NOTALK",
    "TALK",
];

/// Accepts connections until the switch's token is cancelled.
pub(crate) async fn accept_loop(sw: Arc<Switch>, listener: TcpListener) {
    loop {
        tokio::select! {
            _ = sw.token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracing::debug!(%peer, "ESL connection");
                    let conn = Connection::new(sw.clone(), Mode::Inbound);
                    sw.tracker.spawn(conn.serve(stream));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Which side of the socket the switch is on.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// A client connected to the switch and must authenticate.
    Inbound,
    /// The `socket` Application connected out for this Channel.
    Outbound { uuid: String, full: bool },
}

/// A header filter (`filter <header> <value>`).
#[derive(Debug)]
struct Filter {
    header: String,
    value: String,
    regex: Option<Regex>,
}

impl Filter {
    fn matches(&self, ev: &SwitchEvent) -> bool {
        let actual = ev.header(&self.header);
        if let Some(re) = &self.regex {
            return actual.is_some_and(|a| re.is_match(a));
        }
        match self.value.strip_prefix('!') {
            Some(v) => actual != Some(v),
            None => actual == Some(self.value.as_str()),
        }
    }
}

/// What the connection loop does after a command.
enum Next {
    Continue,
    Close,
}

pub(crate) struct Connection {
    sw: Arc<Switch>,
    mode: Mode,
    authed: bool,
    format: EventFormat,
    listener: Option<Arc<Listener>>,
    events: Option<mpsc::Receiver<Delivery>>,
    filters: Vec<Filter>,
    /// Outbound `myevents`, or inbound `myevents <uuid>`: only this Channel's events.
    only_uuid: Option<String>,
    linger: Option<i64>,
    /// When the controlled Channel hung up (outbound mode).
    hung_up: bool,
    /// Told when the client sends `connect` (outbound mode).
    connected: Option<tokio::sync::oneshot::Sender<()>>,
    /// LFLAG_EVENTS: `event`, `nixevent` or `myevents` was accepted.
    events_on: bool,
    /// LFLAG_LOG: `log` was accepted.
    logging: bool,
}

impl Connection {
    pub(crate) fn new(sw: Arc<Switch>, mode: Mode) -> Self {
        let authed = matches!(mode, Mode::Outbound { .. });
        Self {
            sw,
            mode,
            authed,
            format: EventFormat::Plain,
            listener: None,
            events: None,
            filters: Vec::new(),
            only_uuid: None,
            linger: None,
            hung_up: false,
            connected: None,
            events_on: false,
            logging: false,
        }
    }

    /// An outbound connection that reports the client's `connect`.
    pub(crate) fn outbound(
        sw: Arc<Switch>,
        uuid: String,
        full: bool,
        connected: tokio::sync::oneshot::Sender<()>,
    ) -> Self {
        let mut conn = Self::new(sw, Mode::Outbound { uuid, full });
        conn.connected = Some(connected);
        conn
    }

    /// Serves one connection until it closes.
    pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut self, stream: S) {
        let mut framed = Framed::new(stream, ServerCodec::new());
        if matches!(self.mode, Mode::Inbound) && framed.send(Frame::auth_request()).await.is_err() {
            return;
        }
        if let Mode::Outbound { uuid, .. } = &self.mode {
            // Outbound sockets always see their Channel's hangup, to send the
            // linger/disconnect notices.
            let uuid = uuid.clone();
            self.ensure_listener();
            self.only_uuid = Some(uuid);
        }
        let token = self.sw.token.clone();
        let mut linger_deadline: Option<tokio::time::Instant> = None;
        loop {
            let events = self.events.as_mut();
            tokio::select! {
                biased;
                _ = token.cancelled() => break,
                _ = sleep_until(linger_deadline), if linger_deadline.is_some() => {
                    if let Mode::Outbound { uuid, .. } = &self.mode {
                        let _ = framed.send(Frame::outbound_disconnect_notice(uuid)).await;
                    }
                    break;
                }
                delivery = recv(events) => {
                    let ev = match delivery {
                        Some(Delivery::Event(ev)) => ev,
                        Some(Delivery::Log(line)) => {
                            let sent = tokio::select! {
                                r = framed.send(log_frame(&line)) => r.is_ok(),
                                _ = token.cancelled() => false,
                            };
                            if !sent {
                                break;
                            }
                            continue;
                        }
                        None => break,
                    };
                    if let Some(frame) = self.event_frame(&ev) {
                        // A client that stops reading must not hold up shutdown.
                        let sent = tokio::select! {
                            r = framed.send(frame) => r.is_ok(),
                            _ = token.cancelled() => false,
                        };
                        if !sent {
                            break;
                        }
                    }
                    if self.controlled_hangup(&ev) {
                        match self.on_controlled_hangup(&mut framed).await {
                            Some(d) => linger_deadline = d,
                            None => break,
                        }
                    }
                }
                cmd = framed.next() => match cmd {
                    Some(Ok(cmd)) => match tokio::select! {
                        next = self.handle(cmd, &mut framed) => next,
                        _ = token.cancelled() => Next::Close,
                    } {
                        Next::Continue => {}
                        Next::Close => break,
                    },
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "ESL client sent garbage");
                        break;
                    }
                    None => break,
                },
            }
        }
        if let Some(l) = self.listener.take() {
            self.sw.bus.unsubscribe(l.id);
        }
    }

    fn controlled_hangup(&self, ev: &SwitchEvent) -> bool {
        match &self.mode {
            Mode::Outbound { uuid, .. } => {
                !self.hung_up
                    && ev.name() == "CHANNEL_HANGUP_COMPLETE"
                    && ev.header("Unique-ID") == Some(uuid.as_str())
            }
            Mode::Inbound => false,
        }
    }

    /// The controlled Channel hung up: a linger notice and a deadline, or
    /// close at once (`None`).
    async fn on_controlled_hangup<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        framed: &mut Framed<S, ServerCodec>,
    ) -> Option<Option<tokio::time::Instant>> {
        self.hung_up = true;
        let Mode::Outbound { uuid, .. } = &self.mode else {
            return Some(None);
        };
        let Some(linger) = self.linger else {
            let _ = framed.send(Frame::outbound_disconnect_notice(uuid)).await;
            return None;
        };
        let name = self
            .sw
            .channel(uuid)
            .map(|h| h.with(|d| d.name.clone()))
            .unwrap_or_default();
        let _ = framed.send(Frame::linger_notice(uuid, &name, linger)).await;
        if linger < 0 {
            Some(None)
        } else {
            let at = self
                .sw
                .clock()
                .deadline(std::time::Duration::from_secs(linger as u64));
            Some(Some(at))
        }
    }

    fn event_frame(&self, ev: &SwitchEvent) -> Option<Frame> {
        if self.hung_up || !self.events_on {
            // Nothing asked for (an outbound socket listens for its hangup
            // regardless), or the outbound socket's session is gone.
            return None;
        }
        if let Some(uuid) = &self.only_uuid {
            // `myevents`: this Channel's events (and bgapi results).
            let mine = ev.header("Unique-ID") == Some(uuid.as_str())
                || ev.header("Other-Leg-Unique-ID") == Some(uuid.as_str())
                || ev.name() == "BACKGROUND_JOB";
            if !mine {
                return None;
            }
        }
        if !self.filters.is_empty() && !self.filters.iter().any(|f| f.matches(ev)) {
            return None;
        }
        let interested = self.listener.as_ref().is_some_and(|l| {
            l.interest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .matches(ev.name(), ev.subclass())
        });
        if !interested {
            return None;
        }
        Some(Frame::event(&to_esl(ev), self.format))
    }

    fn ensure_listener(&mut self) -> Arc<Listener> {
        if let Some(l) = &self.listener {
            return l.clone();
        }
        let (l, rx) = self.sw.bus.subscribe();
        self.listener = Some(l.clone());
        self.events = Some(rx);
        if let Mode::Outbound { .. } = self.mode {
            // So the hangup reaches the loop even before `myevents`.
            l.interest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .names
                .insert("CHANNEL_HANGUP_COMPLETE".into());
        }
        l
    }

    fn interest<R>(&mut self, f: impl FnOnce(&mut Interest) -> R) -> R {
        let l = self.ensure_listener();
        let mut i = l.interest.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut i)
    }

    async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cmd: EslCommand,
        framed: &mut Framed<S, ServerCodec>,
    ) -> Next {
        let reply = |text: &str| Frame::command_reply(text);
        if !self.authed {
            return match cmd {
                // `userauth user@domain:password` is checked against the same
                // password: the switch has no user directory.
                EslCommand::Auth { password } | EslCommand::UserAuth { password, .. } => {
                    if password == self.sw.config.password {
                        self.authed = true;
                        send(framed, reply("+OK accepted")).await
                    } else {
                        let _ = framed.send(reply("-ERR invalid")).await;
                        let _ = framed.send(Frame::disconnect_notice()).await;
                        Next::Close
                    }
                }
                EslCommand::Exit => self.exit(framed).await,
                _ => send(framed, reply("-ERR command not found")).await,
            };
        }
        match cmd {
            EslCommand::Auth { .. } | EslCommand::UserAuth { .. } => {
                send(framed, reply("+OK accepted")).await
            }
            EslCommand::Api { command } => {
                let (name, args) = split_command(&command);
                let out = self.sw.api(name, args).await;
                send(framed, Frame::api_response(Bytes::from(out))).await
            }
            EslCommand::BgApi { command, job_uuid } => {
                let job = job_uuid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let next = send(framed, Frame::bgapi_reply(&job)).await;
                let sw = self.sw.clone();
                self.sw.tracker.spawn(async move {
                    let (name, args) = split_command(&command);
                    let out = sw.api(name, args).await;
                    if sw.bus.wants("BACKGROUND_JOB", None) {
                        let mut ev = sw.events.event(
                            "BACKGROUND_JOB",
                            None,
                            origin("mod_event_socket.c", "api_exec", 1572),
                        );
                        ev.push("Job-UUID", job);
                        ev.push("Job-Command", name);
                        if !args.is_empty() {
                            ev.push("Job-Command-Arg", args);
                        }
                        ev.body = Some(out);
                        sw.bus.publish(ev);
                    }
                });
                next
            }
            EslCommand::Event { format, events } => {
                self.format = format;
                if events.is_empty() {
                    return send(framed, reply("-ERR no keywords supplied")).await;
                }
                self.subscribe(&events);
                self.events_on = true;
                send(
                    framed,
                    reply(&format!("+OK event listener enabled {}", format.as_str())),
                )
                .await
            }
            EslCommand::MyEvents { uuid, format } => {
                let uuid = match (&self.mode, uuid) {
                    (Mode::Outbound { uuid, .. }, _) => uuid.clone(),
                    (Mode::Inbound, Some(u)) => u,
                    (Mode::Inbound, None) => {
                        return send(framed, reply("-ERR must specify uuid")).await
                    }
                };
                if let Some(f) = format {
                    self.format = f;
                }
                self.only_uuid = Some(uuid);
                self.events_on = true;
                self.interest(|i| i.names.extend(MYEVENTS.iter().map(|n| n.to_string())));
                send(framed, reply("+OK Events Enabled")).await
            }
            EslCommand::NixEvent { events } => {
                if events.is_empty() {
                    return send(framed, reply("-ERR no keywords supplied")).await;
                }
                self.events_on = true;
                self.interest(|i| {
                    for e in &events {
                        if e == "ALL" {
                            i.all = false;
                            i.names.clear();
                        } else {
                            i.names.remove(e);
                            i.subclasses.remove(e);
                        }
                    }
                });
                send(framed, reply("+OK events nixed")).await
            }
            EslCommand::NoEvents => {
                if !std::mem::take(&mut self.events_on) {
                    return send(framed, reply("-ERR not listening for events")).await;
                }
                self.interest(|i| *i = Interest::default());
                if matches!(self.mode, Mode::Outbound { .. }) {
                    self.interest(|i| {
                        i.names.insert("CHANNEL_HANGUP_COMPLETE".into());
                    });
                }
                send(framed, reply("+OK no longer listening for events")).await
            }
            EslCommand::Filter { header, value } => {
                let regex = value
                    .strip_prefix('/')
                    .and_then(|v| v.strip_suffix('/'))
                    .and_then(|v| Regex::new(v).ok());
                let text = format!("+OK filter added. [{header}]=[{value}]");
                self.filters.push(Filter {
                    header,
                    value,
                    regex,
                });
                send(framed, reply(&text)).await
            }
            EslCommand::FilterDelete { header, value } => {
                if header.eq_ignore_ascii_case("all") {
                    self.filters.clear();
                    return send(framed, reply("+OK filter deleted.")).await;
                }
                let value = value.unwrap_or_default();
                self.filters.retain(|f| {
                    !(f.header.eq_ignore_ascii_case(&header)
                        && (value.is_empty() || f.value == value))
                });
                send(
                    framed,
                    reply(&format!("+OK filter deleted. [{header}][{value}]")),
                )
                .await
            }
            EslCommand::SendEvent {
                name,
                headers,
                body,
            } => {
                let text = self.sendevent(&name, headers, body);
                send(framed, reply(&text)).await
            }
            EslCommand::SendMsg {
                uuid,
                headers,
                body,
            } => {
                let uuid = match (&self.mode, uuid) {
                    (_, Some(u)) => u,
                    (Mode::Outbound { uuid, .. }, None) => uuid.clone(),
                    (Mode::Inbound, None) => {
                        return send(framed, reply("-ERR invalid session id []")).await
                    }
                };
                let text = self.sendmsg(&uuid, &headers, body).await;
                send(framed, reply(&text)).await
            }
            EslCommand::Log { level } => {
                let level = level.unwrap_or_default();
                let Some(n) = log_level(&level) else {
                    return send(framed, reply("-ERR invalid log level")).await;
                };
                self.logging = true;
                let l = self.ensure_listener();
                l.log_level
                    .store(n as i8, std::sync::atomic::Ordering::Relaxed);
                send(framed, reply(&format!("+OK log level {level} [{n}]"))).await
            }
            EslCommand::NoLog => {
                if let Some(l) = &self.listener {
                    l.log_level.store(-1, std::sync::atomic::Ordering::Relaxed);
                }
                let text = if std::mem::take(&mut self.logging) {
                    "+OK no longer logging"
                } else {
                    "-ERR not loging"
                };
                send(framed, reply(text)).await
            }
            EslCommand::DivertEvents(_) if matches!(self.mode, Mode::Inbound) => {
                send(framed, reply("-ERR not controlling a session.")).await
            }
            EslCommand::DivertEvents(on) => {
                let text = if on {
                    "+OK events diverted"
                } else {
                    "+OK events not diverted"
                };
                send(framed, reply(text)).await
            }
            EslCommand::Linger { .. } | EslCommand::NoLinger
                if matches!(self.mode, Mode::Inbound) =>
            {
                send(framed, reply("-ERR not controlling a session")).await
            }
            EslCommand::Linger { seconds } => {
                let text = match seconds {
                    Some(s) => {
                        self.linger = Some(i64::from(s));
                        format!("+OK will linger {s} seconds")
                    }
                    None => {
                        self.linger = Some(-1);
                        "+OK will linger".to_owned()
                    }
                };
                send(framed, reply(&text)).await
            }
            EslCommand::NoLinger => {
                self.linger = None;
                send(framed, reply("+OK will not linger")).await
            }
            EslCommand::Connect => match &self.mode {
                Mode::Outbound { uuid, full } => {
                    let frame = self.connect_reply(uuid, *full);
                    let next = send(framed, frame).await;
                    if let Some(tx) = self.connected.take() {
                        let _ = tx.send(());
                    }
                    next
                }
                Mode::Inbound => send(framed, reply("-ERR command not found")).await,
            },
            EslCommand::GetVar { name } => match &self.mode {
                Mode::Outbound { uuid, .. } => {
                    let v = self
                        .sw
                        .channel(uuid)
                        .and_then(|h| h.with(|d| d.vars.get(&name).map(str::to_owned)));
                    send(
                        framed,
                        Frame::api_response(Bytes::from(v.unwrap_or_default())),
                    )
                    .await
                }
                Mode::Inbound => send(framed, reply("-ERR command not found")).await,
            },
            EslCommand::Resume => send(framed, reply("+OK")).await,
            EslCommand::Exit => self.exit(framed).await,
            _ => send(framed, reply("-ERR command not found")).await,
        }
    }

    async fn exit<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        framed: &mut Framed<S, ServerCodec>,
    ) -> Next {
        let _ = framed.send(Frame::command_reply("+OK bye")).await;
        let notice = match &self.mode {
            Mode::Inbound => Frame::disconnect_notice(),
            Mode::Outbound { uuid, .. } => Frame::outbound_disconnect_notice(uuid),
        };
        let _ = framed.send(notice).await;
        Next::Close
    }

    fn subscribe(&mut self, events: &[String]) {
        self.interest(|i| {
            let mut custom = false;
            for e in events {
                let e = e.trim_start_matches("SWITCH_EVENT_");
                if custom && e.contains("::") {
                    i.subclasses.insert(e.to_owned());
                    continue;
                }
                match e {
                    "ALL" | "all" => i.all = true,
                    "CUSTOM" => {
                        custom = true;
                        i.names.insert("CUSTOM".into());
                    }
                    other if other.contains("::") => {
                        i.subclasses.insert(other.to_owned());
                    }
                    other => {
                        i.names.insert(other.to_ascii_uppercase());
                    }
                }
            }
        });
    }

    /// `sendevent`: the client's headers lead (Event-Subclass first), then
    /// `Event-UUID` and the core block, as mod_event_socket's parse_command
    /// builds it.
    fn sendevent(&self, name: &str, headers: Vec<(String, String)>, body: Option<Bytes>) -> String {
        let name = name.trim();
        let name = if name.is_empty() { "MESSAGE" } else { name };
        let event_uuid = uuid::Uuid::new_v4().to_string();
        let mut ev = SwitchEvent::default();
        let subclass = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Event-Subclass"))
            .map(|(_, v)| v.clone());
        if let Some(s) = &subclass {
            ev.push("Event-Subclass", s.as_str());
        }
        ev.push("Command", format!("sendevent {name}"));
        for (k, v) in headers {
            if !k.eq_ignore_ascii_case("Event-Subclass") {
                ev.push(k, v);
            }
        }
        if let Some(b) = &body {
            ev.push("Content-Length", b.len().to_string());
        }
        ev.push("Event-UUID", event_uuid.as_str());
        self.sw.events.stamp(
            &mut ev,
            name,
            origin("mod_event_socket.c", "parse_command", 2275),
        );
        ev.body = body.map(|b| String::from_utf8_lossy(&b).into_owned());
        self.sw.bus.publish(ev);
        format!("+OK {event_uuid}")
    }

    /// `sendmsg`: `call-command: execute|hangup` for a Channel.
    async fn sendmsg(
        &self,
        uuid: &str,
        headers: &[(String, String)],
        body: Option<Bytes>,
    ) -> String {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let Some(channel) = self.sw.channel(uuid) else {
            return format!("-ERR invalid session id [{uuid}]");
        };
        let command = get("call-command").unwrap_or_default().to_ascii_lowercase();
        match command.as_str() {
            "execute" => {
                let Some(app) = get("execute-app-name") else {
                    return "-ERR invalid application".into();
                };
                let arg = get("execute-app-arg")
                    .or_else(|| body.map(|b| String::from_utf8_lossy(&b).into_owned()))
                    .unwrap_or_default();
                let mut call = AppCall::new(app, arg);
                if let Some(id) = get("Event-UUID") {
                    call.uuid = id;
                }
                call.loops = get("loops").and_then(|l| l.parse().ok()).unwrap_or(1);
                channel.send(Command::Execute(call)).await;
                "+OK".into()
            }
            "hangup" => {
                let cause = get("hangup-cause")
                    .and_then(|c| HangupCause::parse(&c))
                    .unwrap_or(HangupCause::NormalClearing);
                channel.send(Command::Hangup(cause)).await;
                "+OK".into()
            }
            _ => "-ERR invalid command".into(),
        }
    }

    /// The outbound `connect` reply: the Channel's data with URL-encoded
    /// values and no Content-Length, ending with the reply headers.
    fn connect_reply(&self, uuid: &str, full: bool) -> Frame {
        let mut ev = self.sw.events.event(
            "CHANNEL_DATA",
            None,
            origin("mod_event_socket.c", "parse_command", 2120),
        );
        if let Some(h) = self.sw.channel(uuid) {
            h.with(|d| d.write_headers(&mut ev, true));
        }
        let mut frame = Frame::new();
        let mut buf = bytes::BytesMut::new();
        for (k, v) in &ev.headers {
            buf.clear();
            esl::event::url_encode(v.as_bytes(), &mut buf);
            frame.push_header(k, &String::from_utf8_lossy(&buf));
        }
        frame.push_header("Content-Type", "command/reply");
        frame.push_header("Reply-Text", "%2BOK%0A");
        frame.push_header("Socket-Mode", "async");
        frame.push_header("Control", if full { "full" } else { "single-channel" });
        frame
    }
}

fn log_frame(line: &LogLine) -> Frame {
    Frame::log_data(&esl::LogData {
        level: line.level,
        text_channel: line.text_channel,
        file: line.at.file,
        func: line.at.function,
        line: line.at.line,
        user_data: &line.uuid,
        text: &line.text,
    })
}

/// Converts a switch event to the `esl` crate's event for serialising.
pub fn to_esl(ev: &SwitchEvent) -> esl::Event {
    let mut out = esl::Event::empty();
    for (k, v) in &ev.headers {
        out.add_header(k, v);
    }
    if let Some(b) = &ev.body {
        out.set_body(Bytes::from(b.clone()));
    }
    out
}

fn split_command(command: &str) -> (&str, &str) {
    let command = command.trim();
    match command.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (command, ""),
    }
}

/// `switch_log_str2level`: a level name or number; no argument means debug.
fn log_level(level: &str) -> Option<u8> {
    Some(match level.to_ascii_lowercase().as_str() {
        "" | "debug" => 7,
        "console" => 0,
        "alert" => 1,
        "crit" => 2,
        "err" | "error" => 3,
        "warning" => 4,
        "notice" => 5,
        "info" => 6,
        n => n.parse::<u8>().ok().filter(|n| *n <= 7)?,
    })
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, ServerCodec>,
    frame: Frame,
) -> Next {
    match framed.send(frame).await {
        Ok(()) => Next::Continue,
        Err(_) => Next::Close,
    }
}

async fn recv(rx: Option<&mut mpsc::Receiver<Delivery>>) -> Option<Delivery> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
