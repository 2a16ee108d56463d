//! The API commands (`api …` / `bgapi …`), with mod_commands' reply texts:
//! `status`, `version`, `originate`, `show channels|calls`, the `uuid_*`
//! family, `conference`, and the switch's own `vswitch_inbound`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::channel::{ChannelData, HangupCause};
use crate::event::{local_stamp, origin};
use crate::originate::{OriginateArgs, ORIGINATE_USAGE};
use crate::session::{AppCall, Command};
use crate::switch::{InboundCall, Switch};

/// The version string FreeSWITCH 1.10.12 reports (`api version`).
pub const VERSION: &str = "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)";

const NO_SUCH_CHANNEL: &str = "-ERR No such channel!\n";

impl Switch {
    /// Runs an API command and returns its output, firing the API event as
    /// `switch_api_execute` does.
    pub async fn api(self: &Arc<Self>, command: &str, args: &str) -> String {
        if self.bus.wants("API", None) {
            let mut ev = self.events.event(
                "API",
                None,
                origin("switch_loadable_module.c", "switch_api_execute", 2954),
            );
            ev.push("API-Command", command);
            if !args.is_empty() {
                ev.push("API-Command-Argument", args);
            }
            self.bus.publish(ev);
        }
        let argv: Vec<&str> = args.split_whitespace().collect();
        match command {
            "status" => self.status_text(),
            "version" => format!("{VERSION}\n"),
            "hostname" => self.config.hostname.clone(),
            "uptime" => self.started.elapsed().as_secs().to_string(),
            "originate" => self.originate_api(args).await,
            "show" => self.show(args),
            "uuid_exists" => match argv.first() {
                Some(u) => (self.channel(u).is_some()).to_string(),
                None => "-USAGE: <uuid>\n".into(),
            },
            "uuid_kill" => {
                let Some(uuid) = argv.first() else {
                    return "-USAGE: <uuid> [cause]\n".into();
                };
                let cause = argv
                    .get(1)
                    .and_then(|c| HangupCause::parse(c))
                    .unwrap_or(HangupCause::NormalClearing);
                self.on_channel(uuid, Command::Hangup(cause), "+OK\n").await
            }
            "uuid_answer" => match argv.first() {
                Some(uuid) => self.on_channel(uuid, Command::Answer, "+OK\n").await,
                None => "-ERR Usage: uuid_answer <uuid>\n".into(),
            },
            "uuid_pre_answer" => match argv.first() {
                Some(uuid) => self.on_channel(uuid, Command::PreAnswer, "+OK\n").await,
                None => "-ERR Usage: uuid_pre_answer <uuid>\n".into(),
            },
            "uuid_break" => match argv.first() {
                Some(uuid) => {
                    let all = argv.get(1) == Some(&"all");
                    self.on_channel(uuid, Command::Break { all }, "+OK\n").await
                }
                None => "-USAGE: <uuid> [all]\n".into(),
            },
            "uuid_broadcast" => self.uuid_broadcast(&argv).await,
            "uuid_bridge" => {
                let (Some(a), Some(b)) = (argv.first(), argv.get(1)) else {
                    return "-USAGE: <uuid> <other_uuid>\n".into();
                };
                if self.channel(b).is_none() {
                    return format!("-ERR Invalid uuid {b}\n");
                }
                let done = self.on_channel(a, Command::Bridge(b.to_string()), "").await;
                if done.is_empty() {
                    format!("+OK {b}\n")
                } else {
                    done
                }
            }
            "uuid_transfer" => self.uuid_transfer(&argv).await,
            "uuid_record" => self.uuid_record(&argv).await,
            "uuid_send_dtmf" => {
                let (Some(uuid), Some(digits)) = (argv.first(), argv.get(1)) else {
                    return "-USAGE: <uuid> <dtmf_data>\n".into();
                };
                let ok = format!("+OK {uuid} sent DTMF {digits}.\n");
                self.on_channel(uuid, Command::SendDtmf(digits.to_string()), &ok)
                    .await
            }
            "uuid_recv_dtmf" => {
                let (Some(uuid), Some(digits)) = (argv.first(), argv.get(1)) else {
                    return "-USAGE: <uuid> <dtmf_data>\n".into();
                };
                let ok = format!("+OK {uuid} received DTMF {digits}.\n");
                let cmd = Command::Dtmf {
                    digits: digits.to_string(),
                    source: "APP",
                };
                self.on_channel(uuid, cmd, &ok).await
            }
            "uuid_setvar" => {
                let (Some(uuid), Some(name)) = (argv.first(), argv.get(1)) else {
                    return "-USAGE: <uuid> <var> [value]\n".into();
                };
                let value = args
                    .splitn(3, char::is_whitespace)
                    .nth(2)
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                match self.channel(uuid) {
                    Some(h) => {
                        h.update(|d| {
                            if value.is_empty() {
                                d.vars.unset(name)
                            } else {
                                d.vars.set(name, value)
                            }
                        });
                        "+OK\n".into()
                    }
                    None => NO_SUCH_CHANNEL.into(),
                }
            }
            "uuid_getvar" => {
                let (Some(uuid), Some(name)) = (argv.first(), argv.get(1)) else {
                    return "-USAGE: <uuid> <var>\n".into();
                };
                match self.channel(uuid) {
                    Some(h) => h
                        .with(|d| channel_variable(d, name))
                        .unwrap_or_else(|| "_undef_".into()),
                    None => NO_SUCH_CHANNEL.into(),
                }
            }
            "uuid_dump" => match argv.first().and_then(|u| self.channel(u)) {
                Some(h) => h.with(|d| {
                    let mut ev = crate::event::SwitchEvent::default();
                    d.write_headers(&mut ev, true);
                    ev.headers.iter().fold(String::new(), |mut s, (k, v)| {
                        let _ = writeln!(s, "{k}: {v}");
                        s
                    })
                }),
                None => NO_SUCH_CHANNEL.into(),
            },
            "hupall" => self.hupall(&argv).await,
            "conference" => self.conference_api(args).await,
            "vswitch_inbound" => self.inbound_api(args),
            _ => format!("-ERR {command} Command not found!\n"),
        }
    }

