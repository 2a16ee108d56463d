//! One ESL message: ordered `Name: value` headers and an optional body.
//!
//! A decoded [`Frame`] keeps its whole header block as one [`Bytes`] buffer and
//! the headers as small offset pairs into it, so decoding copies nothing.
//! Frames built for sending (the server side) use the same representation.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::event::{Event, EventFormat};

/// Offsets of one header line inside a frame's header buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) name_start: u32,
    pub(crate) name_end: u32,
    pub(crate) value_start: u32,
    pub(crate) value_end: u32,
}

impl Span {
    #[inline]
    pub(crate) fn name<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.name_start as usize..self.name_end as usize]
    }
    #[inline]
    pub(crate) fn value<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.value_start as usize..self.value_end as usize]
    }
}

/// The content types FreeSWITCH sends (the `Content-Type` of a frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentType {
    /// `auth/request`: the first thing an inbound connection receives.
    AuthRequest,
    /// `command/reply`: the reply to every command except `api`.
    CommandReply,
    /// `api/response`: the reply to `api`, the output in the body.
    ApiResponse,
    /// `text/event-plain`.
    EventPlain,
    /// `text/event-json`.
    EventJson,
    /// `text/event-xml`.
    EventXml,
    /// `text/disconnect-notice` (see `Content-Disposition`: `linger` or `disconnect`).
    DisconnectNotice,
    /// `log/data`.
    LogData,
    /// `text/rude-rejection`: the connection is refused by ACL.
    RudeRejection,
    /// No `Content-Type` header (only the outbound `connect` reply… which has one) or an
    /// unknown one.
    Other,
}

impl ContentType {
    /// Classifies a `Content-Type` value.
    pub fn from_header(value: &str) -> ContentType {
        match value {
            "auth/request" => ContentType::AuthRequest,
            "command/reply" => ContentType::CommandReply,
            "api/response" => ContentType::ApiResponse,
            "text/event-plain" => ContentType::EventPlain,
            "text/event-json" => ContentType::EventJson,
            "text/event-xml" => ContentType::EventXml,
            "text/disconnect-notice" => ContentType::DisconnectNotice,
            "log/data" => ContentType::LogData,
            "text/rude-rejection" => ContentType::RudeRejection,
            _ => ContentType::Other,
        }
    }

    /// The wire value, or `None` for [`ContentType::Other`].
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            ContentType::AuthRequest => "auth/request",
            ContentType::CommandReply => "command/reply",
            ContentType::ApiResponse => "api/response",
            ContentType::EventPlain => "text/event-plain",
            ContentType::EventJson => "text/event-json",
            ContentType::EventXml => "text/event-xml",
            ContentType::DisconnectNotice => "text/disconnect-notice",
            ContentType::LogData => "log/data",
            ContentType::RudeRejection => "text/rude-rejection",
            ContentType::Other => return None,
        })
    }

    /// The event format of an event content type.
    pub fn event_format(self) -> Option<EventFormat> {
        match self {
            ContentType::EventPlain => Some(EventFormat::Plain),
            ContentType::EventJson => Some(EventFormat::Json),
            ContentType::EventXml => Some(EventFormat::Xml),
            _ => None,
        }
    }
}

/// The text FreeSWITCH sends in a disconnect notice and after `exit`.
pub const GOODBYE: &str = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";

/// The body of a `text/rude-rejection` frame.
pub const RUDE_REJECTION: &str = "Access Denied, go away.\n";

/// One ESL message.
///
/// Headers keep their order and may repeat. Lookups by name ignore ASCII case, as
/// FreeSWITCH's do, and return the first match.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Frame {
    pub(crate) head: Bytes,
    pub(crate) spans: Vec<Span>,
    pub(crate) body: Option<Bytes>,
}

fn utf8(b: &[u8]) -> &str {
    // Header blocks are ASCII in practice; a non-UTF-8 value reads as "".
    std::str::from_utf8(b).unwrap_or("")
}

impl Frame {
    /// An empty frame: no headers, no body.
    pub fn new() -> Frame {
        Frame::default()
    }

    pub(crate) fn from_parts(head: Bytes, spans: Vec<Span>, body: Option<Bytes>) -> Frame {
        Frame { head, spans, body }
    }

