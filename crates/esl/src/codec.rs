//! `tokio-util` codecs for both directions of an ESL connection.
//!
//! * [`ClientCodec`] is the client's side (inbound client, outbound server): it decodes
//!   the [`Frame`]s FreeSWITCH sends and encodes [`Command`]s.
//! * [`ServerCodec`] is FreeSWITCH's side (an emulator, an ESL-compatible server): it
//!   decodes the [`Command`]s clients send and encodes [`Frame`]s.
//!
//! Decoding is *check → parse → advance*: the decoder scans the buffered bytes for a
//! complete message (header block up to its blank line, then exactly
//! `Content-Length` body bytes), recording header offsets as it goes, and only then
//! splits the message off the buffer. It remembers how far it has scanned, so a
//! message arriving a byte at a time costs linear time, and it never panics on any
//! input: everything malformed or over a [`Limits`] bound is an [`Error`].

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::command::Command;
use crate::error::{Error, Result};
use crate::frame::{Frame, Span};

/// Size bounds applied while decoding. Anything over a bound is a decode error
/// (and, as always with `tokio-util`, ends the stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest header block, in bytes (the outbound `connect` reply, about 10 KiB, is
    /// the largest FreeSWITCH sends in practice). Capped at 1 GiB.
    pub max_header_bytes: usize,
    /// Most header lines in one message.
    pub max_headers: usize,
    /// Largest body (`Content-Length`). Capped at 1 GiB.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 1 << 20,
            max_headers: 16 * 1024,
            max_body_bytes: 64 << 20,
        }
    }
}

const HARD_CAP: usize = 1 << 30;

/// The raw pieces of one decoded message.
#[derive(Debug)]
pub(crate) struct RawMessage {
    pub(crate) head: Bytes,
    /// For a client command: the command line (offsets into `head`, value unused).
    pub(crate) line: Option<(u32, u32)>,
    pub(crate) spans: Vec<Span>,
    pub(crate) body: Option<Bytes>,
}

#[derive(Debug)]
enum State {
    /// Scanning the header block; `pos` is the start of the first line not yet scanned.
    Head { pos: usize },
    /// Header block complete (`head_len` bytes of lines, then a blank line ending at
    /// `body_start`); waiting for `body_len` body bytes.
    Body {
        head_len: usize,
        body_start: usize,
        body_len: usize,
    },
}

/// The shared scanner behind both codecs.
#[derive(Debug)]
pub(crate) struct MessageDecoder {
    limits: Limits,
    /// `true` when the first line is a command line (`api status`), not a header.
    command_line: bool,
    state: State,
    line: Option<(u32, u32)>,
    spans: Vec<Span>,
    content_length: Option<usize>,
}

impl MessageDecoder {
    pub(crate) fn new(limits: Limits, command_line: bool) -> Self {
        let limits = Limits {
            max_header_bytes: limits.max_header_bytes.min(HARD_CAP),
            max_headers: limits.max_headers,
            max_body_bytes: limits.max_body_bytes.min(HARD_CAP),
        };
        MessageDecoder {
            limits,
            command_line,
            state: State::Head { pos: 0 },
            line: None,
            spans: Vec::with_capacity(8),
            content_length: None,
        }
    }

    fn reset(&mut self) {
        self.state = State::Head { pos: 0 };
        self.line = None;
        self.content_length = None;
    }

    pub(crate) fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RawMessage>> {
        loop {
            match self.state {
                State::Head { pos } => match self.scan_head(src, pos)? {
                    None => return Ok(None),
                    Some((head_len, body_start)) => {
                        let body_len = self.content_length.unwrap_or(0);
                        if body_len > self.limits.max_body_bytes {
                            return Err(Error::BodyTooLarge {
                                len: body_len,
                                limit: self.limits.max_body_bytes,
                            });
                        }
                        self.state = State::Body {
                            head_len,
                            body_start,
                            body_len,
                        };
                    }
                },
                State::Body {
                    head_len,
                    body_start,
                    body_len,
                } => {
                    let total = body_start + body_len;
                    if src.len() < total {
                        src.reserve(total - src.len());
                        return Ok(None);
                    }
                    // Advance: split the message off the buffer.
                    let head = src.split_to(head_len).freeze();
                    src.advance(body_start - head_len);
                    let body = if body_len > 0 {
                        Some(src.split_to(body_len).freeze())
                    } else {
                        None
                    };
                    let msg = RawMessage {
                        head,
                        line: self.line,
                        spans: std::mem::replace(&mut self.spans, Vec::with_capacity(8)),
                        body,
                    };
                    self.reset();
                    return Ok(Some(msg));
                }
            }
        }
    }

