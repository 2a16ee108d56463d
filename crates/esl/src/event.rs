//! FreeSWITCH events: ordered headers plus an optional body, parsed from and
//! serialised to the three ESL event formats exactly as FreeSWITCH 1.10.12 writes
//! them (`switch_event_serialize`, `switch_event_serialize_json`,
//! `switch_event_xmlize` + `switch_xml_toxml`).
//!
//! A parsed [`Event`] keeps the event text as one [`Bytes`] buffer and each header as
//! offsets into it. Values are decoded (percent-, JSON- or XML-unescaped) only when
//! asked for, and then only if they contain an escape, so most lookups borrow.

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

mod json;
mod scan;

/// The three event serialisations (`event plain|json|xml …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventFormat {
    /// `text/event-plain`: `Name: url-encoded value` lines.
    Plain,
    /// `text/event-json`: one flat JSON object, all values strings.
    Json,
    /// `text/event-xml`: `<event><headers>…</headers></event>`.
    Xml,
}

impl EventFormat {
    /// `plain`, `json` or `xml`, as in the `event` command.
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Plain => "plain",
            EventFormat::Json => "json",
            EventFormat::Xml => "xml",
        }
    }

    /// The frame `Content-Type` for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            EventFormat::Plain => "text/event-plain",
            EventFormat::Json => "text/event-json",
            EventFormat::Xml => "text/event-xml",
        }
    }

    /// Parses `plain`/`json`/`xml` (ASCII case ignored).
    pub fn from_name(s: &str) -> Option<EventFormat> {
        if s.eq_ignore_ascii_case("plain") {
            Some(EventFormat::Plain)
        } else if s.eq_ignore_ascii_case("json") {
            Some(EventFormat::Json)
        } else if s.eq_ignore_ascii_case("xml") {
            Some(EventFormat::Xml)
        } else {
            None
        }
    }
}

