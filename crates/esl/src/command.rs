//! The commands a client sends, for both sides: the client encodes them
//! ([`crate::ClientCodec`]), a server decodes them ([`crate::ServerCodec`]).
//!
//! Every argument, header name and header value is checked before anything is
//! written: CR, LF and NUL are refused (they would end the command early and let the
//! rest of the text run as a second command), and so is a colon in a header name.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::RawMessage;
use crate::error::{Error, Result};
use crate::event::EventFormat;

/// One ESL command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `auth <password>`.
    Auth {
        /// The password.
        password: String,
    },
    /// `userauth <user>:<password>` (`user` is usually `name@domain`).
    UserAuth {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// `api <command>`: runs an API command and waits for its output.
    Api {
        /// The API command and its arguments, e.g. `status`.
        command: String,
    },
    /// `bgapi <command>` with an optional client-chosen `Job-UUID` header.
    BgApi {
        /// The API command and its arguments.
        command: String,
        /// The `Job-UUID` to use (FreeSWITCH picks one when absent).
        job_uuid: Option<String>,
    },
    /// `event <format> <names…>` (`ALL`, `CUSTOM sub::class`, …).
    Event {
        /// The serialisation to receive events in.
        format: EventFormat,
        /// Event names (and CUSTOM subclasses).
        events: Vec<String>,
    },
    /// `nixevent <names…>`.
    NixEvent {
        /// Event names to stop receiving.
        events: Vec<String>,
    },
    /// `noevents`.
    NoEvents,
    /// `filter <header> <value>`.
    Filter {
        /// Header name.
        header: String,
        /// Value to match.
        value: String,
    },
    /// `filter delete <header> [<value>]` (`filter delete all` is `header == "all"`).
    FilterDelete {
        /// Header name (or `all`).
        header: String,
        /// Value, if only one filter on that header is to go.
        value: Option<String>,
    },
    /// `divert_events on|off`.
    DivertEvents(bool),
    /// `myevents [<uuid>] [<format>]`: the events of one channel (outbound mode: of the
    /// controlled channel).
    MyEvents {
        /// Channel UUID (inbound mode).
        uuid: Option<String>,
        /// Format (plain when absent).
        format: Option<EventFormat>,
    },
    /// `sendmsg [<uuid>]` with headers (`call-command`, `execute-app-name`, …) and an
    /// optional body.
    SendMsg {
        /// Target channel; absent in outbound mode (the controlled channel).
        uuid: Option<String>,
        /// Headers, in order (no `Content-Length`: it follows from `body`).
        headers: Vec<(String, String)>,
        /// Optional body.
        body: Option<Bytes>,
    },
    /// `sendevent <name>` with headers and an optional body.
    SendEvent {
        /// Event name (`CUSTOM`, `NOTIFY`, …).
        name: String,
        /// Headers, in order (no `Content-Length`: it follows from `body`).
        headers: Vec<(String, String)>,
        /// Optional body.
        body: Option<Bytes>,
    },
    /// `log [<level>]`.
    Log {
        /// Level name or number.
        level: Option<String>,
    },
    /// `nolog`.
    NoLog,
    /// `linger [<seconds>]` (outbound mode).
    Linger {
        /// Seconds to linger after hangup; absent = until `exit`.
        seconds: Option<u32>,
    },
    /// `nolinger`.
    NoLinger,
    /// `connect` (outbound mode): returns the channel data.
    Connect,
    /// `resume` (outbound mode): resume the dialplan when the socket closes.
    Resume,
    /// `getvar <name>` (outbound mode).
    GetVar {
        /// Variable name.
        name: String,
    },
    /// `exit`.
    Exit,
    /// Anything else, kept as sent.
    Other {
        /// The command line.
        line: String,
        /// Headers, in order (no `Content-Length`).
        headers: Vec<(String, String)>,
        /// Optional body.
        body: Option<Bytes>,
    },
}

fn check(what: &'static str, s: &str) -> Result<()> {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        Err(Error::invalid(what, s))
    } else {
        Ok(())
    }
}

fn check_headers(headers: &[(String, String)]) -> Result<()> {
    for (n, v) in headers {
        check("header name", n)?;
        if n.is_empty() || n.contains(':') || n.starts_with([' ', '\t']) {
            return Err(Error::invalid("header name", n));
        }
        check("header value", v)?;
    }
    Ok(())
}

