//! Applications: what a Channel runs from its dialplan or from `sendmsg`
//! (`answer`, `playback`, `park`, `bridge`, `record`, `read`, …), each with
//! the events and variables FreeSWITCH's mod_dptools sets.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::channel::{is_true, ChannelState, HangupCause};
use crate::event::origin;
use crate::media::{file_type, Length, RATE};
use crate::session::{AppCall, Command, Interrupts, Session, Wake};

/// A log level name or number (`switch_log_str2level`).
fn log_level(s: &str) -> Option<u8> {
    Some(match s.to_ascii_uppercase().as_str() {
        "CONSOLE" => 0,
        "ALERT" => 1,
        "CRIT" => 2,
        "ERR" | "ERROR" => 3,
        "WARNING" => 4,
        "NOTICE" => 5,
        "INFO" => 6,
        "DEBUG" => 7,
        n => n.parse::<u8>().ok().filter(|n| *n <= 7)?,
    })
}

/// Application-Response when an Application has nothing to say.
const NONE: &str = "_none_";

/// Applications that need media, so the Channel is pre-answered first.
const MEDIA_APPLICATIONS: &[&str] = &[
    "playback",
    "endless_playback",
    "speak",
    "record",
    "read",
    "play_and_get_digits",
    "echo",
    "delay_echo",
    "conference",
];

/// How a playback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Played {
    Done,
    Break,
    Hangup,
    NotFound,
}

impl Session {
    /// Runs one Application between CHANNEL_EXECUTE and
    /// CHANNEL_EXECUTE_COMPLETE.
    pub(crate) async fn execute(&mut self, call: AppCall) {
        let arg = self.expand(&call.arg);
        if MEDIA_APPLICATIONS.contains(&call.name.as_str()) {
            // Applications without SAF_SUPPORT_NOMEDIA get media before they
            // run (switch_core_session_execute_application_get_flags).
            self.pre_answer().await;
        }
        self.data(|d| {
            if !arg.is_empty() {
                d.vars.set_last("current_application_data", arg.as_str());
            }
            d.vars.set_last("current_application", call.name.as_str());
        });
        let mut post: Vec<(&str, &str)> = vec![("Application", &call.name)];
        if !arg.is_empty() {
            post.push(("Application-Data", &arg));
        }
        post.push(("Application-UUID", &call.uuid));
        let at = origin("switch_core_session.c", "switch_core_session_exec", 2902);
        self.log(6, 1, at, |d| {
            format!("EXECUTE [depth=0] {} {}({arg})", d.name, call.name)
        });
        let at = origin("switch_core_session.c", "switch_core_session_exec", 2944);
        self.fire("CHANNEL_EXECUTE", at, &[], &post, true);

        let mut response = NONE.to_owned();
        for _ in 0..call.loops.max(1) {
            response = self.run_application(&call.name, &arg).await;
            if self.hung_up {
                break;
            }
        }

        self.data(|d| {
            d.vars.set("last_app", call.name.as_str());
            d.vars.set("last_arg", arg.as_str());
            d.vars
                .set_last("current_application_response", response.as_str());
        });
        let mut post: Vec<(&str, &str)> = vec![("Application", &call.name)];
        if !arg.is_empty() {
            post.push(("Application-Data", &arg));
        }
        post.push(("Application-Response", &response));
        post.push(("Application-UUID", &call.uuid));
        let at = origin("switch_core_session.c", "switch_core_session_exec", 2967);
        self.fire("CHANNEL_EXECUTE_COMPLETE", at, &[], &post, true);
    }