    async fn on_channel(&self, uuid: &str, cmd: Command, ok: &str) -> String {
        if self.command(uuid, cmd).await {
            ok.to_owned()
        } else {
            NO_SUCH_CHANNEL.to_owned()
        }
    }

    /// `uuid_transfer <uuid> [-bleg|-both] <dest> [<dialplan>] [<context>]`.
    async fn uuid_transfer(&self, argv: &[&str]) -> String {
        const USAGE: &str = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n";
        let Some(uuid) = argv.first() else {
            return USAGE.into();
        };
        let (legs, rest) = match argv.get(1) {
            Some(&"-bleg") => ("bleg", &argv[2..]),
            Some(&"-both") => ("both", &argv[2..]),
            _ => ("aleg", &argv[1..]),
        };
        let Some(dest) = rest.first() else {
            return USAGE.into();
        };
        let Some(h) = self.channel(uuid) else {
            return NO_SUCH_CHANNEL.into();
        };
        let mut targets = Vec::new();
        if legs != "bleg" {
            targets.push(h.clone());
        }
        if legs != "aleg" {
            match h
                .with(|d| d.bridged_to.clone())
                .and_then(|b| self.channel(&b))
            {
                Some(b) => targets.push(b),
                None => return "-ERR no other leg to transfer\n".into(),
            }
        }
        for t in targets {
            let context = rest
                .get(2)
                .map(|c| c.to_string())
                .unwrap_or_else(|| t.with(|d| d.profile.context.clone()));
            t.send(Command::Transfer {
                destination: dest.to_string(),
                context,
            })
            .await;
        }
        "+OK\n".into()
    }