impl fmt::Display for EventFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the spans of a parsed event are escaped on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Plain: values are URL-encoded.
    Percent,
    /// JSON string escapes.
    Json,
    /// XML entities around URL-encoded values.
    Xml,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Text {
    /// Offsets into the event buffer, still escaped.
    Span(u32, u32),
    /// Literal text (built or already decoded): an index into `Event::owned`.
    Owned(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    name: Text,
    value: Text,
}

/// A FreeSWITCH event: ordered headers (names may repeat) and an optional body.
///
/// Lookups ignore ASCII case, like `switch_event_get_header`, and return the first
/// match.
#[derive(Clone)]
pub struct Event {
    buf: Bytes,
    enc: Encoding,
    fields: Vec<Field>,
    /// Text that is not a span of `buf` (headers added in code, decoded JSON keys, …).
    owned: Vec<Box<str>>,
    body: Option<Bytes>,
    /// Index of the last `Event-Name` header, found while parsing ([`NAME_NONE`] when
    /// there is none, [`NAME_UNKNOWN`] after a change made in code).
    name_at: u32,
}

const NAME_NONE: u32 = u32::MAX;
const NAME_UNKNOWN: u32 = u32::MAX - 1;

/// The index of the last `Event-Name` among parsed fields.
fn name_index(buf: &[u8], fields: &[Field], lits: &[Box<str>]) -> u32 {
    fields
        .iter()
        .rposition(|f| match f.name {
            Text::Span(a, b) => is_event_name(&buf[a as usize..b as usize]),
            Text::Owned(i) => lits
                .get(i as usize)
                .is_some_and(|s| is_event_name(s.as_bytes())),
        })
        .map_or(NAME_NONE, |i| i as u32)
}

#[inline]
fn is_event_name(n: &[u8]) -> bool {
    n.len() == 10 && n.eq_ignore_ascii_case(b"Event-Name")
}

impl Default for Event {
    fn default() -> Self {
        Event {
            buf: Bytes::new(),
            enc: Encoding::Percent,
            fields: Vec::new(),
            owned: Vec::new(),
            body: None,
            name_at: NAME_NONE,
        }
    }
}

/// Side table for literal text while parsing.
#[derive(Default)]
struct Owned(Vec<Box<str>>);

impl Owned {
    fn push(&mut self, s: impl Into<Box<str>>) -> Text {
        self.0.push(s.into());
        Text::Owned((self.0.len() - 1) as u32)
    }
}

impl PartialEq for Event {
    /// Two events are equal when their decoded headers (in order) and bodies are.
    fn eq(&self, other: &Event) -> bool {
        self.fields.len() == other.fields.len()
            && self.headers().zip(other.headers()).all(|(a, b)| a == b)
            && self.body() == other.body()
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("headers", &self.headers().collect::<Vec<_>>());
        if let Some(b) = &self.body {
            d.field("body", &String::from_utf8_lossy(b));
        }
        d.finish()
    }
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    // `from_utf8` has a faster path for the usual valid (and mostly ASCII) text.
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn owned(b: Cow<'_, [u8]>) -> Cow<'_, str> {
    match b {
        Cow::Borrowed(b) => lossy(b),
        Cow::Owned(v) => Cow::Owned(match String::from_utf8(v) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }),
    }
}

impl Event {
    /// An empty event (no headers, no body).
    pub fn empty() -> Event {
        Event::default()
    }

    /// An event with only `Event-Name: <name>`.
    pub fn new(name: &str) -> Event {
        let mut e = Event::default();
        e.add_header("Event-Name", name);
        e
    }

    /// A `CUSTOM` event as FreeSWITCH creates one: `Event-Subclass` first, then
    /// `Event-Name: CUSTOM`.
    pub fn custom(subclass: &str) -> Event {
        let mut e = Event::default();
        e.add_header("Event-Subclass", subclass);
        e.add_header("Event-Name", "CUSTOM");
        e
    }

    // ------------------------------------------------------------------ access

    fn lit(&self, i: u32) -> &str {
        self.owned.get(i as usize).map_or("", |s| s)
    }

    fn push_owned(&mut self, s: &str) -> Text {
        self.name_at = NAME_UNKNOWN;
        self.owned.push(s.into());
        Text::Owned((self.owned.len() - 1) as u32)
    }

    fn text<'a>(&'a self, t: &'a Text, is_name: bool) -> Cow<'a, str> {
        match t {
            Text::Owned(i) => Cow::Borrowed(self.lit(*i)),
            Text::Span(a, b) => {
                let raw = &self.buf[*a as usize..*b as usize];
                if is_name {
                    return match self.enc {
                        Encoding::Json if raw.contains(&b'\\') => owned(json_unescape(raw)),
                        _ => lossy(raw),
                    };
                }
                match self.enc {
                    Encoding::Percent => owned(percent_decode(raw)),
                    Encoding::Json => owned(json_unescape(raw)),
                    Encoding::Xml => match xml_unescape(raw) {
                        Cow::Borrowed(r) => owned(percent_decode(r)),
                        Cow::Owned(v) => Cow::Owned(owned(percent_decode(&v)).into_owned()),
                    },
                }
            }
        }
    }

    fn name_is(&self, f: &Field, name: &str) -> bool {
        match f.name {
            Text::Owned(i) => self.lit(i).eq_ignore_ascii_case(name),
            // Lengths first: most names differ in length, and this avoids slicing.
            Text::Span(a, b) => {
                (b - a) as usize == name.len()
                    && self.buf[a as usize..b as usize].eq_ignore_ascii_case(name.as_bytes())
            }
        }
    }

    fn find(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| self.name_is(f, name))
    }

    /// The decoded value of the first header called `name` (ASCII case ignored), as
    /// `switch_event_get_header` finds it. Borrows unless the value had to be
    /// unescaped.
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.find(name).map(|f| self.text(&f.value, false))
    }

    /// The value as it was on the wire (still URL-encoded in plain and XML events,
    /// still JSON-escaped in JSON events); for headers added in code, the literal value.
    pub fn header_raw(&self, name: &str) -> Option<&str> {
        self.find(name).map(|f| match &f.value {
            Text::Owned(i) => self.lit(*i),
            Text::Span(a, b) => {
                std::str::from_utf8(&self.buf[*a as usize..*b as usize]).unwrap_or("")
            }
        })
    }

    /// Every value of headers called `name`, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Cow<'a, str>> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.name_is(f, name))
            .map(move |f| self.text(&f.value, false))
    }

    /// `true` if a header called `name` exists.
    pub fn has_header(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Every header, decoded, in order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
        self.fields
            .iter()
            .map(move |f| (self.text(&f.name, true), self.text(&f.value, false)))
    }

    /// Number of headers.
    pub fn header_count(&self) -> usize {
        self.fields.len()
    }

    /// The body (BACKGROUND_JOB output, a `sendevent` body, …).
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// The body as text, if it is UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        self.body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    // ------------------------------------------------------------ typed access

    /// `Event-Name`. When the header repeats (FreeSWITCH re-fires a `COMMAND` event as
    /// `PRIVATE_COMMAND` by appending a second set of standard headers), the **last**
    /// one counts, as in FreeSWITCH's own parsers (`esl_recv_event`,
    /// `switch_event_create_json` delete the earlier `Event-Name`).
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        match self.name_at {
            NAME_UNKNOWN => self.header_last("Event-Name"),
            NAME_NONE => None,
            i => self
                .fields
                .get(i as usize)
                .map(|f| self.text(&f.value, false)),
        }
    }

    /// The decoded value of the last header called `name`.
    pub fn header_last(&self, name: &str) -> Option<Cow<'_, str>> {
        self.fields
            .iter()
            .rev()
            .find(|f| self.name_is(f, name))
            .map(|f| self.text(&f.value, false))
    }

    /// `Event-Subclass` (CUSTOM events).
    pub fn subclass(&self) -> Option<Cow<'_, str>> {
        self.header("Event-Subclass")
    }

    /// `Unique-ID`: the channel the event is about.
    pub fn unique_id(&self) -> Option<Cow<'_, str>> {
        self.header("Unique-ID")
    }

    /// `Core-UUID`.
    pub fn core_uuid(&self) -> Option<Cow<'_, str>> {
        self.header("Core-UUID")
    }

    /// `Job-UUID` (BACKGROUND_JOB).
    pub fn job_uuid(&self) -> Option<Cow<'_, str>> {
        self.header("Job-UUID")
    }

    /// `Application-UUID` (CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE): the
    /// `Event-UUID` given to `sendmsg`.
    pub fn application_uuid(&self) -> Option<Cow<'_, str>> {
        self.header("Application-UUID")
    }

    /// `Application` (CHANNEL_EXECUTE*).
    pub fn application(&self) -> Option<Cow<'_, str>> {
        self.header("Application")
    }

    /// `Application-Data`.
    pub fn application_data(&self) -> Option<Cow<'_, str>> {
        self.header("Application-Data")
    }

    /// `Application-Response` (CHANNEL_EXECUTE_COMPLETE).
    pub fn application_response(&self) -> Option<Cow<'_, str>> {
        self.header("Application-Response")
    }

    /// `Channel-Name`.
    pub fn channel_name(&self) -> Option<Cow<'_, str>> {
        self.header("Channel-Name")
    }

    /// `Channel-State`, typed.
    pub fn channel_state(&self) -> Option<ChannelState> {
        self.header("Channel-State")
            .map(|v| ChannelState::from_name(&v))
    }

    /// `Channel-Call-State` (`DOWN`, `RINGING`, `EARLY`, `ACTIVE`, `HANGUP`, …).
    pub fn call_state(&self) -> Option<Cow<'_, str>> {
        self.header("Channel-Call-State")
    }

    /// `Answer-State`, typed.
    pub fn answer_state(&self) -> Option<AnswerState> {
        self.header("Answer-State")
            .map(|v| AnswerState::from_name(&v))
    }

    /// `Hangup-Cause`, typed.
    pub fn hangup_cause(&self) -> Option<HangupCause> {
        self.header("Hangup-Cause")
            .map(|v| HangupCause::from_name(&v))
    }

    /// `Call-Direction`.
    pub fn call_direction(&self) -> Option<Cow<'_, str>> {
        self.header("Call-Direction")
    }

    /// `Event-Sequence`, parsed.
    pub fn sequence(&self) -> Option<u64> {
        self.header("Event-Sequence")
            .and_then(|v| v.trim().parse().ok())
    }

    /// `Event-Date-Timestamp` (microseconds since the epoch), parsed.
    pub fn timestamp_micros(&self) -> Option<u64> {
        self.header("Event-Date-Timestamp")
            .and_then(|v| v.trim().parse().ok())
    }

    /// A channel variable: the header `variable_<name>` (name compared ignoring ASCII
    /// case), with no allocation for the lookup.
    pub fn variable(&self, name: &str) -> Option<Cow<'_, str>> {
        self.fields
            .iter()
            .find(|f| {
                self.var_name(f)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            })
            .map(|f| self.text(&f.value, false))
    }

    fn var_name<'a>(&'a self, f: &'a Field) -> Option<&'a [u8]> {
        let n: &[u8] = match &f.name {
            Text::Owned(i) => self.lit(*i).as_bytes(),
            Text::Span(a, b) => &self.buf[*a as usize..*b as usize],
        };
        n.strip_prefix(b"variable_")
    }

    /// Every `variable_*` header as (name without the prefix, value).
    pub fn variables(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
        self.fields.iter().filter_map(move |f| {
            let n = self.var_name(f)?;
            Some((lossy(n), self.text(&f.value, false)))
        })
    }

    // ---------------------------------------------------------------- building

    /// Appends a header (`SWITCH_STACK_BOTTOM`). Repeats are kept.
    pub fn add_header(&mut self, name: &str, value: &str) -> &mut Event {
        let name = self.push_owned(name);
        let value = self.push_owned(value);
        self.fields.push(Field { name, value });
        self
    }

    /// Builder form of [`Event::add_header`].
    pub fn with_header(mut self, name: &str, value: &str) -> Event {
        self.add_header(name, value);
        self
    }

    /// Inserts a header at position `index` (0 = `SWITCH_STACK_TOP`); past the end it
    /// appends.
    pub fn insert_header(&mut self, index: usize, name: &str, value: &str) -> &mut Event {
        let f = Field {
            name: self.push_owned(name),
            value: self.push_owned(value),
        };
        let index = index.min(self.fields.len());
        self.fields.insert(index, f);
        self
    }

    /// Replaces the value of the first header called `name` in place, or appends it.
    pub fn set_header(&mut self, name: &str, value: &str) -> &mut Event {
        match self.fields.iter().position(|f| self.name_is(f, name)) {
            Some(i) => {
                // Reuse the slot of a value added in code; spans stay in the buffer.
                match self.fields[i].value {
                    Text::Owned(k) if (k as usize) < self.owned.len() => {
                        self.owned[k as usize] = value.into();
                    }
                    _ => self.fields[i].value = self.push_owned(value),
                }
            }
            None => {
                self.add_header(name, value);
            }
        }
        self
    }

    /// Removes every header called `name`; returns how many were removed.
    pub fn remove_header(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        let keep: Vec<bool> = self.fields.iter().map(|f| !self.name_is(f, name)).collect();
        let mut it = keep.iter();
        self.fields.retain(|_| *it.next().unwrap_or(&true));
        self.name_at = NAME_UNKNOWN;
        before - self.fields.len()
    }

    /// Sets (or with an empty body, removes) the body.
    pub fn set_body(&mut self, body: impl Into<Bytes>) -> &mut Event {
        let b = body.into();
        self.body = if b.is_empty() { None } else { Some(b) };
        self
    }

    /// Builder form of [`Event::set_body`].
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Event {
        self.set_body(body);
        self
    }

    /// Takes the body out.
    pub fn take_body(&mut self) -> Option<Bytes> {
        self.body.take()
    }

    /// Reads a frame's own headers as an event (values URL-decoded on access), sharing
    /// the frame's buffer. This is how the outbound `connect` reply carries the channel
    /// data: `Event-Name: CHANNEL_DATA`, `Unique-ID`, `Channel-*`, `Caller-*`,
    /// `variable_*`, … (plus the reply's own `Content-Type`, `Reply-Text`,
    /// `Socket-Mode` and `Control`).
    pub fn from_frame_headers(frame: &crate::Frame) -> Event {
        Event {
            buf: frame.head.clone(),
            enc: Encoding::Percent,
            fields: frame
                .spans
                .iter()
                .map(|s| Field {
                    name: Text::Span(s.name_start, s.name_end),
                    value: Text::Span(s.value_start, s.value_end),
                })
                .collect(),
            owned: Vec::new(),
            body: None,
            name_at: frame
                .spans
                .iter()
                .rposition(|s| is_event_name(s.name(&frame.head)))
                .map_or(NAME_NONE, |i| i as u32),
        }
    }

    // ----------------------------------------------------------------- parsing

    /// Parses an event body in the given format.
    pub fn parse(format: EventFormat, data: Bytes) -> Result<Event> {
        match format {
            EventFormat::Plain => Event::parse_plain(data),
            EventFormat::Json => Event::parse_json(data),
            EventFormat::Xml => Event::parse_xml(data),
        }
    }

    /// Parses the body of a `text/event-plain` frame: `Name: value` lines (values
    /// URL-encoded), a blank line, and, when the last header is `Content-Length`, that
    /// many body bytes.
    pub fn parse_plain(data: Bytes) -> Result<Event> {
        check_len(&data)?;
        let buf = &data[..];
        let mut fields = Vec::with_capacity(estimate_lines(buf.len()));
        let mut name_at = NAME_NONE;
        let mut pos = 0usize;
        let mut rest_start = buf.len();
        let mut marks = scan::LineMarks::new(buf);
        while pos < buf.len() {
            // Marks come in order: this line's first colon (if any) comes first, then
            // any colons of its value, then its newline.
            let first = marks.next();
            let (colon, nl) = match first {
                Some(c) if buf[c] == b':' => (
                    Some(c),
                    std::iter::from_fn(|| marks.next()).find(|&m| buf[m] == b'\n'),
                ),
                other => (None, other),
            };
            let (line_end, next) = match nl {
                Some(i) => (i, i + 1),
                None => (buf.len(), buf.len()),
            };
            let mut le = line_end;
            if le > pos && buf[le - 1] == b'\r' {
                le -= 1;
            }
            if le == pos {
                rest_start = next;
                break;
            }
            let Some(colon) = colon.filter(|&c| c < le) else {
                return Err(bad("plain", "header line without a colon"));
            };
            let mut vs = colon + 1;
            while vs < le && buf[vs] == b' ' {
                vs += 1;
            }
            if is_event_name(&buf[pos..colon]) {
                name_at = fields.len() as u32;
            }
            fields.push(Field {
                name: Text::Span(pos as u32, colon as u32),
                value: Text::Span(vs as u32, le as u32),
            });
            pos = next;
        }
        let mut body = None;
        if rest_start < buf.len() {
            let mut len = buf.len() - rest_start;
            let last_is_cl = fields.last().is_some_and(|f| match f.name {
                Text::Span(a, b) => {
                    buf[a as usize..b as usize].eq_ignore_ascii_case(b"Content-Length")
                }
                Text::Owned(_) => false,
            });
            if last_is_cl {
                if let Some(Field {
                    value: Text::Span(a, b),
                    ..
                }) = fields.pop()
                {
                    if let Ok(n) = crate::codec::parse_content_length(&buf[a as usize..b as usize])
                    {
                        len = len.min(n);
                    }
                }
            }
            if len > 0 {
                body = Some(data.slice(rest_start..rest_start + len));
            }
        }
        Ok(Event {
            buf: data,
            enc: Encoding::Percent,
            fields,
            owned: Vec::new(),
            body,
            name_at,
        })
    }

    /// Parses the body of a `text/event-json` frame: one JSON object, values strings
    /// (an array value becomes FreeSWITCH's `ARRAY::a|:b` form), the body under
    /// `_body` (the `Content-Length` key just before it is dropped: it is re-added when
    /// serialising).
    pub fn parse_json(data: Bytes) -> Result<Event> {
        json::parse(data)
    }

    /// Parses the body of a `text/event-xml` frame.
    pub fn parse_xml(data: Bytes) -> Result<Event> {
        check_len(&data)?;
        let b = &data[..];
        let mut i = skip_ws(b, 0);
        i = expect_lit(b, i, b"<event>")?;
        i = skip_ws(b, i);
        let mut fields = Vec::with_capacity(estimate_lines(b.len()));
        let mut lits = Owned::default();
        if b[i..].starts_with(b"<headers/>") {
            i += 10;
        } else {
            i = expect_lit(b, i, b"<headers>")?;
            loop {
                i = skip_ws(b, i);
                if b[i..].starts_with(b"</headers>") {
                    i += 10;
                    break;
                }
                if b.get(i) != Some(&b'<') {
                    return Err(bad("xml", "expected a header element"));
                }
                let ns = i + 1;
                let gt = memchr::memchr(b'>', &b[ns..])
                    .ok_or_else(|| bad("xml", "unterminated tag"))?
                    + ns;
                if gt > ns && b[gt - 1] == b'/' {
                    // <Name/>
                    fields.push(Field {
                        name: Text::Span(ns as u32, (gt - 1) as u32),
                        value: lits.push(""),
                    });
                    i = gt + 1;
                    continue;
                }
                let name = &b[ns..gt];
                if name.is_empty() || name[0] == b'/' {
                    return Err(bad("xml", "bad header element"));
                }
                let vs = gt + 1;
                let ve = memchr::memchr(b'<', &b[vs..])
                    .ok_or_else(|| bad("xml", "unterminated header"))?
                    + vs;
                let close = ve + 2 + name.len();
                if !(b[ve..].starts_with(b"</")
                    && b.len() > close
                    && &b[ve + 2..close] == name
                    && b[close] == b'>')
                {
                    return Err(bad("xml", "mismatched closing tag"));
                }
                fields.push(Field {
                    name: Text::Span(ns as u32, gt as u32),
                    value: Text::Span(vs as u32, ve as u32),
                });
                i = close + 1;
            }
        }
        i = skip_ws(b, i);
        let mut content_length = None;
        if b[i..].starts_with(b"<Content-Length>") {
            let s = i + 16;
            let e = memchr::memchr(b'<', &b[s..])
                .ok_or_else(|| bad("xml", "unterminated Content-Length"))?
                + s;
            content_length = crate::codec::parse_content_length(&b[s..e]).ok();
            i = expect_lit(b, e, b"</Content-Length>")?;
            i = skip_ws(b, i);
        }
        let mut body = None;
        if b[i..].starts_with(b"<body>") {
            let s = i + 6;
            let end = memchr::memmem::rfind(&b[s..], b"</body>")
                .ok_or_else(|| bad("xml", "unterminated body"))?
                + s;
            let raw = &b[s..end];
            let stripped = raw.strip_suffix(b"  ").filter(|r| r.ends_with(b"\n"));
            let decoded = match (stripped, content_length) {
                (Some(st), Some(n)) => {
                    let d = xml_unescape(st);
                    if d.len() == n {
                        d.into_owned()
                    } else {
                        xml_unescape(raw).into_owned()
                    }
                }
                (Some(st), None) => xml_unescape(st).into_owned(),
                (None, _) => xml_unescape(raw).into_owned(),
            };
            if !decoded.is_empty() {
                body = Some(Bytes::from(decoded));
            }
            i = end + 7;
            i = skip_ws(b, i);
        }
        i = expect_lit(b, i, b"</event>")?;
        i = skip_ws(b, i);
        if i != b.len() {
            return Err(bad("xml", "trailing bytes after </event>"));
        }
        let name_at = name_index(&data, &fields, &lits.0);
        Ok(Event {
            buf: data,
            enc: Encoding::Xml,
            name_at,
            fields,
            owned: lits.0,
            body,
        })
    }

    // ------------------------------------------------------------- serialising

    /// Serialises the event in `format`, byte for byte as FreeSWITCH would.
    pub fn to_bytes(&self, format: EventFormat) -> Bytes {
        let mut out = BytesMut::with_capacity(self.buf.len() + 256);
        self.write(format, &mut out);
        out.freeze()
    }

    /// Appends the serialised event to `out`.
    pub fn write(&self, format: EventFormat, out: &mut BytesMut) {
        match format {
            EventFormat::Plain => self.write_plain(out),
            EventFormat::Json => self.write_json(out),
            EventFormat::Xml => self.write_xml(out),
        }
    }

    /// `switch_event_serialize(…, SWITCH_TRUE)`: `Name: url-encoded value\n` per header
    /// (`_undef_` for an empty value), then `Content-Length: N\n\n<body>` or `\n`.
    pub fn write_plain(&self, out: &mut BytesMut) {
        for (name, value) in self.headers() {
            out.put_slice(name.as_bytes());
            out.put_slice(b": ");
            if value.is_empty() {
                out.put_slice(b"_undef_");
            } else {
                url_encode(value.as_bytes(), out);
            }
            out.put_u8(b'\n');
        }
        match &self.body {
            Some(b) if !b.is_empty() => {
                out.put_slice(b"Content-Length: ");
                out.put_slice(b.len().to_string().as_bytes());
                out.put_slice(b"\n\n");
                out.put_slice(b);
            }
            _ => out.put_u8(b'\n'),
        }
    }

    /// `switch_event_serialize_json`: cJSON's unformatted print of a flat object;
    /// `ARRAY::a|:b` values become JSON arrays; the body goes under `Content-Length` and
    /// `_body`.
    pub fn write_json(&self, out: &mut BytesMut) {
        out.put_u8(b'{');
        let mut first = true;
        for (name, value) in self.headers() {
            if !first {
                out.put_u8(b',');
            }
            first = false;
            json_string(name.as_bytes(), out);
            out.put_u8(b':');
            if let Some(items) = value.strip_prefix("ARRAY::") {
                out.put_u8(b'[');
                for (k, item) in items.split("|:").enumerate() {
                    if k > 0 {
                        out.put_u8(b',');
                    }
                    json_string(item.as_bytes(), out);
                }
                out.put_u8(b']');
            } else {
                json_string(value.as_bytes(), out);
            }
        }
        if let Some(b) = &self.body {
            if !first {
                out.put_u8(b',');
            }
            out.put_slice(b"\"Content-Length\":\"");
            out.put_slice(b.len().to_string().as_bytes());
            out.put_slice(b"\",\"_body\":");
            json_string(b, out);
        }
        out.put_u8(b'}');
    }

    /// `switch_event_xmlize` printed by `switch_xml_toxml`: two-space indents, values
    /// URL-encoded, array values as repeated elements, the body XML-escaped.
    pub fn write_xml(&self, out: &mut BytesMut) {
        out.put_slice(b"<event>\n  <headers>");
        let mut any = false;
        for (name, value) in self.headers() {
            if !any {
                out.put_u8(b'\n');
                any = true;
            }
            let items: Vec<&str> = match value.strip_prefix("ARRAY::") {
                Some(rest) => rest.split("|:").collect(),
                None => vec![&value],
            };
            for item in items {
                out.put_slice(b"    <");
                out.put_slice(name.as_bytes());
                out.put_u8(b'>');
                let mut enc = BytesMut::with_capacity(item.len());
                url_encode(item.as_bytes(), &mut enc);
                xml_ampencode(&enc, out);
                out.put_slice(b"</");
                out.put_slice(name.as_bytes());
                out.put_slice(b">\n");
            }
        }
        if any {
            out.put_slice(b"  ");
        }
        out.put_slice(b"</headers>\n");
        if let Some(b) = &self.body {
            if !b.is_empty() {
                out.put_slice(b"  <Content-Length>");
                out.put_slice(b.len().to_string().as_bytes());
                out.put_slice(b"</Content-Length>\n  <body>");
                let start = out.len();
                xml_ampencode(b, out);
                if out.len() > start && out[out.len() - 1] == b'\n' {
                    out.put_slice(b"  ");
                }
                out.put_slice(b"</body>\n");
            }
        }
        out.put_slice(b"</event>\n");
    }
}