impl Command {
    // ------------------------------------------------------------ constructors

    /// `api <command>`.
    pub fn api(command: impl Into<String>) -> Command {
        Command::Api {
            command: command.into(),
        }
    }

    /// `bgapi <command>` with a `Job-UUID`.
    pub fn bgapi(command: impl Into<String>, job_uuid: impl Into<String>) -> Command {
        Command::BgApi {
            command: command.into(),
            job_uuid: Some(job_uuid.into()),
        }
    }

    /// `event <format> <names…>`.
    pub fn event<I, S>(format: EventFormat, events: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command::Event {
            format,
            events: events.into_iter().map(Into::into).collect(),
        }
    }

    /// `sendmsg` executing an application: `call-command: execute`,
    /// `execute-app-name`, `execute-app-arg` (if any).
    pub fn execute(uuid: Option<&str>, app: &str, arg: Option<&str>) -> Command {
        let mut headers = vec![
            ("call-command".to_owned(), "execute".to_owned()),
            ("execute-app-name".to_owned(), app.to_owned()),
        ];
        if let Some(arg) = arg {
            headers.push(("execute-app-arg".to_owned(), arg.to_owned()));
        }
        Command::SendMsg {
            uuid: uuid.map(str::to_owned),
            headers,
            body: None,
        }
    }

    /// `sendmsg` hanging up: `call-command: hangup`, `hangup-cause`.
    pub fn hangup(uuid: Option<&str>, cause: &str) -> Command {
        Command::SendMsg {
            uuid: uuid.map(str::to_owned),
            headers: vec![
                ("call-command".to_owned(), "hangup".to_owned()),
                ("hangup-cause".to_owned(), cause.to_owned()),
            ],
            body: None,
        }
    }

    /// The headers of a `sendmsg`/`sendevent`/other command (empty for the rest).
    pub fn headers(&self) -> &[(String, String)] {
        match self {
            Command::SendMsg { headers, .. }
            | Command::SendEvent { headers, .. }
            | Command::Other { headers, .. } => headers,
            _ => &[],
        }
    }