    /// `hupall [cause] [var value]`: hangs up every Channel, or those whose
    /// variable matches.
    async fn hupall(&self, argv: &[&str]) -> String {
        let cause = argv
            .first()
            .and_then(|c| HangupCause::parse(c))
            .unwrap_or(HangupCause::ManagerRequest);
        let matching = match (argv.get(1), argv.get(2)) {
            (Some(var), Some(val)) => Some((*var, *val)),
            _ => None,
        };
        for h in self.channels() {
            let hit = matching.is_none_or(|(var, val)| h.with(|d| d.vars.get(var) == Some(val)));
            if hit {
                h.send(Command::Hangup(cause)).await;
            }
        }
        match matching {
            None => format!("+OK hangup all channels with cause {cause}\n"),
            Some((var, val)) => {
                format!("+OK hangup all channels matching [{var}]=[{val}] with cause: {cause}\n")
            }
        }
    }

    fn status_text(&self) -> String {
        let up = self.started.elapsed();
        let secs = up.as_secs();
        format!(
            "UP 0 years, {} days, {} hours, {} minutes, {} seconds, {} milliseconds, {} microseconds\n\
             FreeSWITCH (Version 1.10.12-release  64bit) is ready\n\
             {} session(s) since startup\n\
             {} session(s) - peak {}, last 5min {} \n\
             0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n\
             {} session(s) max\n\
             min idle cpu 0.00/100.00\n\
             Current Stack Size/Max 240K/8192K\n",
            secs / 86_400,
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60,
            up.subsec_millis(),
            up.subsec_micros() % 1000,
            self.sessions_since_start(),
            self.channel_count(),
            self.peak_sessions(),
            self.peak_sessions(),
            self.config.max_sessions,
        )
    }

    async fn originate_api(self: &Arc<Self>, args: &str) -> String {
        let Some(mut parsed) = OriginateArgs::parse(args) else {
            return ORIGINATE_USAGE.into();
        };
        if let Some(name) = parsed.cid_name.take() {
            if parsed.dial.var("origination_caller_id_name").is_none() {
                parsed
                    .dial
                    .vars
                    .push(("origination_caller_id_name".into(), name));
            }
        }
        if let Some(num) = parsed.cid_number.take() {
            if parsed.dial.var("origination_caller_id_number").is_none() {
                parsed
                    .dial
                    .vars
                    .push(("origination_caller_id_number".into(), num));
            }
        }
        let timeout = parsed.timeout_secs.map(Duration::from_secs);
        match self.originate(&parsed.dial, parsed.target, timeout).await {
            Ok(uuid) => format!("+OK {uuid}\n"),
            Err(cause) => format!("-ERR {cause}\n"),
        }
    }

    async fn uuid_broadcast(&self, argv: &[&str]) -> String {
        let (Some(uuid), Some(path)) = (argv.first(), argv.get(1)) else {
            return "-USAGE: <uuid> <path> [aleg|bleg|both]\n".into();
        };
        let Some(h) = self.channel(uuid) else {
            return NO_SUCH_CHANNEL.into();
        };
        let leg = argv.get(2).copied().unwrap_or("aleg");
        let (name, arg) = match path.split_once("::") {
            Some((app, arg)) => (app.to_owned(), arg.to_owned()),
            None => ("playback".to_owned(), path.to_string()),
        };
        let mut targets = Vec::new();
        if matches!(leg, "aleg" | "both") {
            targets.push(h.clone());
        }
        if matches!(leg, "bleg" | "both") {
            if let Some(b) = h
                .with(|d| d.bridged_to.clone())
                .and_then(|b| self.channel(&b))
            {
                targets.push(b);
            }
        }
        for t in targets {
            t.send(Command::ExecuteNow(AppCall::new(name.clone(), arg.clone())))
                .await;
        }
        "+OK Message sent\n".into()
    }

    async fn uuid_record(&self, argv: &[&str]) -> String {
        let (Some(uuid), Some(action), Some(path)) = (argv.first(), argv.get(1), argv.get(2))
        else {
            return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
                .into();
        };
        let cmd = match *action {
            "start" => Command::RecordStart {
                path: path.to_string(),
                limit: argv.get(3).and_then(|l| l.parse::<u64>().ok()).map(Duration::from_secs),
            },
            "stop" => Command::RecordStop(path.to_string()),
            _ => return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n".into(),
        };
        self.on_channel(uuid, cmd, "+OK Success\n").await
    }