    async fn run_application(&mut self, name: &str, arg: &str) -> String {
        match name {
            "answer" => {
                self.answer().await;
                NONE.into()
            }
            "pre_answer" => {
                self.pre_answer().await;
                NONE.into()
            }
            "ring_ready" => {
                self.ring_ready().await;
                NONE.into()
            }
            "park" => {
                self.park().await;
                NONE.into()
            }
            "echo" | "delay_echo" => {
                self.wait_forever().await;
                NONE.into()
            }
            "hangup" => {
                let cause = HangupCause::parse(arg).unwrap_or(HangupCause::NormalClearing);
                self.hangup(cause);
                NONE.into()
            }
            "sleep" => {
                let ms = arg.trim().parse::<u64>().unwrap_or(0);
                self.sleep(Duration::from_millis(ms)).await;
                NONE.into()
            }
            "set" | "export" => {
                if let Some((k, v)) = arg.split_once('=') {
                    let k = k.trim().trim_start_matches("nolocal:");
                    if v.is_empty() {
                        self.data(|d| d.vars.unset(k));
                    } else {
                        self.set_var(k, v);
                    }
                }
                NONE.into()
            }
            "unset" => {
                self.data(|d| d.vars.unset(arg.trim()));
                NONE.into()
            }
            "multiset" => {
                for pair in arg.split_whitespace() {
                    if let Some((k, v)) = pair.split_once('=') {
                        self.set_var(k, v);
                    }
                }
                NONE.into()
            }
            "playback" | "endless_playback" => {
                self.playback_app(arg, name == "endless_playback").await
            }
            "speak" => {
                self.speak(arg).await;
                NONE.into()
            }
            "record" => self.record_app(arg).await,
            "read" => {
                self.read_app(arg).await;
                NONE.into()
            }
            "play_and_get_digits" => {
                self.play_and_get_digits(arg).await;
                NONE.into()
            }
            "bridge" => self.bridge_app(arg).await,
            "conference" => {
                self.conference_app(arg).await;
                NONE.into()
            }
            "socket" => {
                self.socket_app(arg).await;
                NONE.into()
            }
            "transfer" => {
                let mut parts = arg.split_whitespace();
                let destination = parts.next().unwrap_or("").to_owned();
                let _dialplan = parts.next();
                let context = parts
                    .next()
                    .map(str::to_owned)
                    .unwrap_or_else(|| self.handle.with(|d| d.profile.context.clone()));
                self.transfer = Some((destination, context));
                NONE.into()
            }
            "respond" => {
                self.respond(arg).await;
                NONE.into()
            }
            "sched_hangup" => {
                // `[+]<seconds> [cause]`: seconds from now (FreeSWITCH also
                // takes an absolute epoch without the `+`).
                let mut words = arg.split_whitespace();
                let when = words.next().unwrap_or("0");
                let cause = words
                    .next()
                    .and_then(HangupCause::parse)
                    .unwrap_or(HangupCause::AllottedTimeout);
                let secs: i64 = when.trim_start_matches('+').parse().unwrap_or(0);
                let secs = if when.starts_with('+') {
                    secs
                } else {
                    secs - self.sw.events.clock.now_us() / 1_000_000
                };
                self.schedule(
                    Duration::from_secs(secs.max(0) as u64),
                    crate::session::FarAction::ScheduledHangup(cause),
                );
                NONE.into()
            }
            "log" => {
                // `[level] text`, as mod_dptools' log application.
                let (level, text) = match arg.split_once(' ') {
                    Some((l, t)) if log_level(l).is_some() => (log_level(l).unwrap_or(7), t),
                    _ => (7, arg),
                };
                let text = text.to_owned();
                self.log(
                    level,
                    3,
                    origin("mod_dptools.c", "log_function", 1730),
                    move |_| text,
                );
                NONE.into()
            }
            "info" => {
                self.log(6, 3, origin("mod_dptools.c", "info_function", 1766), |d| {
                    let mut ev = crate::event::SwitchEvent::default();
                    d.write_headers(&mut ev, true);
                    let mut out = String::from("CHANNEL_DATA:\n");
                    for (k, v) in &ev.headers {
                        out.push_str(&format!("{k}: [{v}]\n"));
                    }
                    out
                });
                NONE.into()
            }
            "event" => {
                self.event_app(arg);
                NONE.into()
            }
            other => {
                tracing::warn!(uuid = %self.uuid, app = other, "invalid application");
                self.hangup(HangupCause::DestinationOutOfOrder);
                NONE.into()
            }
        }
    }

    /// `respond <sip code> [reason]` (mod_sofia): a provisional code rings
    /// or opens early media, a final failure hangs up with its cause.
    async fn respond(&mut self, arg: &str) {
        let code: u16 = arg
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        match code {
            180 => self.ring_ready().await,
            183 => self.pre_answer().await,
            200 => self.answer().await,
            300..=699 => {
                self.set_var("sip_term_status", code.to_string());
                self.hangup(HangupCause::from_sip(code));
            }
            _ => tracing::warn!(uuid = %self.uuid, arg, "respond: unsupported code"),
        }
    }