    /// The first header called `name` (ASCII case ignored), for the commands that carry
    /// headers; `Job-UUID` for `bgapi`.
    pub fn header(&self, name: &str) -> Option<&str> {
        if let Command::BgApi { job_uuid, .. } = self {
            return if name.eq_ignore_ascii_case("Job-UUID") {
                job_uuid.as_deref()
            } else {
                None
            };
        }
        self.headers()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds a header to a `sendmsg`/`sendevent`/other command (ignored for the rest).
    pub fn with_header(mut self, name: &str, value: &str) -> Command {
        if let Command::SendMsg { headers, .. }
        | Command::SendEvent { headers, .. }
        | Command::Other { headers, .. } = &mut self
        {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The body of a `sendmsg`/`sendevent`/other command.
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            Command::SendMsg { body, .. }
            | Command::SendEvent { body, .. }
            | Command::Other { body, .. } => body.as_ref(),
            _ => None,
        }
    }

    // ---------------------------------------------------------------- encoding

    /// Checks every argument, header name and value: no CR, LF or NUL anywhere, no colon
    /// in a header name.
    pub fn validate(&self) -> Result<()> {
        match self {
            Command::Auth { password } => check("password", password),
            Command::UserAuth { user, password } => {
                check("user", user)?;
                check("password", password)
            }
            Command::Api { command } => check("api command", command),
            Command::BgApi { command, job_uuid } => {
                check("bgapi command", command)?;
                job_uuid.as_deref().map_or(Ok(()), |j| check("Job-UUID", j))
            }
            Command::Event { events, .. } | Command::NixEvent { events } => {
                events.iter().try_for_each(|e| check("event name", e))
            }
            Command::Filter { header, value } => {
                check("filter header", header)?;
                check("filter value", value)
            }
            Command::FilterDelete { header, value } => {
                check("filter header", header)?;
                value
                    .as_deref()
                    .map_or(Ok(()), |v| check("filter value", v))
            }
            Command::MyEvents { uuid, .. } => uuid.as_deref().map_or(Ok(()), |u| check("uuid", u)),
            Command::SendMsg { uuid, headers, .. } => {
                uuid.as_deref().map_or(Ok(()), |u| check("uuid", u))?;
                check_headers(headers)
            }
            Command::SendEvent { name, headers, .. } => {
                check("event name", name)?;
                check_headers(headers)
            }
            Command::Log { level } => level.as_deref().map_or(Ok(()), |l| check("log level", l)),
            Command::GetVar { name } => check("variable name", name),
            Command::Other { line, headers, .. } => {
                check("command", line)?;
                if line.trim().is_empty() {
                    // It would go out as a blank line: no command at all.
                    return Err(Error::invalid("command", line));
                }
                check_headers(headers)
            }
            Command::NoEvents
            | Command::DivertEvents(_)
            | Command::NoLog
            | Command::Linger { .. }
            | Command::NoLinger
            | Command::Connect
            | Command::Resume
            | Command::Exit => Ok(()),
        }
    }

    /// The command line (first line), without its newline.
    pub fn line(&self) -> String {
        let mut s = String::new();
        self.write_line(&mut s);
        s
    }

    fn write_line(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = match self {
            Command::Auth { password } => write!(s, "auth {password}"),
            Command::UserAuth { user, password } => write!(s, "userauth {user}:{password}"),
            Command::Api { command } => write!(s, "api {command}"),
            Command::BgApi { command, .. } => write!(s, "bgapi {command}"),
            Command::Event { format, events } => {
                let _ = write!(s, "event {format}");
                events.iter().try_for_each(|e| write!(s, " {e}"))
            }
            Command::NixEvent { events } => {
                s.push_str("nixevent");
                events.iter().try_for_each(|e| write!(s, " {e}"))
            }
            Command::NoEvents => write!(s, "noevents"),
            Command::Filter { header, value } => write!(s, "filter {header} {value}"),
            Command::FilterDelete { header, value } => match value {
                Some(v) => write!(s, "filter delete {header} {v}"),
                None => write!(s, "filter delete {header}"),
            },
            Command::DivertEvents(on) => {
                write!(s, "divert_events {}", if *on { "on" } else { "off" })
            }
            Command::MyEvents { uuid, format } => {
                s.push_str("myevents");
                if let Some(u) = uuid {
                    let _ = write!(s, " {u}");
                }
                match format {
                    Some(f) => write!(s, " {f}"),
                    None => Ok(()),
                }
            }
            Command::SendMsg { uuid, .. } => match uuid {
                Some(u) => write!(s, "sendmsg {u}"),
                None => write!(s, "sendmsg"),
            },
            Command::SendEvent { name, .. } => write!(s, "sendevent {name}"),
            Command::Log { level } => match level {
                Some(l) => write!(s, "log {l}"),
                None => write!(s, "log"),
            },
            Command::NoLog => write!(s, "nolog"),
            Command::Linger { seconds } => match seconds {
                Some(n) => write!(s, "linger {n}"),
                None => write!(s, "linger"),
            },
            Command::NoLinger => write!(s, "nolinger"),
            Command::Connect => write!(s, "connect"),
            Command::Resume => write!(s, "resume"),
            Command::GetVar { name } => write!(s, "getvar {name}"),
            Command::Exit => write!(s, "exit"),
            Command::Other { line, .. } => write!(s, "{line}"),
        };
    }

    /// Writes the command as a client sends it: the command line, header lines,
    /// `Content-Length` if there is a body, a blank line, then the body. Refuses
    /// (writing nothing) if [`Command::validate`] fails.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<()> {
        self.validate()?;
        let mut line = String::with_capacity(64);
        self.write_line(&mut line);
        dst.put_slice(line.as_bytes());
        dst.put_u8(b'\n');
        if let Command::BgApi {
            job_uuid: Some(j), ..
        } = self
        {
            dst.put_slice(b"Job-UUID: ");
            dst.put_slice(j.as_bytes());
            dst.put_u8(b'\n');
        }
        for (n, v) in self.headers() {
            if n.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            dst.put_slice(n.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(v.as_bytes());
            dst.put_u8(b'\n');
        }
        let body = self.body().filter(|b| !b.is_empty());
        if let Some(b) = body {
            dst.put_slice(b"Content-Length: ");
            dst.put_slice(b.len().to_string().as_bytes());
            dst.put_u8(b'\n');
        }
        dst.put_u8(b'\n');
        if let Some(b) = body {
            dst.put_slice(b);
        }
        Ok(())
    }

    /// The command's wire bytes.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut b = BytesMut::new();
        self.encode(&mut b)?;
        Ok(b.freeze())
    }