    /// Scans lines from `pos`. Returns `(head_len, body_start)` once the blank line is
    /// found: the header lines are `src[..head_len]`, the body starts at `body_start`.
    fn scan_head(&mut self, src: &mut BytesMut, mut pos: usize) -> Result<Option<(usize, usize)>> {
        loop {
            let Some(nl) = memchr::memchr(b'\n', &src[pos..]) else {
                if src.len() > self.limits.max_header_bytes {
                    return Err(Error::HeaderTooLarge {
                        limit: self.limits.max_header_bytes,
                    });
                }
                self.state = State::Head { pos };
                return Ok(None);
            };
            let end = pos + nl; // index of '\n'
            let mut line_end = end;
            if line_end > pos && src[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            if line_end > self.limits.max_header_bytes {
                return Err(Error::HeaderTooLarge {
                    limit: self.limits.max_header_bytes,
                });
            }
            if line_end == pos {
                // A blank line.
                if self.spans.is_empty() && self.line.is_none() {
                    // Blank lines before a message are skipped.
                    src.advance(end + 1);
                    pos = 0;
                    continue;
                }
                return Ok(Some((pos, end + 1)));
            }
            if self.command_line && self.line.is_none() {
                self.line = Some((pos as u32, line_end as u32));
            } else {
                self.parse_header(src, pos, line_end)?;
            }
            pos = end + 1;
        }
    }

    fn parse_header(&mut self, src: &[u8], start: usize, end: usize) -> Result<()> {
        if self.spans.len() >= self.limits.max_headers {
            return Err(Error::TooManyHeaders {
                limit: self.limits.max_headers,
            });
        }
        let line = &src[start..end];
        // Split at the first colon only: `Reply-Text: +OK Job-UUID: …`.
        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(Error::malformed(format!(
                "header line without a colon: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )));
        };
        let name = &line[..colon];
        if name.is_empty() {
            return Err(Error::malformed("header line with an empty name"));
        }
        let mut vstart = colon + 1;
        while vstart < line.len() && (line[vstart] == b' ' || line[vstart] == b'\t') {
            vstart += 1;
        }
        if name.eq_ignore_ascii_case(b"Content-Length") {
            self.content_length = Some(parse_content_length(&line[vstart..])?);
        }
        self.spans.push(Span {
            name_start: start as u32,
            name_end: (start + colon) as u32,
            value_start: (start + vstart) as u32,
            value_end: end as u32,
        });
        Ok(())
    }
}

/// Parses a `Content-Length` value: ASCII digits, surrounding blanks allowed.
pub(crate) fn parse_content_length(v: &[u8]) -> Result<usize> {
    let t = v.trim_ascii();
    if t.is_empty() || t.len() > 12 || !t.iter().all(u8::is_ascii_digit) {
        return Err(Error::malformed(format!(
            "invalid Content-Length {:?}",
            String::from_utf8_lossy(&v[..v.len().min(40)])
        )));
    }
    Ok(t.iter().fold(0usize, |n, d| n * 10 + (d - b'0') as usize))
}

/// The client side of an ESL connection: decodes [`Frame`]s, encodes [`Command`]s.
#[derive(Debug)]
pub struct ClientCodec {
    inner: MessageDecoder,
}

impl ClientCodec {
    /// A codec with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A codec with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        ClientCodec {
            inner: MessageDecoder::new(limits, false),
        }
    }
}

impl Default for ClientCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for ClientCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        Ok(self
            .inner
            .decode(src)?
            .map(|m| Frame::from_parts(m.head, m.spans, m.body)))
    }
}

impl Encoder<&Command> for ClientCodec {
    type Error = Error;

    fn encode(&mut self, cmd: &Command, dst: &mut BytesMut) -> Result<()> {
        cmd.encode(dst)
    }
}

impl Encoder<Command> for ClientCodec {
    type Error = Error;

    fn encode(&mut self, cmd: Command, dst: &mut BytesMut) -> Result<()> {
        cmd.encode(dst)
    }
}

/// The server side of an ESL connection: decodes the [`Command`]s a client sends,
/// encodes [`Frame`]s exactly as laid out in the frame.
#[derive(Debug)]
pub struct ServerCodec {
    inner: MessageDecoder,
}

impl ServerCodec {
    /// A codec with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A codec with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        ServerCodec {
            inner: MessageDecoder::new(limits, true),
        }
    }
}

impl Default for ServerCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for ServerCodec {
    type Item = Command;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>> {
        match self.inner.decode(src)? {
            None => Ok(None),
            Some(m) => Command::from_raw(m).map(Some),
        }
    }
}