    /// Appends a header (after any existing ones). Nothing is checked here; the
    /// encoder refuses names or values holding CR, LF or NUL.
    pub fn push_header(&mut self, name: &str, value: &str) -> &mut Frame {
        let mut buf = match std::mem::take(&mut self.head).try_into_mut() {
            Ok(m) => m,
            Err(shared) => BytesMut::from(&shared[..]),
        };
        buf.reserve(name.len() + value.len() + 3);
        let name_start = buf.len() as u32;
        buf.put_slice(name.as_bytes());
        let name_end = buf.len() as u32;
        buf.put_slice(b": ");
        let value_start = buf.len() as u32;
        buf.put_slice(value.as_bytes());
        let value_end = buf.len() as u32;
        buf.put_u8(b'\n');
        self.head = buf.freeze();
        self.spans.push(Span {
            name_start,
            name_end,
            value_start,
            value_end,
        });
        self
    }

    /// Builder form of [`Frame::push_header`].
    pub fn with_header(mut self, name: &str, value: &str) -> Frame {
        self.push_header(name, value);
        self
    }

    /// Replaces the value of the first header called `name` (keeping its position), or
    /// appends it.
    pub fn set_header(&mut self, name: &str, value: &str) -> &mut Frame {
        match self.position(name) {
            None => self.push_header(name, value),
            Some(i) => {
                let old: Vec<(String, String)> = self
                    .headers()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect();
                self.head = Bytes::new();
                self.spans.clear();
                for (j, (n, v)) in old.iter().enumerate() {
                    if j == i {
                        self.push_header(n, value);
                    } else {
                        self.push_header(n, v);
                    }
                }
                self
            }
        }
    }

    /// Sets the body, and sets `Content-Length` to its length (in place if the header
    /// exists, else appended). An empty body removes the body but keeps a
    /// `Content-Length: 0` header if there was one.
    pub fn set_body(&mut self, body: impl Into<Bytes>) -> &mut Frame {
        let body = body.into();
        let len = body.len();
        if len == 0 && self.position("Content-Length").is_none() {
            self.body = None;
            return self;
        }
        self.set_header("Content-Length", itoa(len).as_str());
        self.body = if len == 0 { None } else { Some(body) };
        self
    }

    /// Builder form of [`Frame::set_body`].
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Frame {
        self.set_body(body);
        self
    }

    fn position(&self, name: &str) -> Option<usize> {
        let head = &self.head[..];
        self.spans
            .iter()
            .position(|s| s.name(head).eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The value of the first header called `name` (ASCII case ignored). `None` if absent
    /// or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The raw bytes of the first header called `name`.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        let head = &self.head[..];
        self.spans
            .iter()
            .find(|s| s.name(head).eq_ignore_ascii_case(name.as_bytes()))
            .map(|s| s.value(head))
    }

    /// Every header, in wire order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let head = &self.head[..];
        self.spans
            .iter()
            .map(move |s| (utf8(s.name(head)), utf8(s.value(head))))
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.spans.len()
    }