    // ---------------------------------------------------------------- decoding

    /// Parses a command as a server receives it (used by [`crate::ServerCodec`]).
    pub(crate) fn from_raw(m: RawMessage) -> Result<Command> {
        let (ls, le) = m.line.unwrap_or((0, 0));
        let line = String::from_utf8_lossy(&m.head[ls as usize..le as usize]).into_owned();
        let mut headers: Vec<(String, String)> = m
            .spans
            .iter()
            .filter(|s| !s.name(&m.head).eq_ignore_ascii_case(b"Content-Length"))
            .map(|s| {
                (
                    String::from_utf8_lossy(s.name(&m.head)).into_owned(),
                    String::from_utf8_lossy(s.value(&m.head)).into_owned(),
                )
            })
            .collect();
        Ok(Command::parse(&line, &mut headers, m.body))
    }

    /// Parses a command line plus its headers and body.
    pub fn parse(line: &str, headers: &mut Vec<(String, String)>, body: Option<Bytes>) -> Command {
        let line = line.trim_matches(|c| c == ' ' || c == '\t');
        let (word, rest) = match line.find([' ', '\t']) {
            Some(i) => (&line[..i], line[i + 1..].trim_start_matches([' ', '\t'])),
            None => (line, ""),
        };
        let arg = |s: &str| {
            if s.is_empty() {
                None
            } else {
                Some(s.to_owned())
            }
        };
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let w = word.to_ascii_lowercase();
        let simple = headers.is_empty() && body.is_none();
        let cmd = match w.as_str() {
            "auth" if simple => Command::Auth {
                password: rest.to_owned(),
            },
            "userauth" if simple => {
                let (user, password) = rest.split_once(':').unwrap_or((rest, ""));
                Command::UserAuth {
                    user: user.to_owned(),
                    password: password.to_owned(),
                }
            }
            "api" if simple => Command::Api {
                command: rest.to_owned(),
            },
            "bgapi"
                if body.is_none()
                    && headers
                        .iter()
                        .all(|(n, _)| n.eq_ignore_ascii_case("Job-UUID")) =>
            {
                Command::BgApi {
                    command: rest.to_owned(),
                    job_uuid: headers.first().map(|(_, v)| v.clone()),
                }
            }
            "event" if simple => {
                let mut ev = words(rest);
                let format = match ev.first().and_then(|f| EventFormat::from_name(f)) {
                    Some(f) => {
                        ev.remove(0);
                        f
                    }
                    None => EventFormat::Plain,
                };
                Command::Event { format, events: ev }
            }
            "nixevent" if simple => Command::NixEvent {
                events: words(rest),
            },
            "noevents" if simple && rest.is_empty() => Command::NoEvents,
            "filter" if simple => {
                let (h, v) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
                if h.eq_ignore_ascii_case("delete") {
                    let v = v.trim_start();
                    let (h2, v2) = v.split_once([' ', '\t']).unwrap_or((v, ""));
                    Command::FilterDelete {
                        header: h2.to_owned(),
                        value: arg(v2.trim_start()),
                    }
                } else {
                    Command::Filter {
                        header: h.to_owned(),
                        value: v.trim_start().to_owned(),
                    }
                }
            }
            "divert_events" if simple => Command::DivertEvents(rest.eq_ignore_ascii_case("on")),
            "myevents" if simple => {
                let mut uuid = None;
                let mut format = None;
                for t in rest.split_whitespace() {
                    match EventFormat::from_name(t) {
                        Some(f) if format.is_none() => format = Some(f),
                        _ if uuid.is_none() => uuid = Some(t.to_owned()),
                        _ => {}
                    }
                }
                Command::MyEvents { uuid, format }
            }
            "sendmsg" => Command::SendMsg {
                uuid: arg(rest),
                headers: std::mem::take(headers),
                body,
            },
            "sendevent" => Command::SendEvent {
                name: rest.to_owned(),
                headers: std::mem::take(headers),
                body,
            },
            "log" if simple => Command::Log { level: arg(rest) },
            "nolog" if simple && rest.is_empty() => Command::NoLog,
            "linger" if simple && (rest.is_empty() || rest.parse::<u32>().is_ok()) => {
                Command::Linger {
                    seconds: rest.parse().ok(),
                }
            }
            "nolinger" if simple && rest.is_empty() => Command::NoLinger,
            "connect" if simple && rest.is_empty() => Command::Connect,
            "resume" if simple && rest.is_empty() => Command::Resume,
            "getvar" if simple && !rest.is_empty() => Command::GetVar {
                name: rest.to_owned(),
            },
            "exit" if simple && rest.is_empty() => Command::Exit,
            _ => Command::Other {
                line: line.to_owned(),
                headers: std::mem::take(headers),
                body,
            },
        };
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_injection() {
        for cmd in [
            Command::api("status\n\napi shutdown"),
            Command::api("status\r"),
            Command::api("sta\0tus"),
            Command::bgapi("status", "x\ny"),
            Command::Auth {
                password: "a\nb".into(),
            },
            Command::execute(Some("u"), "playback", Some("a\nb")),
            Command::execute(Some("u\n"), "playback", None),
            Command::execute(None, "x", None).with_header("bad:name", "v"),
            Command::execute(None, "x", None).with_header("bad\nname", "v"),
            Command::event(EventFormat::Plain, ["ALL\nexit"]),
            Command::Other {
                line: " \t".into(),
                headers: vec![],
                body: None,
            },
        ] {
            let mut dst = BytesMut::new();
            assert!(
                matches!(cmd.encode(&mut dst), Err(Error::InvalidArgument { .. })),
                "{cmd:?}"
            );
            assert!(dst.is_empty());
        }
    }

    #[test]
    fn encodes_like_the_fixtures() {
        let b = |c: Command| String::from_utf8(c.to_bytes().unwrap().to_vec()).unwrap();
        assert_eq!(b(Command::api("status")), "api status\n\n");
        assert_eq!(
            b(Command::bgapi(
                "version",
                "c0ffee00-0000-4000-8000-00000000e51a"
            )),
            "bgapi version\nJob-UUID: c0ffee00-0000-4000-8000-00000000e51a\n\n"
        );
        assert_eq!(
            b(Command::event(EventFormat::Plain, ["BACKGROUND_JOB"])),
            "event plain BACKGROUND_JOB\n\n"
        );
        let se = Command::SendEvent {
            name: "CUSTOM".into(),
            headers: vec![
                ("Event-Subclass".into(), "esl::fixture".into()),
                ("X-Fixture-Header".into(), "some value".into()),
                ("Content-Type".into(), "text/plain".into()),
            ],
            body: Some(Bytes::from_static(b"hello from sendevent")),
        };
        assert_eq!(
            b(se),
            "sendevent CUSTOM\nEvent-Subclass: esl::fixture\nX-Fixture-Header: some value\nContent-Type: text/plain\nContent-Length: 20\n\nhello from sendevent"
        );
        assert_eq!(
            b(Command::hangup(None, "NORMAL_CLEARING")),
            "sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n"
        );
        assert_eq!(b(Command::Linger { seconds: Some(3) }), "linger 3\n\n");
        assert_eq!(
            b(Command::FilterDelete {
                header: "Event-Name".into(),
                value: Some("CHANNEL_CREATE".into())
            }),
            "filter delete Event-Name CHANNEL_CREATE\n\n"
        );
    }

    #[test]
    fn parses_lines() {
        let p = |l: &str| Command::parse(l, &mut Vec::new(), None);
        assert_eq!(
            p("auth ClueCon"),
            Command::Auth {
                password: "ClueCon".into()
            }
        );
        assert_eq!(
            p("userauth 1000@default:secret"),
            Command::UserAuth {
                user: "1000@default".into(),
                password: "secret".into()
            }
        );
        assert_eq!(
            p("API show channels as json"),
            Command::api("show channels as json")
        );
        assert_eq!(
            p("event json ALL"),
            Command::event(EventFormat::Json, ["ALL"])
        );
        assert_eq!(
            p("event CHANNEL_CREATE"),
            Command::event(EventFormat::Plain, ["CHANNEL_CREATE"])
        );
        assert_eq!(
            p("myevents json"),
            Command::MyEvents {
                uuid: None,
                format: Some(EventFormat::Json)
            }
        );
        assert_eq!(p("linger"), Command::Linger { seconds: None });
        assert_eq!(p("exit"), Command::Exit);
        assert!(matches!(p("no_such_esl_command"), Command::Other { .. }));
    }
}