    /// `event Event-Name=X,Event-Subclass=y,header=value,…`: fires an event
    /// carrying this Channel's data and the given headers.
    fn event_app(&self, arg: &str) {
        let pairs: Vec<(&str, &str)> = arg
            .split(',')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let subclass = get("Event-Subclass");
        let name = get("Event-Name").unwrap_or(if subclass.is_some() {
            "CUSTOM"
        } else {
            "MESSAGE"
        });
        if !self.sw.bus.wants(name, subclass) {
            return;
        }
        let mut ev = self.sw.events.event(
            name,
            subclass,
            origin("mod_dptools.c", "event_function", 1640),
        );
        self.handle.with(|d| d.write_headers(&mut ev, true));
        for (k, v) in &pairs {
            if !k.eq_ignore_ascii_case("Event-Name") && !k.eq_ignore_ascii_case("Event-Subclass") {
                ev.push(*k, *v);
            }
        }
        self.sw.bus.publish(ev);
    }

    /// `socket <host:port> [async] [full]`: connects an outbound Event Socket
    /// for this Channel, then parks while the socket's client drives it.
    async fn socket_app(&mut self, arg: &str) {
        let mut words = arg.split_whitespace();
        let addr = words.next().unwrap_or("").to_owned();
        let full = words.any(|w| w == "full");
        let stream = match tokio::net::TcpStream::connect(&addr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(uuid = %self.uuid, %addr, error = %e, "socket: cannot connect");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let (tx, mut connected) = oneshot::channel();
        let conn =
            crate::server::Connection::outbound(self.sw.clone(), self.uuid.clone(), full, tx);
        self.sw.tracker.spawn(conn.serve(stream));
        // mod_event_socket parks the Channel once the client has sent `connect`.
        loop {
            tokio::select! {
                r = &mut connected => {
                    if r.is_err() {
                        return;
                    }
                    break;
                }
                w = self.wait(None, Interrupts::NONE) => {
                    if matches!(w, Wake::Hangup | Wake::Transfer) {
                        return;
                    }
                }
            }
        }
        self.park().await;
    }

    /// Expands `${var}` references from the Channel's variables and profile.
    pub(crate) fn expand(&self, s: &str) -> String {
        if !s.contains("${") {
            return s.to_owned();
        }
        self.handle.with(|d| {
            let mut out = String::with_capacity(s.len());
            let mut rest = s;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let Some(end) = rest[start..].find('}') else {
                    out.push_str(&rest[start..]);
                    return out;
                };
                let name = &rest[start + 2..start + end];
                let value = match name {
                    "uuid" => Some(d.uuid.clone()),
                    "destination_number" => Some(d.profile.destination_number.clone()),
                    "caller_id_number" => Some(d.profile.caller_id_number.clone()),
                    "caller_id_name" => Some(d.profile.caller_id_name.clone()),
                    "context" => Some(d.profile.context.clone()),
                    "channel_name" => Some(d.name.clone()),
                    _ => d.vars.get(name).map(str::to_owned),
                };
                out.push_str(value.as_deref().unwrap_or(""));
                rest = &rest[start + end + 1..];
            }
            out.push_str(rest);
            out
        })
    }

    /// `park`: wait for instructions, running whatever `sendmsg` queues.
    pub(crate) async fn park(&mut self) {
        self.fire(
            "CHANNEL_PARK",
            origin("switch_ivr.c", "switch_ivr_park", 1002),
            &[],
            &[],
            true,
        );
        let interrupts = Interrupts {
            queued: true,
            ..Interrupts::NONE
        };
        loop {
            if let Some(app) = self.queue.pop_front() {
                Box::pin(self.execute(app)).await;
                if self.hung_up || self.transfer.is_some() || self.bridge.is_some() {
                    break;
                }
                continue;
            }
            match self.wait(None, interrupts).await {
                Wake::Hangup | Wake::Transfer | Wake::Kicked => break,
                _ => {}
            }
        }
        let at = origin("switch_ivr.c", "switch_ivr_park", 1213);
        self.fire("CHANNEL_UNPARK", at, &[], &[], true);
    }

    async fn wait_forever(&mut self) {
        loop {
            match self.wait(None, Interrupts::NONE).await {
                Wake::Hangup | Wake::Transfer | Wake::Break | Wake::Kicked | Wake::Queued => return,
                _ => {}
            }
        }
    }