    /// `vswitch_inbound <from> <to> [script]`: injects an inbound call.
    fn inbound_api(self: &Arc<Self>, args: &str) -> String {
        let argv: Vec<&str> = args.split_whitespace().collect();
        let (Some(from), Some(to)) = (argv.first(), argv.get(1)) else {
            return "-USAGE: vswitch_inbound <from> <to> [script]\n".into();
        };
        let call = InboundCall {
            from: from.to_string(),
            to: to.to_string(),
            script: argv.get(2).map(|s| s.to_string()),
            ..InboundCall::default()
        };
        match self.inject(call) {
            Ok(uuid) => format!("+OK {uuid}\n"),
            Err(e) => format!("-ERR {e}\n"),
        }
    }

    fn show(&self, args: &str) -> String {
        let mut words = args.split_whitespace();
        let what = words.next().unwrap_or("");
        let as_json = args.ends_with("as json");
        let rows: Vec<Vec<(&'static str, String)>> = match what {
            "channels" => self
                .channels()
                .iter()
                .map(|h| h.with(channel_row))
                .collect(),
            "calls" | "bridged_calls" => {
                let all = self.channels();
                let mut rows = Vec::new();
                for h in &all {
                    let row = h.with(|d| {
                        if d.bridge_b {
                            return None;
                        }
                        let mut row = call_row(d);
                        let b = d.bridged_to.as_ref().and_then(|b| self.channel(b));
                        if what == "bridged_calls" && b.is_none() {
                            return None;
                        }
                        row.extend(b_columns(
                            b.as_ref().map(|b| b.with(|bd| bd.clone())).as_ref(),
                        ));
                        row.push((
                            "call_created_epoch",
                            (d.times.created / 1_000_000).to_string(),
                        ));
                        Some(row)
                    });
                    rows.extend(row);
                }
                rows
            }
            _ => return "-USAGE: show channels|calls|bridged_calls [as json]\n".into(),
        };
        if as_json {
            if rows.is_empty() {
                return "{\"row_count\": 0}\n".into();
            }
            let rows_json: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        r.iter()
                            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
                            .collect(),
                    )
                })
                .collect();
            let mut out = format!("{{\"row_count\":{},\"rows\":", rows.len());
            out.push_str(&serde_json::to_string(&rows_json).unwrap_or_default());
            out.push_str("}\n");
            return out;
        }
        let mut out = String::new();
        let header: Vec<&str> = rows
            .first()
            .map(|r| r.iter().map(|(k, _)| *k).collect())
            .unwrap_or_else(|| {
                vec![
                    "uuid",
                    "direction",
                    "created",
                    "created_epoch",
                    "name",
                    "state",
                ]
            });
        out.push_str(&header.join(","));
        out.push('\n');
        for r in &rows {
            out.push_str(
                &r.iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        let _ = write!(out, "\n{} total.\n", rows.len());
        out
    }
}

/// A variable as `uuid_getvar` sees it: channel variables first, then the
/// caller profile's fields.
fn channel_variable(d: &ChannelData, name: &str) -> Option<String> {
    if let Some(v) = d.vars.get(name) {
        return Some(v.to_owned());
    }
    let p = &d.profile;
    Some(match name {
        "destination_number" => p.destination_number.clone(),
        "caller_id_number" => p.caller_id_number.clone(),
        "caller_id_name" => p.caller_id_name.clone(),
        "context" => p.context.clone(),
        "ani" => p.ani.clone(),
        "uuid" => d.uuid.clone(),
        "state" => d.state.as_str().to_owned(),
        "answer_state" => d.answer_state.to_owned(),
        _ => return None,
    })
}