// ------------------------------------------------------------------- typed values

/// `Channel-State` (`switch_channel_state_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum ChannelState {
    New,
    Init,
    Routing,
    SoftExecute,
    Execute,
    ExchangeMedia,
    Park,
    ConsumeMedia,
    Hibernate,
    Reset,
    Hangup,
    Reporting,
    Destroy,
    None,
    /// A name this crate does not know.
    Unknown,
}

impl ChannelState {
    const NAMES: [(&'static str, ChannelState); 14] = [
        ("CS_NEW", ChannelState::New),
        ("CS_INIT", ChannelState::Init),
        ("CS_ROUTING", ChannelState::Routing),
        ("CS_SOFT_EXECUTE", ChannelState::SoftExecute),
        ("CS_EXECUTE", ChannelState::Execute),
        ("CS_EXCHANGE_MEDIA", ChannelState::ExchangeMedia),
        ("CS_PARK", ChannelState::Park),
        ("CS_CONSUME_MEDIA", ChannelState::ConsumeMedia),
        ("CS_HIBERNATE", ChannelState::Hibernate),
        ("CS_RESET", ChannelState::Reset),
        ("CS_HANGUP", ChannelState::Hangup),
        ("CS_REPORTING", ChannelState::Reporting),
        ("CS_DESTROY", ChannelState::Destroy),
        ("CS_NONE", ChannelState::None),
    ];

    /// Parses `CS_*`.
    pub fn from_name(s: &str) -> ChannelState {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map_or(ChannelState::Unknown, |(_, v)| *v)
    }

    /// The `CS_*` name (`CS_NONE` for `Unknown`).
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("CS_NONE", |(n, _)| n)
    }