    /// Waits a switch-time duration; only hangup, break and transfer end it early.
    pub(crate) async fn sleep(&mut self, d: Duration) -> Wake {
        let deadline = self.sw.events.clock.deadline(d);
        loop {
            if let w @ (Wake::Elapsed
            | Wake::Hangup
            | Wake::Break
            | Wake::Transfer
            | Wake::Queued
            | Wake::Kicked) = self.wait(Some(deadline), Interrupts::NONE).await
            {
                return w;
            }
        }
    }

    /// Plays for `length` (forever if `None`); DTMF in `terminators` stops it.
    async fn play_for(
        &mut self,
        length: Option<Duration>,
        terminators: &str,
    ) -> (Played, Duration) {
        let started = self.sw.events.clock.now_us();
        let deadline = length.map(|l| self.sw.events.clock.deadline(l));
        let interrupts = Interrupts {
            dtmf: !terminators.is_empty(),
            ..Interrupts::NONE
        };
        let outcome = loop {
            match self.wait(deadline, interrupts).await {
                Wake::Elapsed => break Played::Done,
                Wake::Hangup => break Played::Hangup,
                Wake::Break | Wake::Transfer | Wake::Queued | Wake::Kicked => break Played::Break,
                Wake::Dtmf => {
                    let hit = self
                        .dtmf
                        .iter()
                        .position(|c| terminators == "any" || terminators.contains(*c));
                    if let Some(i) = hit {
                        let c = self.dtmf.remove(i).unwrap_or_default();
                        self.set_var("playback_terminator_used", c.to_string());
                        break Played::Break;
                    }
                }
                _ => {}
            }
        };
        let played_us = (self.sw.events.clock.now_us() - started).max(0) as u64;
        let mut played = Duration::from_micros(played_us);
        if let (Played::Done, Some(l)) = (outcome, length) {
            played = l;
        }
        (outcome, played)
    }