    /// The body, if the frame had a non-empty one.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// The body as text (`None` if absent or not UTF-8).
    pub fn body_str(&self) -> Option<&str> {
        self.body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Takes the body out.
    pub fn into_body(self) -> Option<Bytes> {
        self.body
    }

    /// `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// `Content-Type`, classified.
    pub fn kind(&self) -> ContentType {
        self.content_type()
            .map_or(ContentType::Other, ContentType::from_header)
    }

    /// `Content-Length`, parsed.
    pub fn content_length(&self) -> Option<usize> {
        self.header("Content-Length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// `Reply-Text` of a `command/reply`. In the outbound `connect` reply FreeSWITCH
    /// URL-encodes it (`%2BOK%0A`); this returns the wire text, see
    /// [`Frame::reply`] for the decoded one.
    pub fn reply_text(&self) -> Option<&str> {
        self.header("Reply-Text")
    }

    /// `Job-UUID` (a `bgapi` reply).
    pub fn job_uuid(&self) -> Option<&str> {
        self.header("Job-UUID")
    }

    /// The outcome of a `command/reply` (from `Reply-Text`) or an `api/response`
    /// (from the body): `Ok(text after "+OK")` or `Err(the whole text)`.
    pub fn reply(&self) -> Option<Result<String, String>> {
        let text: String = match self.kind() {
            ContentType::CommandReply => {
                let raw = self.reply_text()?;
                // Only the outbound `connect` reply URL-encodes it (`%2BOK%0A`).
                if raw.starts_with('%') {
                    crate::event::percent_decode_str(raw).into_owned()
                } else {
                    raw.to_owned()
                }
            }
            ContentType::ApiResponse => {
                String::from_utf8_lossy(self.body.as_deref().unwrap_or_default()).into_owned()
            }
            _ => return None,
        };
        let trimmed = text.trim_end_matches('\n');
        Some(if let Some(rest) = trimmed.strip_prefix("+OK") {
            Ok(rest.strip_prefix(' ').unwrap_or(rest).to_owned())
        } else {
            Err(trimmed.to_owned())
        })
    }

    /// `true` for a `command/reply` whose `Reply-Text` starts with `+OK`, or an
    /// `api/response` whose body does.
    pub fn is_ok(&self) -> bool {
        matches!(self.reply(), Some(Ok(_)))
    }

    /// `Content-Disposition` of a disconnect notice: `linger` or `disconnect`.
    pub fn content_disposition(&self) -> Option<&str> {
        self.header("Content-Disposition")
    }

    /// Decodes the event carried by a `text/event-*` frame.
    pub fn to_event(&self) -> Option<crate::Result<Event>> {
        let format = self.kind().event_format()?;
        let body = self.body.clone().unwrap_or_default();
        Some(Event::parse(format, body))
    }

    /// Writes the frame as FreeSWITCH lays it out: each header as `Name: value\n`,
    /// a blank line, then the body.
    pub fn write_to(&self, dst: &mut BytesMut) {
        let head = &self.head[..];
        let mut need = 1 + self.body.as_ref().map_or(0, |b| b.len());
        for s in &self.spans {
            need += (s.name_end - s.name_start + s.value_end - s.value_start) as usize + 3;
        }
        dst.reserve(need);
        for s in &self.spans {
            dst.put_slice(s.name(head));
            dst.put_slice(b": ");
            dst.put_slice(s.value(head));
            dst.put_u8(b'\n');
        }
        dst.put_u8(b'\n');
        if let Some(b) = &self.body {
            dst.put_slice(b);
        }
    }

    /// The frame's wire bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.write_to(&mut b);
        b.freeze()
    }

    // ----- constructors for the server side, laid out as FreeSWITCH 1.10.12 does -----

    /// `Content-Type: auth/request`.
    pub fn auth_request() -> Frame {
        Frame::new().with_header("Content-Type", "auth/request")
    }

    /// `Content-Type: command/reply` then `Reply-Text: <text>`.
    pub fn command_reply(text: &str) -> Frame {
        Frame::new()
            .with_header("Content-Type", "command/reply")
            .with_header("Reply-Text", text)
    }

    /// The reply to `bgapi`: `Reply-Text: +OK Job-UUID: <uuid>` then `Job-UUID: <uuid>`.
    pub fn bgapi_reply(job_uuid: &str) -> Frame {
        let mut text = String::with_capacity(job_uuid.len() + 14);
        text.push_str("+OK Job-UUID: ");
        text.push_str(job_uuid);
        Frame::command_reply(&text).with_header("Job-UUID", job_uuid)
    }

    /// `Content-Type: api/response`, `Content-Length`, then the output as the body.
    pub fn api_response(body: impl Into<Bytes>) -> Frame {
        let body = body.into();
        Frame::new()
            .with_header("Content-Type", "api/response")
            .with_header("Content-Length", itoa(body.len()).as_str())
            .with_raw_body(body)
    }

    /// An event frame: `Content-Length` first, then `Content-Type: text/event-<format>`,
    /// then the serialised event.
    pub fn event(event: &Event, format: EventFormat) -> Frame {
        let body = event.to_bytes(format);
        Frame::new()
            .with_header("Content-Length", itoa(body.len()).as_str())
            .with_header("Content-Type", format.content_type())
            .with_raw_body(body)
    }

    /// The inbound-mode disconnect notice (after `exit`, or a wrong password).
    pub fn disconnect_notice() -> Frame {
        Frame::new()
            .with_header("Content-Type", "text/disconnect-notice")
            .with_header("Content-Length", itoa(GOODBYE.len()).as_str())
            .with_raw_body(Bytes::from_static(GOODBYE.as_bytes()))
    }

    /// The outbound-mode disconnect notice (`Content-Disposition: disconnect`).
    pub fn outbound_disconnect_notice(session_uuid: &str) -> Frame {
        Frame::new()
            .with_header("Content-Type", "text/disconnect-notice")
            .with_header("Controlled-Session-UUID", session_uuid)
            .with_header("Content-Disposition", "disconnect")
            .with_header("Content-Length", itoa(GOODBYE.len()).as_str())
            .with_raw_body(Bytes::from_static(GOODBYE.as_bytes()))
    }

    /// The outbound-mode linger notice sent when the channel hangs up while lingering.
    /// `linger_time` is `-1` for a plain `linger`, else the seconds.
    pub fn linger_notice(session_uuid: &str, channel_name: &str, linger_time: i64) -> Frame {
        Frame::new()
            .with_header("Content-Type", "text/disconnect-notice")
            .with_header("Controlled-Session-UUID", session_uuid)
            .with_header("Content-Disposition", "linger")
            .with_header("Channel-Name", channel_name)
            .with_header("Linger-Time", &linger_time.to_string())
            .with_header("Content-Length", "0")
    }

    /// The outbound-mode reply to `connect`: the channel data serialised as a plain
    /// event's header lines (values URL-encoded), followed by `Content-Type:
    /// command/reply`, `Reply-Text: %2BOK%0A`, `Socket-Mode: async|static` and
    /// `Control: full|single-channel`, with no `Content-Length` — exactly as
    /// `mod_event_socket` builds it (`switch_event_serialize` of the channel event).
    pub fn connect_reply(channel_data: &Event, async_mode: bool, full: bool) -> Frame {
        let mut frame = Frame::new();
        let mut enc = BytesMut::new();
        let mut push = |frame: &mut Frame, name: &str, value: &str| {
            enc.clear();
            if value.is_empty() {
                enc.put_slice(b"_undef_");
            } else {
                crate::event::url_encode(value.as_bytes(), &mut enc);
            }
            // url_encode output is ASCII.
            frame.push_header(name, std::str::from_utf8(&enc).unwrap_or(""));
        };
        for (name, value) in channel_data.headers() {
            push(&mut frame, &name, &value);
        }
        push(&mut frame, "Content-Type", "command/reply");
        push(&mut frame, "Reply-Text", "+OK\n");
        push(
            &mut frame,
            "Socket-Mode",
            if async_mode { "async" } else { "static" },
        );
        push(
            &mut frame,
            "Control",
            if full { "full" } else { "single-channel" },
        );
        frame
    }

    /// `text/rude-rejection` with FreeSWITCH's text.
    pub fn rude_rejection() -> Frame {
        Frame::new()
            .with_header("Content-Type", "text/rude-rejection")
            .with_header("Content-Length", itoa(RUDE_REJECTION.len()).as_str())
            .with_raw_body(Bytes::from_static(RUDE_REJECTION.as_bytes()))
    }

    /// A `log/data` frame.
    pub fn log_data(log: &LogData<'_>) -> Frame {
        Frame::new()
            .with_header("Content-Type", "log/data")
            .with_header("Content-Length", itoa(log.text.len()).as_str())
            .with_header("Log-Level", &log.level.to_string())
            .with_header("Text-Channel", &log.text_channel.to_string())
            .with_header("Log-File", log.file)
            .with_header("Log-Func", log.func)
            .with_header("Log-Line", &log.line.to_string())
            .with_header("User-Data", log.user_data)
            .with_raw_body(Bytes::copy_from_slice(log.text.as_bytes()))
    }

    fn with_raw_body(mut self, body: Bytes) -> Frame {
        self.body = if body.is_empty() { None } else { Some(body) };
        self
    }
}

/// The fields of a `log/data` frame.
#[derive(Clone, Copy, Debug)]
pub struct LogData<'a> {
    /// `Log-Level` (0 console … 7 debug).
    pub level: u8,
    /// `Text-Channel`.
    pub text_channel: u8,
    /// `Log-File`.
    pub file: &'a str,
    /// `Log-Func`.
    pub func: &'a str,
    /// `Log-Line`.
    pub line: u32,
    /// `User-Data` (the channel UUID, or empty).
    pub user_data: &'a str,
    /// The formatted log line (the body).
    pub text: &'a str,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Frame");
        d.field("headers", &self.headers().collect::<Vec<_>>());
        match &self.body {
            Some(b) => d.field("body", &String::from_utf8_lossy(b)),
            None => d.field("body", &None::<()>),
        };
        d.finish()
    }
}

pub(crate) fn itoa(n: usize) -> String {
    n.to_string()
}