    /// The `Channel-State-Number`.
    pub fn number(self) -> Option<u8> {
        Self::NAMES
            .iter()
            .position(|(_, v)| *v == self)
            .map(|i| i as u8)
    }
}

/// `Answer-State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum AnswerState {
    Ringing,
    Early,
    Answered,
    Hangup,
    Unknown,
}

impl AnswerState {
    /// Parses `ringing` / `early` / `answered` / `hangup`.
    pub fn from_name(s: &str) -> AnswerState {
        match s {
            "ringing" => AnswerState::Ringing,
            "early" => AnswerState::Early,
            "answered" => AnswerState::Answered,
            "hangup" => AnswerState::Hangup,
            _ => AnswerState::Unknown,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerState::Ringing => "ringing",
            AnswerState::Early => "early",
            AnswerState::Answered => "answered",
            AnswerState::Hangup => "hangup",
            AnswerState::Unknown => "unknown",
        }
    }
}

macro_rules! hangup_causes {
    ($($variant:ident = $name:literal / $code:literal,)*) => {
        /// `Hangup-Cause` (`switch_call_cause_t`, the Q.850 names and FreeSWITCH's own).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        #[non_exhaustive]
        pub enum HangupCause {
            $($variant,)*
            /// A name this crate does not know.
            Unknown,
        }

        impl HangupCause {
            /// Parses a cause name such as `NORMAL_CLEARING`.
            pub fn from_name(s: &str) -> HangupCause {
                match s {
                    $($name => HangupCause::$variant,)*
                    _ => HangupCause::Unknown,
                }
            }

            /// The cause name (`UNKNOWN` for `Unknown`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(HangupCause::$variant => $name,)*
                    HangupCause::Unknown => "UNKNOWN",
                }
            }

            /// The numeric cause code (Q.850 where there is one).
            pub fn code(self) -> Option<u16> {
                match self {
                    $(HangupCause::$variant => Some($code),)*
                    HangupCause::Unknown => None,
                }
            }
        }
    };
}