fn channel_row(d: &ChannelData) -> Vec<(&'static str, String)> {
    let p = &d.profile;
    let created = local_stamp(d.times.created);
    vec![
        ("uuid", d.uuid.clone()),
        ("direction", d.direction.as_str().into()),
        ("created", created),
        ("created_epoch", (d.times.created / 1_000_000).to_string()),
        ("name", d.name.clone()),
        ("state", d.state.as_str().into()),
        ("cid_name", p.caller_id_name.clone()),
        ("cid_num", p.caller_id_number.clone()),
        ("ip_addr", String::new()),
        ("dest", p.destination_number.clone()),
        (
            "application",
            d.vars.get("current_application").unwrap_or("").into(),
        ),
        (
            "application_data",
            d.vars.get("current_application_data").unwrap_or("").into(),
        ),
        ("dialplan", p.dialplan.clone()),
        ("context", p.context.clone()),
        ("read_codec", d.read_codec.into()),
        ("read_rate", d.rate.to_string()),
        ("read_bit_rate", (d.rate * 16).to_string()),
        ("write_codec", d.read_codec.into()),
        ("write_rate", d.rate.to_string()),
        ("write_bit_rate", (d.rate * 16).to_string()),
        ("secure", String::new()),
        ("hostname", d.vars.get("hostname").unwrap_or("").into()),
        ("presence_id", String::new()),
        ("presence_data", String::new()),
        ("accountcode", String::new()),
        ("callstate", d.call_state.as_str().into()),
        ("callee_name", p.callee_id_name.clone()),
        ("callee_num", p.callee_id_number.clone()),
        ("callee_direction", String::new()),
        ("call_uuid", String::new()),
        ("sent_callee_name", String::new()),
        ("sent_callee_num", String::new()),
        ("initial_cid_name", p.orig_caller_id_name.clone()),
        ("initial_cid_num", p.orig_caller_id_number.clone()),
        ("initial_ip_addr", String::new()),
        ("initial_dest", p.destination_number.clone()),
        ("initial_dialplan", p.dialplan.clone()),
        ("initial_context", p.context.clone()),
    ]
}

fn call_row(d: &ChannelData) -> Vec<(&'static str, String)> {
    let p = &d.profile;
    vec![
        ("uuid", d.uuid.clone()),
        ("direction", d.direction.as_str().into()),
        ("created", local_stamp(d.times.created)),
        ("created_epoch", (d.times.created / 1_000_000).to_string()),
        ("name", d.name.clone()),
        ("state", d.state.as_str().into()),
        ("cid_name", p.caller_id_name.clone()),
        ("cid_num", p.caller_id_number.clone()),
        ("ip_addr", String::new()),
        ("dest", p.destination_number.clone()),
        ("presence_id", String::new()),
        ("presence_data", String::new()),
        ("accountcode", String::new()),
        ("callstate", d.call_state.as_str().into()),
        ("callee_name", p.callee_id_name.clone()),
        ("callee_num", p.callee_id_number.clone()),
        ("callee_direction", String::new()),
        ("call_uuid", d.uuid.clone()),
        ("hostname", String::new()),
        ("sent_callee_name", String::new()),
        ("sent_callee_num", String::new()),
    ]
}

fn b_columns(b: Option<&ChannelData>) -> Vec<(&'static str, String)> {
    let get = |f: fn(&ChannelData) -> String| b.map(f).unwrap_or_default();
    vec![
        ("b_uuid", get(|d| d.uuid.clone())),
        ("b_direction", get(|d| d.direction.as_str().into())),
        ("b_created", get(|d| local_stamp(d.times.created))),
        (
            "b_created_epoch",
            get(|d| (d.times.created / 1_000_000).to_string()),
        ),
        ("b_name", get(|d| d.name.clone())),
        ("b_state", get(|d| d.state.as_str().into())),
        ("b_cid_name", get(|d| d.profile.caller_id_name.clone())),
        ("b_cid_num", get(|d| d.profile.caller_id_number.clone())),
        ("b_ip_addr", String::new()),
        ("b_dest", get(|d| d.profile.destination_number.clone())),
        ("b_presence_id", String::new()),
        ("b_presence_data", String::new()),
        ("b_accountcode", String::new()),
        ("b_callstate", get(|d| d.call_state.as_str().into())),
        ("b_callee_name", get(|d| d.profile.callee_id_name.clone())),
        ("b_callee_num", get(|d| d.profile.callee_id_number.clone())),
        ("b_callee_direction", String::new()),
        ("b_sent_callee_name", String::new()),
        ("b_sent_callee_num", String::new()),
    ]
}