/// Checks a frame before it goes on the wire: no header may break the framing, and
/// the body must match `Content-Length`.
pub(crate) fn check_frame(frame: &Frame) -> Result<()> {
    for (name, value) in frame.headers() {
        if name.is_empty() || name.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0 | b':')) {
            return Err(Error::invalid("header name", name));
        }
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(Error::invalid("header value", value));
        }
    }
    // Names or values that are not UTF-8 read as "" above; check the raw bytes too.
    for s in &frame.spans {
        let v = s.value(&frame.head);
        if v.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(Error::invalid("header value", &String::from_utf8_lossy(v)));
        }
        let n = s.name(&frame.head);
        if n.is_empty() || n.iter().any(|b| matches!(b, b'\r' | b'\n' | 0 | b':')) {
            return Err(Error::invalid("header name", &String::from_utf8_lossy(n)));
        }
    }
    let body_len = frame.body.as_ref().map_or(0, |b| b.len());
    match frame.header_bytes("Content-Length") {
        Some(v) => {
            let ok = parse_content_length(v).is_ok_and(|n| n == body_len);
            if !ok {
                return Err(Error::ContentLengthMismatch {
                    header: String::from_utf8_lossy(v).into_owned(),
                    body: body_len,
                });
            }
        }
        None if body_len > 0 => {
            return Err(Error::ContentLengthMismatch {
                header: String::new(),
                body: body_len,
            })
        }
        None => {}
    }
    Ok(())
}

impl Encoder<&Frame> for ServerCodec {
    type Error = Error;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<()> {
        check_frame(frame)?;
        frame.write_to(dst);
        Ok(())
    }
}

impl Encoder<Frame> for ServerCodec {
    type Error = Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<()> {
        self.encode(&frame, dst)
    }
}

/// Pre-serialised bytes (for example a frame encoded once and fanned out to many
/// connections) pass through unchanged.
impl Encoder<Bytes> for ServerCodec {
    type Error = Error;

    fn encode(&mut self, bytes: Bytes, dst: &mut BytesMut) -> Result<()> {
        dst.put_slice(&bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut ClientCodec, data: &[u8]) -> Result<Vec<Frame>> {
        let mut buf = BytesMut::from(data);
        let mut out = Vec::new();
        while let Some(f) = codec.decode(&mut buf)? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn splits_at_first_colon_only() {
        let mut c = ClientCodec::new();
        let frames = decode_all(
            &mut c,
            b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: abc\nJob-UUID: abc\n\n",
        )
        .unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].reply_text(), Some("+OK Job-UUID: abc"));
        assert_eq!(frames[0].job_uuid(), Some("abc"));
    }

    #[test]
    fn waits_for_the_whole_body() {
        let mut c = ClientCodec::new();
        let mut buf = BytesMut::from(&b"Content-Type: api/response\nContent-Length: 5\n\nab"[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"cdeContent-Type: auth/request\n\n");
        let f = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f.body().unwrap().as_ref(), b"abcde");
        let f = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f.content_type(), Some("auth/request"));
        assert!(buf.is_empty());
    }

    #[test]
    fn tolerates_crlf_and_leading_blank_lines() {
        let mut c = ClientCodec::new();
        let frames = decode_all(&mut c, b"\r\n\nContent-Type: auth/request\r\n\r\n").unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].content_type(), Some("auth/request"));
    }

    #[test]
    fn limits_are_errors() {
        let limits = Limits {
            max_header_bytes: 64,
            max_headers: 4,
            max_body_bytes: 10,
        };
        let mut c = ClientCodec::with_limits(limits);
        let err = decode_all(&mut c, &[b'a'; 100]).unwrap_err();
        assert!(matches!(err, Error::HeaderTooLarge { limit: 64 }), "{err}");
        let mut c = ClientCodec::with_limits(limits);
        let err = decode_all(&mut c, b"Content-Length: 11\n\n").unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { len: 11, limit: 10 }),
            "{err}"
        );
        let mut c = ClientCodec::with_limits(limits);
        let err = decode_all(&mut c, b"a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n\n").unwrap_err();
        assert!(matches!(err, Error::TooManyHeaders { limit: 4 }), "{err}");
        let mut c = ClientCodec::new();
        let err = decode_all(&mut c, b"Content-Length: -1\n\n").unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err}");
        let mut c = ClientCodec::new();
        let err = decode_all(&mut c, b"Content-Length: 99999999999999999999\n\n").unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err}");
        let mut c = ClientCodec::new();
        let err = decode_all(&mut c, b"no colon here\n\n").unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err}");
    }

    #[test]
    fn one_byte_at_a_time() {
        let data = b"Content-Length: 3\nContent-Type: text/event-plain\n\nabcContent-Type: auth/request\n\n";
        let mut c = ClientCodec::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in data {
            buf.put_u8(*b);
            while let Some(f) = c.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].body().unwrap().as_ref(), b"abc");
    }

    #[test]
    fn encoder_refuses_injection_and_bad_lengths() {
        let mut c = ServerCodec::new();
        let mut dst = BytesMut::new();
        let f = Frame::command_reply("+OK\nContent-Type: api/response");
        assert!(matches!(
            c.encode(&f, &mut dst),
            Err(Error::InvalidArgument { .. })
        ));
        let mut f = Frame::api_response("abc");
        f.body = Some(Bytes::from_static(b"abcd"));
        assert!(matches!(
            c.encode(&f, &mut dst),
            Err(Error::ContentLengthMismatch { .. })
        ));
        assert!(dst.is_empty());
        c.encode(Frame::api_response("+OK\n"), &mut dst).unwrap();
        assert_eq!(
            &dst[..],
            b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
        );
    }
}