hangup_causes! {
    None = "NONE" / 0,
    UnallocatedNumber = "UNALLOCATED_NUMBER" / 1,
    NoRouteTransitNet = "NO_ROUTE_TRANSIT_NET" / 2,
    NoRouteDestination = "NO_ROUTE_DESTINATION" / 3,
    ChannelUnacceptable = "CHANNEL_UNACCEPTABLE" / 6,
    CallAwardedDelivered = "CALL_AWARDED_DELIVERED" / 7,
    NormalClearing = "NORMAL_CLEARING" / 16,
    UserBusy = "USER_BUSY" / 17,
    NoUserResponse = "NO_USER_RESPONSE" / 18,
    NoAnswer = "NO_ANSWER" / 19,
    SubscriberAbsent = "SUBSCRIBER_ABSENT" / 20,
    CallRejected = "CALL_REJECTED" / 21,
    NumberChanged = "NUMBER_CHANGED" / 22,
    RedirectionToNewDestination = "REDIRECTION_TO_NEW_DESTINATION" / 23,
    ExchangeRoutingError = "EXCHANGE_ROUTING_ERROR" / 25,
    DestinationOutOfOrder = "DESTINATION_OUT_OF_ORDER" / 27,
    InvalidNumberFormat = "INVALID_NUMBER_FORMAT" / 28,
    FacilityRejected = "FACILITY_REJECTED" / 29,
    ResponseToStatusEnquiry = "RESPONSE_TO_STATUS_ENQUIRY" / 30,
    NormalUnspecified = "NORMAL_UNSPECIFIED" / 31,
    NormalCircuitCongestion = "NORMAL_CIRCUIT_CONGESTION" / 34,
    NetworkOutOfOrder = "NETWORK_OUT_OF_ORDER" / 38,
    NormalTemporaryFailure = "NORMAL_TEMPORARY_FAILURE" / 41,
    SwitchCongestion = "SWITCH_CONGESTION" / 42,
    AccessInfoDiscarded = "ACCESS_INFO_DISCARDED" / 43,
    RequestedChanUnavail = "REQUESTED_CHAN_UNAVAIL" / 44,
    PreEmpted = "PRE_EMPTED" / 45,
    FacilityNotSubscribed = "FACILITY_NOT_SUBSCRIBED" / 50,
    OutgoingCallBarred = "OUTGOING_CALL_BARRED" / 52,
    IncomingCallBarred = "INCOMING_CALL_BARRED" / 54,
    BearercapabilityNotauth = "BEARERCAPABILITY_NOTAUTH" / 57,
    BearercapabilityNotavail = "BEARERCAPABILITY_NOTAVAIL" / 58,
    ServiceUnavailable = "SERVICE_UNAVAILABLE" / 63,
    BearercapabilityNotimpl = "BEARERCAPABILITY_NOTIMPL" / 65,
    ChanNotImplemented = "CHAN_NOT_IMPLEMENTED" / 66,
    FacilityNotImplemented = "FACILITY_NOT_IMPLEMENTED" / 69,
    ServiceNotImplemented = "SERVICE_NOT_IMPLEMENTED" / 79,
    InvalidCallReference = "INVALID_CALL_REFERENCE" / 81,
    IncompatibleDestination = "INCOMPATIBLE_DESTINATION" / 88,
    InvalidMsgUnspecified = "INVALID_MSG_UNSPECIFIED" / 95,
    MandatoryIeMissing = "MANDATORY_IE_MISSING" / 96,
    MessageTypeNonexist = "MESSAGE_TYPE_NONEXIST" / 97,
    WrongMessage = "WRONG_MESSAGE" / 98,
    IeNonexist = "IE_NONEXIST" / 99,
    InvalidIeContents = "INVALID_IE_CONTENTS" / 100,
    WrongCallState = "WRONG_CALL_STATE" / 101,
    RecoveryOnTimerExpire = "RECOVERY_ON_TIMER_EXPIRE" / 102,
    MandatoryIeLengthError = "MANDATORY_IE_LENGTH_ERROR" / 103,
    ProtocolError = "PROTOCOL_ERROR" / 111,
    Interworking = "INTERWORKING" / 127,
    Success = "SUCCESS" / 142,
    OriginatorCancel = "ORIGINATOR_CANCEL" / 487,
    Crash = "CRASH" / 700,
    SystemShutdown = "SYSTEM_SHUTDOWN" / 701,
    LoseRace = "LOSE_RACE" / 502,
    ManagerRequest = "MANAGER_REQUEST" / 503,
    BlindTransfer = "BLIND_TRANSFER" / 600,
    AttendedTransfer = "ATTENDED_TRANSFER" / 601,
    AllottedTimeout = "ALLOTTED_TIMEOUT" / 602,
    UserChallenge = "USER_CHALLENGE" / 603,
    MediaTimeout = "MEDIA_TIMEOUT" / 604,
    PickedOff = "PICKED_OFF" / 605,
    UserNotRegistered = "USER_NOT_REGISTERED" / 606,
    ProgressTimeout = "PROGRESS_TIMEOUT" / 607,
    InvalidGateway = "INVALID_GATEWAY" / 608,
    GatewayDown = "GATEWAY_DOWN" / 609,
    InvalidUrl = "INVALID_URL" / 610,
    InvalidProfile = "INVALID_PROFILE" / 611,
    NoPickup = "NO_PICKUP" / 612,
    SrtpReadError = "SRTP_READ_ERROR" / 613,
    Bowout = "BOWOUT" / 614,
    BusyEverywhere = "BUSY_EVERYWHERE" / 615,
    Decline = "DECLINE" / 616,
    DoesNotExistAnywhere = "DOES_NOT_EXIST_ANYWHERE" / 617,
    NotAcceptable = "NOT_ACCEPTABLE" / 618,
    Unwanted = "UNWANTED" / 619,
    NoIdentity = "NO_IDENTITY" / 620,
    BadIdentityInfo = "BAD_IDENTITY_INFO" / 621,
    UnsupportedCertificate = "UNSUPPORTED_CERTIFICATE" / 622,
    InvalidIdentity = "INVALID_IDENTITY" / 623,
    StaleDate = "STALE_DATE" / 624,
    RejectAll = "REJECT_ALL" / 625,
}