    /// Plays one source with PLAYBACK_START/STOP and the `playback_*` variables.
    async fn play_source(&mut self, source: &str, terminators: &str) -> Played {
        let sw = self.sw.clone();
        let length = match sw.media.length(source).await {
            Ok(Length(l)) => l,
            Err(e) => {
                tracing::warn!(uuid = %self.uuid, error = %e, "playback failed");
                return Played::NotFound;
            }
        };
        let kind = file_type(source).to_owned();
        self.fire(
            "PLAYBACK_START",
            origin("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
            &[],
            &[
                ("Playback-File-Type", &kind),
                ("Playback-File-Path", source),
            ],
            true,
        );
        let (played, elapsed) = self.play_for(length, terminators).await;
        let ms = elapsed.as_millis();
        let samples = (ms * u128::from(RATE) / 1000).to_string();
        self.data(|d| {
            d.vars.set("playback_last_offset_pos", samples.as_str());
            d.vars.set("playback_seconds", (ms / 1000).to_string());
            d.vars.set("playback_ms", ms.to_string());
            d.vars.set("playback_samples", samples.as_str());
        });
        let status = if played == Played::Done {
            "done"
        } else {
            "break"
        };
        self.fire(
            "PLAYBACK_STOP",
            origin("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
            &[],
            &[
                ("Playback-File-Type", &kind),
                ("Playback-File-Path", source),
                ("Playback-Status", status),
            ],
            true,
        );
        played
    }

    /// Plays a list of sources (`file_string://a!b` or one source).
    async fn play_sources(&mut self, arg: &str, terminators: &str) -> Played {
        let sources: Vec<String> = match arg.strip_prefix("file_string://") {
            Some(list) => list.split('!').map(str::to_owned).collect(),
            None => vec![arg.to_owned()],
        };
        let mut last = Played::Done;
        for s in sources {
            last = self.play_source(&s, terminators).await;
            if last != Played::Done {
                break;
            }
        }
        last
    }

    fn terminators(&self) -> String {
        match self.var("playback_terminators") {
            Some(t) if t.eq_ignore_ascii_case("none") => String::new(),
            Some(t) => t,
            None => "*".to_owned(),
        }
    }

    async fn playback_app(&mut self, arg: &str, endless: bool) -> String {
        self.pre_answer().await;
        let terminators = self.terminators();
        loop {
            let played = self.play_sources(arg, &terminators).await;
            match played {
                Played::Done if endless => continue,
                Played::Done | Played::Break => return "FILE PLAYED".into(),
                Played::Hangup => return "FILE PLAYED".into(),
                Played::NotFound => return "FILE NOT FOUND".into(),
            }
        }
    }

    /// `speak engine|voice|text`: about 70 ms a character, as a TTS voice reads.
    async fn speak(&mut self, arg: &str) {
        self.pre_answer().await;
        let text = arg.splitn(3, '|').last().unwrap_or("");
        let length = Duration::from_millis(300 + 70 * text.chars().count() as u64);
        let terminators = self.terminators();
        self.play_for(Some(length), &terminators).await;
    }

    /// Collects up to `max` digits: the first within `first`, each next within
    /// `between`; a terminator ends early. Returns the digits and the
    /// terminator used.
    async fn collect_digits(
        &mut self,
        max: usize,
        terminators: &str,
        first: Duration,
        between: Duration,
    ) -> (String, Option<char>) {
        let mut digits = String::new();
        let interrupts = Interrupts {
            dtmf: true,
            ..Interrupts::NONE
        };
        loop {
            while let Some(c) = self.dtmf.pop_front() {
                if terminators.contains(c) {
                    return (digits, Some(c));
                }
                digits.push(c);
                if digits.len() >= max {
                    return (digits, None);
                }
            }
            let wait = if digits.is_empty() { first } else { between };
            let deadline = self.sw.events.clock.deadline(wait);
            loop {
                match self.wait(Some(deadline), interrupts).await {
                    Wake::Dtmf => break,
                    Wake::Elapsed | Wake::Hangup | Wake::Break | Wake::Transfer | Wake::Kicked => {
                        return (digits, None)
                    }
                    _ => {}
                }
            }
        }
    }

    /// `read <min> <max> <file> <var> <timeout_ms> <terminators> [digit_timeout_ms]`.
    async fn read_app(&mut self, arg: &str) {
        let a: Vec<&str> = arg.split_whitespace().collect();
        let num = |i: usize, d: u64| a.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
        let (min, max) = (num(0, 0) as usize, num(1, 128) as usize);
        let file = a.get(2).copied().unwrap_or("");
        let var = a.get(3).copied().unwrap_or("read_digits_var").to_owned();
        let timeout = Duration::from_millis(num(4, 5000));
        let terminators = a.get(5).copied().unwrap_or("#").to_owned();
        let between = Duration::from_millis(num(6, timeout.as_millis() as u64));
        self.pre_answer().await;
        if !file.is_empty() && self.play_sources(file, "any").await == Played::Hangup {
            return;
        }
        let (digits, term) = self
            .collect_digits(max, &terminators, timeout, between)
            .await;
        let result = if digits.len() >= min && !digits.is_empty() {
            "success"
        } else if digits.is_empty() {
            "timeout"
        } else {
            "failure"
        };
        self.data(|d| {
            d.vars.set(&var, digits.as_str());
            d.vars.set("read_result", result);
            if let Some(t) = term {
                d.vars.set("read_terminator_used", t.to_string());
            }
        });
    }

    /// `play_and_get_digits <min> <max> <tries> <timeout_ms> <terminators>
    /// <file> <invalid_file> <var> <regexp> [digit_timeout_ms]`.
    async fn play_and_get_digits(&mut self, arg: &str) {
        let a: Vec<&str> = arg.split_whitespace().collect();
        let num = |i: usize, d: u64| a.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
        let (min, max, tries) = (num(0, 1) as usize, num(1, 1) as usize, num(2, 1).max(1));
        let timeout = Duration::from_millis(num(3, 5000));
        let terminators = a.get(4).copied().unwrap_or("#").to_owned();
        let file = a.get(5).copied().unwrap_or("").to_owned();
        let invalid = a.get(6).copied().unwrap_or("").to_owned();
        let var = a.get(7).copied().unwrap_or("pagd_input").to_owned();
        let pattern = a.get(8).copied().unwrap_or("\\d+");
        let regex = regex::Regex::new(pattern).ok();
        let between = Duration::from_millis(num(9, timeout.as_millis() as u64));
        self.pre_answer().await;
        for _ in 0..tries {
            self.dtmf.clear();
            if !file.is_empty() && self.play_sources(&file, "any").await == Played::Hangup {
                return;
            }
            let (digits, term) = self
                .collect_digits(max, &terminators, timeout, between)
                .await;
            if self.hung_up {
                return;
            }
            let valid = digits.len() >= min && regex.as_ref().is_none_or(|r| r.is_match(&digits));
            if let Some(t) = term {
                self.set_var("read_terminator_used", t.to_string());
            }
            if valid {
                self.set_var(&var, digits);
                return;
            }
            self.set_var(&format!("{var}_invalid"), digits);
            if !invalid.is_empty()
                && invalid != "silence_stream://0"
                && self.play_sources(&invalid, "").await == Played::Hangup
            {
                return;
            }
        }
        self.data(|d| d.vars.unset(&var));
    }

    /// `record <path> [time_limit_s] [silence_thresh] [silence_hits_s]`.
    async fn record_app(&mut self, arg: &str) -> String {
        let a: Vec<&str> = arg.split_whitespace().collect();
        let Some(path) = a.first().map(|p| p.to_string()) else {
            return NONE.into();
        };
        self.pre_answer().await;
        let limit = a
            .get(1)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs);
        let silence_hits = a
            .get(3)
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let voiced = self
            .far
            .as_ref()
            .and_then(|f| f.speak)
            .unwrap_or(Duration::ZERO);
        // The far end talks for `voiced`, then is silent: silence detection
        // ends the recording `silence_hits` after that.
        let silence_end = silence_hits.map(|h| voiced + h);
        let length = match (limit, silence_end) {
            (Some(l), Some(s)) => Some(l.min(s)),
            (l, s) => l.or(s),
        };
        let cause_at_end = match (limit, silence_end) {
            (Some(l), Some(s)) if s < l => "success-silence",
            (None, Some(_)) => "success-silence",
            _ => "success-maxtime",
        };
        self.record_start(path.clone(), None);
        let terminators = self.terminators();
        let (played, elapsed) = self.play_for(length, &terminators).await;
        let cause = if played == Played::Done {
            cause_at_end
        } else {
            "success"
        };
        // Finish as `record_stop` does, with the recorded length.
        self.recordings.retain(|r| r.path != path);
        let channels = self.record_channels();
        self.write_recording(&path, elapsed, voiced.min(elapsed), channels)
            .await;
        self.set_var("record_completion_cause", cause);
        self.fire_record_stop(&path, cause);
        NONE.into()
    }

    /// `bridge <dial string>`: originate a B-leg and bridge to it.
    async fn bridge_app(&mut self, arg: &str) -> String {
        let timeout = self
            .var("call_timeout")
            .or_else(|| self.var("originate_timeout"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60);
        let (cid_name, cid_number) = self.handle.with(|d| {
            (
                d.profile.caller_id_name.clone(),
                d.profile.caller_id_number.clone(),
            )
        });
        let (tx, mut rx) = oneshot::channel();
        let sw = self.sw.clone();
        let b = match sw.start_bridge_leg(
            arg,
            &cid_name,
            &cid_number,
            Duration::from_secs(timeout),
            tx,
            self.handle.clone(),
        ) {
            Ok(b) => b,
            Err(cause) => return self.bridge_failed(cause),
        };
        // Ringing: the caller may hang up meanwhile, which cancels the B-leg.
        let result = loop {
            tokio::select! {
                r = &mut rx => break r.unwrap_or(Err(HangupCause::NormalTemporaryFailure)),
                w = self.wait(None, Interrupts::NONE) => {
                    if matches!(w, Wake::Hangup | Wake::Transfer) {
                        b.send(Command::Hangup(HangupCause::OriginatorCancel)).await;
                        return NONE.into();
                    }
                }
            }
        };
        if let Err(cause) = result {
            return self.bridge_failed(cause);
        }
        self.answer().await;
        b.send(Command::Bridged(self.uuid.clone())).await;
        self.bridged_with(b).await;
        if self.var("hangup_after_bridge").is_some_and(|v| is_true(&v)) {
            self.hangup(HangupCause::NormalClearing);
        }
        NONE.into()
    }

    fn bridge_failed(&mut self, cause: HangupCause) -> String {
        self.data(|d| {
            d.vars.set("originate_disposition", cause.as_str());
            d.vars.set("DIALSTATUS", cause.as_str());
            d.vars.set("originate_failed_cause", cause.as_str());
        });
        let continue_on_fail = self
            .var("continue_on_fail")
            .is_some_and(|v| is_true(&v) || v.contains(cause.as_str()));
        if !continue_on_fail {
            self.hangup(cause);
        }
        NONE.into()
    }

    /// The A side of a bridge: fire CHANNEL_BRIDGE, stay until either side
    /// leaves, fire CHANNEL_UNBRIDGE.
    async fn bridged_with(&mut self, b: crate::session::ChannelHandle) {
        let b_uuid = b.uuid();
        let now = self.sw.events.clock.now_us();
        self.data(|d| {
            d.bridged_to = Some(b_uuid.clone());
            d.times.bridged = now;
            d.vars.set("bridge_uuid", b_uuid.as_str());
            d.vars.set("signal_bond", b_uuid.as_str());
        });
        b.update(|d| {
            d.times.bridged = now;
            d.vars.set("bridge_uuid", self.uuid.as_str());
        });
        let originatee = b.with(|d| crate::channel::OtherLeg::of(d, "originatee"));
        let originator = self
            .handle
            .with(|d| crate::channel::OtherLeg::of(d, "originator"));
        self.data(|d| d.other_leg = Some(originatee));
        b.update(|d| d.other_leg = Some(originator));
        self.bridge = Some(b);
        let ids = [
            ("Bridge-A-Unique-ID", self.uuid.clone()),
            ("Bridge-B-Unique-ID", b_uuid.clone()),
        ];
        let pre: Vec<(&str, &str)> = ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let at = origin(
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            1689,
        );
        self.fire("CHANNEL_BRIDGE", at, &pre, &[], true);
        loop {
            match self.wait(None, Interrupts::NONE).await {
                Wake::Hangup | Wake::Unbridged | Wake::Transfer => break,
                _ => {}
            }
        }
        let at = origin(
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            1879,
        );
        self.fire("CHANNEL_UNBRIDGE", at, &pre, &[], true);
        self.data(|d| {
            d.bridged_to = None;
        });
        if let Some(b) = self.bridge.take() {
            if !self.hung_up {
                b.send(Command::Unbridge).await;
            }
            // A hangup tells the other side from `finish`.
            if self.hung_up {
                self.bridge = Some(b);
            }
        }
    }

    /// `uuid_bridge`: this parked Channel bridges to another parked one; both
    /// hang up when the bridge ends, unless `park_after_bridge` keeps them
    /// for more instructions. FreeSWITCH moves both through
    /// CS_HIBERNATE/CS_RESET/CS_SOFT_EXECUTE and announces `uuid_bridge` as
    /// an execution that never completes.
    pub(crate) async fn uuid_bridge(&mut self, other: &str) {
        let Some(b) = self.sw.channel(other) else {
            return;
        };
        self.enter_uuid_bridge();
        b.send(Command::Bridged(self.uuid.clone())).await;
        self.bridged_with(b).await;
        if !self.hung_up {
            if self.parks_after_bridge() {
                Box::pin(self.park()).await;
            } else {
                self.hangup(HangupCause::NormalClearing);
            }
        }
    }

    pub(crate) fn parks_after_bridge(&self) -> bool {
        self.var("park_after_bridge").is_some_and(|v| is_true(&v))
    }

    fn enter_uuid_bridge(&self) {
        self.set_state(ChannelState::Hibernate);
        self.set_state(ChannelState::Reset);
        self.set_state(ChannelState::SoftExecute);
        let app_uuid = uuid::Uuid::new_v4().to_string();
        let at = origin("switch_core_session.c", "switch_core_session_exec", 2944);
        self.fire(
            "CHANNEL_EXECUTE",
            at,
            &[],
            &[
                ("Application", "uuid_bridge"),
                ("Application-UUID", &app_uuid),
            ],
            true,
        );
    }

    /// The B side of a bridge: stay until it ends.
    pub(crate) async fn stay_bridged_b(&mut self, via_uuid_bridge: bool) {
        if via_uuid_bridge {
            self.enter_uuid_bridge();
        }
        self.set_state(ChannelState::ExchangeMedia);
        loop {
            match self.wait(None, Interrupts::NONE).await {
                Wake::Hangup | Wake::Unbridged => return,
                Wake::Transfer if self.transfer.is_some() => {
                    // Transferred away: the bridge ends for the other side too.
                    if let Some(a) = self.bridge.take() {
                        a.send(Command::Unbridge).await;
                    }
                    self.data(|d| {
                        d.bridged_to = None;
                        d.bridge_b = false;
                    });
                    return;
                }
                _ => {}
            }
        }
    }
}