// ------------------------------------------------------------------ escaping

/// `SWITCH_URL_UNSAFE` from switch_utils.h.
const URL_UNSAFE: &[u8] = b"\r\n #%&+:;<=>?@[\\]^`{|}\"";
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `switch_url_encode` (`switch_url_encode_opt` without double encoding): control
/// bytes, bytes ≥ 0x7F and `SWITCH_URL_UNSAFE` become `%XX`, except a `%` that already
/// starts an uppercase-hex `%XX`.
pub fn url_encode(value: &[u8], out: &mut BytesMut) {
    out.reserve(value.len());
    let mut i = 0;
    let n = value.len();
    while i < n {
        let c = value[i];
        let keep_pct =
            c == b'%' && i + 2 < n && is_upper_hex(value[i + 1]) && is_upper_hex(value[i + 2]);
        if !keep_pct && (!(b' '..=b'~').contains(&c) || URL_UNSAFE.contains(&c)) {
            out.put_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        } else {
            out.put_u8(c);
        }
        i += 1;
    }
}

fn is_upper_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'A'..=b'F').contains(&c)
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `switch_url_decode`: `%XX` (either case) becomes the byte; everything else,
/// `+` included, stays. Borrows when there is nothing to decode.
pub fn percent_decode(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'%', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let c = raw[i];
        if c == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hexval(raw[i + 1]), hexval(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

pub(crate) fn percent_decode_str(raw: &str) -> Cow<'_, str> {
    owned(percent_decode(raw.as_bytes()))
}

/// cJSON's `print_string_ptr`: `"`, `\` and the five short escapes, other bytes
/// below 0x20 as `\u00xx`, everything else raw.
fn json_string(s: &[u8], out: &mut BytesMut) {
    out.reserve(s.len() + 2);
    out.put_u8(b'"');
    let mut start = 0;
    for (i, &c) in s.iter().enumerate() {
        if c > 31 && c != b'"' && c != b'\\' {
            continue;
        }
        out.put_slice(&s[start..i]);
        start = i + 1;
        match c {
            b'\\' => out.put_slice(b"\\\\"),
            b'"' => out.put_slice(b"\\\""),
            8 => out.put_slice(b"\\b"),
            12 => out.put_slice(b"\\f"),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            _ => {
                const LHEX: &[u8; 16] = b"0123456789abcdef";
                out.put_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    LHEX[(c >> 4) as usize],
                    LHEX[(c & 15) as usize],
                ]);
            }
        }
    }
    out.put_slice(&s[start..]);
    out.put_u8(b'"');
}

/// Decodes the inside of a JSON string (no quotes). Invalid escapes are kept as is.
fn json_unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = raw[i + 1];
        i += 2;
        match e {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let Some(hi) = hex4(raw, i) else {
                    out.extend_from_slice(b"\\u");
                    continue;
                };
                i += 4;
                let mut cp = hi as u32;
                let pair = if (0xD800..0xDC00).contains(&hi)
                    && raw.get(i) == Some(&b'\\')
                    && raw.get(i + 1) == Some(&b'u')
                {
                    hex4(raw, i + 2).filter(|lo| (0xDC00..0xE000).contains(lo))
                } else {
                    None
                };
                if let Some(lo) = pair {
                    cp = 0x10000 + (((hi as u32) - 0xD800) << 10) + ((lo as u32) - 0xDC00);
                    i += 6;
                }
                let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                let mut tmp = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Cow::Owned(out)
}

fn hex4(raw: &[u8], i: usize) -> Option<u16> {
    let s = raw.get(i..i + 4)?;
    let mut v = 0u16;
    for &c in s {
        v = v << 4 | hexval(c)? as u16;
    }
    Some(v)
}

/// `switch_xml_ampencode` for element text (`a == 0`): `&`, `<`, `>` and `\r` become
/// entities, a multi-byte UTF-8 sequence becomes `&#xHEX;`, and from a `<!` on the
/// rest is copied raw.
fn xml_ampencode(s: &[u8], out: &mut BytesMut) {
    let mut i = 0;
    let mut pending: u32 = 0;
    let mut expecting = 0u32;
    while i < s.len() {
        let c = s[i];
        match c {
            0 => return,
            b'&' => out.put_slice(b"&amp;"),
            b'<' => {
                if s.get(i + 1) == Some(&b'!') {
                    // "immune": the rest goes out untouched, up to a NUL.
                    let rest = &s[i..];
                    let end = memchr::memchr(0, rest).unwrap_or(rest.len());
                    out.put_slice(&rest[..end]);
                    return;
                }
                out.put_slice(b"&lt;")
            }
            b'>' => out.put_slice(b"&gt;"),
            b'\r' => out.put_slice(b"&#xD;"),
            c if c >= 0x80 => {
                if expecting == 0 {
                    let mut num = 1;
                    while num < 4 && (c >> (7 - num)) & 1 == 1 {
                        num += 1;
                    }
                    match num {
                        2 => pending = (c & 0x1f) as u32,
                        3 => pending = (c & 0x0f) as u32,
                        4 => pending = (c & 0x07) as u32,
                        _ => {}
                    }
                    expecting = num - 1;
                } else if (c >> 6) & 3 == 2 {
                    pending = pending << 6 | (c & 0x3f) as u32;
                    expecting -= 1;
                    if expecting == 0 {
                        out.put_slice(format!("&#x{pending:X};").as_bytes());
                    }
                } else {
                    expecting = 0;
                }
            }
            _ => out.put_u8(c),
        }
        i += 1;
    }
}

/// Decodes XML entities (`&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#N;` `&#xH;`).
/// Unknown entities stay as they are.
fn xml_unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'&', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let c = raw[i];
        if c != b'&' {
            out.push(c);
            i += 1;
            continue;
        }
        let semi = raw[i..].iter().take(12).position(|&b| b == b';');
        let Some(semi) = semi else {
            out.push(c);
            i += 1;
            continue;
        };
        let ent = &raw[i + 1..i + semi];
        let decoded: Option<u32> = match ent {
            b"amp" => Some('&' as u32),
            b"lt" => Some('<' as u32),
            b"gt" => Some('>' as u32),
            b"quot" => Some('"' as u32),
            b"apos" => Some('\'' as u32),
            [b'#', b'x' | b'X', hex @ ..] if !hex.is_empty() => {
                hex.iter().try_fold(0u32, |v, &h| {
                    hexval(h).and_then(|d| v.checked_mul(16)?.checked_add(d as u32))
                })
            }
            [b'#', dec @ ..] if !dec.is_empty() => dec.iter().try_fold(0u32, |v, &d| {
                if d.is_ascii_digit() {
                    v.checked_mul(10)?.checked_add((d - b'0') as u32)
                } else {
                    None
                }
            }),
            _ => None,
        };
        match decoded.and_then(char::from_u32) {
            Some(ch) => {
                let mut tmp = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                i += semi + 1;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

// ------------------------------------------------------------------ parsing helpers

fn bad(format: &'static str, reason: &str) -> Error {
    Error::MalformedEvent {
        format,
        reason: reason.to_owned(),
    }
}

fn check_len(data: &Bytes) -> Result<()> {
    if data.len() > u32::MAX as usize {
        return Err(bad("plain", "event larger than 4 GiB"));
    }
    Ok(())
}

/// Room for the headers of an event of `len` bytes: FreeSWITCH's run 28–30 bytes each
/// (plain and JSON), so this rarely grows.
fn estimate_lines(len: usize) -> usize {
    (len / 24).clamp(4, 1024)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn expect_lit(b: &[u8], i: usize, lit: &[u8]) -> Result<usize> {
    if b.get(i..).is_some_and(|r| r.starts_with(lit)) {
        Ok(i + lit.len())
    } else {
        Err(bad(
            "xml",
            &format!("expected {}", String::from_utf8_lossy(lit)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        let mut b = BytesMut::new();
        url_encode(s.as_bytes(), &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn url_encoding_matches_freeswitch() {
        assert_eq!(enc("fd00::2"), "fd00%3A%3A2");
        assert_eq!(
            enc("Tue, 24 Nov 2026 10:21:38 GMT"),
            "Tue,%2024%20Nov%202026%2010%3A21%3A38%20GMT"
        );
        assert_eq!(enc("+OK\n"), "%2BOK%0A");
        assert_eq!(enc("a%41b%2c%"), "a%41b%252c%25");
        assert_eq!(enc("é~\x7f"), "%C3%A9~%7F");
        assert_eq!(enc("/.,()!*'$-_"), "/.,()!*'$-_");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(&*percent_decode(b"a%2Cb%2cc%zz%4"), b"a,b,c%zz%4");
        assert!(matches!(percent_decode(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn plain_round_trip_with_body() {
        let mut e = Event::new("BACKGROUND_JOB");
        e.add_header("Job-Command", "originate {a=b}loopback/1 &park()");
        e.add_header("Empty", "");
        e.set_body("+OK done\n");
        let bytes = e.to_bytes(EventFormat::Plain);
        assert_eq!(
            &bytes[..],
            &b"Event-Name: BACKGROUND_JOB\nJob-Command: originate%20%7Ba%3Db%7Dloopback/1%20%26park()\nEmpty: _undef_\nContent-Length: 9\n\n+OK done\n"[..]
        );
        let back = Event::parse_plain(bytes.clone()).unwrap();
        assert_eq!(
            back.header("job-command").unwrap(),
            "originate {a=b}loopback/1 &park()"
        );
        assert_eq!(back.body().unwrap().as_ref(), b"+OK done\n");
        assert_eq!(back.to_bytes(EventFormat::Plain), bytes);
    }

    #[test]
    fn json_round_trip() {
        let mut e = Event::new("CUSTOM");
        e.add_header("Quote", "a\"b\\c\n\t\x01é/");
        e.add_header("List", "ARRAY::x|:y");
        e.set_body("body\n");
        let bytes = e.to_bytes(EventFormat::Json);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "{\"Event-Name\":\"CUSTOM\",\"Quote\":\"a\\\"b\\\\c\\n\\t\\u0001é/\",\"List\":[\"x\",\"y\"],\"Content-Length\":\"5\",\"_body\":\"body\\n\"}"
        );
        let back = Event::parse_json(bytes.clone()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.to_bytes(EventFormat::Json), bytes);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["Quote"], "a\"b\\c\n\t\x01é/");
    }

    #[test]
    fn xml_round_trip() {
        let mut e = Event::new("X");
        e.add_header("A", "1 < 2");
        e.add_header("E", "");
        e.set_body("x & y <z>\r\né\n");
        let bytes = e.to_bytes(EventFormat::Xml);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "<event>\n  <headers>\n    <Event-Name>X</Event-Name>\n    <A>1%20%3C%202</A>\n    <E></E>\n  </headers>\n  <Content-Length>14</Content-Length>\n  <body>x &amp; y &lt;z&gt;&#xD;\n&#xE9;\n  </body>\n</event>\n"
        );
        let back = Event::parse_xml(bytes.clone()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.to_bytes(EventFormat::Xml), bytes);
    }

    #[test]
    fn json_rejects_garbage_without_panicking() {
        for s in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"b\"",
            "{\"a\":\"b\",}",
            "{\"a\":[\"b\"",
            "{\"a\\",
            "[]",
            "{}x",
        ] {
            assert!(Event::parse_json(Bytes::from(s)).is_err(), "{s:?}");
        }
        assert!(Event::parse_json(Bytes::from("{}")).is_ok());
        let e = Event::parse_json(Bytes::from(
            "{\"n\":1,\"o\":{\"a\":[1,2]},\"s\":\"\\ud83d\\ude00\"}",
        ))
        .unwrap();
        assert_eq!(e.header("n").unwrap(), "1");
        assert_eq!(e.header("o").unwrap(), "{\"a\":[1,2]}");
        assert_eq!(e.header("s").unwrap(), "😀");
    }

    #[test]
    fn event_name_is_the_last_one_even_after_changes() {
        let mut e = Event::parse_plain(Bytes::from_static(
            b"Event-Name: COMMAND\nA: 1\nEvent-Name: PRIVATE_COMMAND\n\n",
        ))
        .unwrap();
        assert_eq!(e.event_name().unwrap(), "PRIVATE_COMMAND");
        e.add_header("Event-Name", "CUSTOM");
        assert_eq!(e.event_name().unwrap(), "CUSTOM");
        e.remove_header("event-name");
        assert_eq!(e.event_name(), None);
        let j = Event::parse_json(Bytes::from_static(
            br#"{"Event-Name":"A","Event-Name":"B"}"#,
        ))
        .unwrap();
        assert_eq!(j.event_name().unwrap(), "B");
        assert_eq!(j.header("Event-Name").unwrap(), "A");
        assert_eq!(Event::new("X").event_name().unwrap(), "X");
        assert_eq!(Event::empty().event_name(), None);
    }

    #[test]
    fn typed_accessors() {
        let e = Event::parse_plain(Bytes::from_static(
            b"Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u1\nChannel-State: CS_REPORTING\nAnswer-State: hangup\nHangup-Cause: NORMAL_CLEARING\nvariable_billsec: 3\nvariable_sip_to_user: a%40b\n\n",
        ))
        .unwrap();
        assert_eq!(e.event_name().unwrap(), "CHANNEL_HANGUP_COMPLETE");
        assert_eq!(e.unique_id().unwrap(), "u1");
        assert!(matches!(e.unique_id().unwrap(), Cow::Borrowed(_)));
        assert_eq!(e.channel_state(), Some(ChannelState::Reporting));
        assert_eq!(e.channel_state().unwrap().number(), Some(11));
        assert_eq!(e.answer_state(), Some(AnswerState::Hangup));
        assert_eq!(e.hangup_cause(), Some(HangupCause::NormalClearing));
        assert_eq!(e.hangup_cause().unwrap().code(), Some(16));
        assert_eq!(e.variable("billsec").unwrap(), "3");
        assert_eq!(e.variable("SIP_TO_USER").unwrap(), "a@b");
        assert_eq!(e.variables().count(), 2);
    }
}
