//! `text/event-json` bodies: FreeSWITCH's flat object of string values.
//!
//! FreeSWITCH (cJSON, unformatted) always writes `{"k":"v","k":"v",…}` with no
//! whitespace, so the fast path walks only the unescaped quotes ([`JsonQuotes`]) and
//! checks that the bytes between them are exactly `":"`, `","` and the braces; keys
//! and values stay spans of the buffer (escaped values are unescaped when read). Any
//! other shape (whitespace, non-string values, escaped keys, `{}`, malformed input)
//! goes to the general parser, which also produces every error. In debug builds each
//! fast-path result is checked against the general parser.

use std::borrow::Cow;

use bytes::Bytes;

use super::scan::JsonQuotes;
use super::{
    bad, check_len, estimate_lines, is_event_name, json_unescape, name_index, owned, Encoding,
    Event, Field, Owned, Text, NAME_NONE, NAME_UNKNOWN,
};
use crate::error::{Error, Result};

/// Parses a JSON event body (see [`Event::parse_json`]).
pub(super) fn parse(data: Bytes) -> Result<Event> {
    check_len(&data)?;
    match fast(&data) {
        Some(ev) => {
            debug_assert!(
                general(data.clone()).is_ok_and(|g| g == ev && g.event_name() == ev.event_name()),
                "the JSON fast path disagrees with the general parser on {:?}",
                String::from_utf8_lossy(&data)
            );
            Ok(ev)
        }
        None => general(data),
    }
}

/// FreeSWITCH's own layout; `None` for anything else.
fn fast(data: &Bytes) -> Option<Event> {
    let b = &data[..];
    let mut i = skip_json_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut q = JsonQuotes::new(b);
    let mut fields: Vec<Field> = Vec::with_capacity(estimate_lines(b.len()));
    let mut body = None;
    let mut name_at = NAME_NONE;
    loop {
        let k0 = q.next()?;
        let k1 = q.next()?;
        let v0 = q.next()?;
        let v1 = q.next()?;
        // `"key":"value"` exactly, starting where the previous one ended.
        if k0 != i || v0 != k1 + 2 || b.get(k1 + 1) != Some(&b':') {
            return None;
        }
        let key = &b[k0 + 1..k1];
        if q.escapes && memchr::memchr(b'\\', key).is_some() {
            // Escaped keys become owned text: the general parser does that.
            return None;
        }
        if key.len() == 5 && key.eq_ignore_ascii_case(b"_body") {
            if fields.last().is_some_and(|f| is_content_length(b, f)) {
                fields.pop();
            }
            let raw = &b[v0 + 1..v1];
            body = match json_unescape(raw) {
                Cow::Borrowed([]) => None,
                Cow::Borrowed(_) => Some(data.slice(v0 + 1..v1)),
                Cow::Owned(v) => Some(Bytes::from(v)),
            };
        } else {
            if is_event_name(key) {
                name_at = fields.len() as u32;
            }
            fields.push(Field {
                name: Text::Span((k0 + 1) as u32, k1 as u32),
                value: Text::Span((v0 + 1) as u32, v1 as u32),
            });
        }
        i = v1 + 2;
        match b.get(v1 + 1) {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return None,
        }
    }
    if q.next().is_some() || skip_json_ws(b, i) != b.len() {
        return None;
    }
    Some(Event {
        buf: data.clone(),
        enc: Encoding::Json,
        fields,
        owned: Vec::new(),
        body,
        name_at,
    })
}

fn is_content_length(b: &[u8], f: &Field) -> bool {
    match f.name {
        Text::Span(a, e) => b[a as usize..e as usize].eq_ignore_ascii_case(b"Content-Length"),
        Text::Owned(_) => false,
    }
}

/// JSON's whitespace (not form feed or vertical tab).
fn skip_json_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Any JSON object: whitespace, escaped keys, number/object/`true` values (kept as
/// their text), arrays (as FreeSWITCH's `ARRAY::a|:b`). Errors name what was wrong.
fn general(data: Bytes) -> Result<Event> {
    let mut p = JsonScanner { b: &data[..], i: 0 };
    let mut lits = Owned::default();
    let mut name_at = NAME_NONE;
    let mut fields = Vec::with_capacity(estimate_lines(data.len()));
    let mut body = None;
    p.ws();
    p.expect(b'{')?;
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let (ks, ke, kesc) = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let name = if kesc {
                lits.push(owned(json_unescape(&data[ks..ke])).into_owned())
            } else {
                Text::Span(ks as u32, ke as u32)
            };
            let is_body = data[ks..ke].eq_ignore_ascii_case(b"_body");
            if kesc {
                name_at = NAME_UNKNOWN;
            } else if name_at != NAME_UNKNOWN && is_event_name(&data[ks..ke]) {
                // The field about to be pushed (values of every kind are pushed).
                name_at = fields.len() as u32;
            }
            match p.peek() {
                Some(b'"') => {
                    let (vs, ve, vesc) = p.string()?;
                    if is_body {
                        let b = if vesc {
                            Bytes::from(json_unescape(&data[vs..ve]).into_owned())
                        } else {
                            data.slice(vs..ve)
                        };
                        let prev_cl = fields.last().is_some_and(|f: &Field| match &f.name {
                            Text::Span(a, b) => data[*a as usize..*b as usize]
                                .eq_ignore_ascii_case(b"Content-Length"),
                            Text::Owned(i) => {
                                lits.0[*i as usize].eq_ignore_ascii_case("Content-Length")
                            }
                        });
                        if prev_cl {
                            fields.pop();
                        }
                        body = if b.is_empty() { None } else { Some(b) };
                    } else {
                        fields.push(Field {
                            name,
                            value: Text::Span(vs as u32, ve as u32),
                        });
                    }
                }
                Some(b'[') => {
                    let v = p.string_array()?;
                    fields.push(Field {
                        name,
                        value: lits.push(v),
                    });
                }
                Some(_) => {
                    let (vs, ve) = p.skip_value(0)?;
                    let raw = std::str::from_utf8(&data[vs..ve]).unwrap_or("");
                    fields.push(Field {
                        name,
                        value: lits.push(raw),
                    });
                }
                None => return Err(bad("json", "unexpected end")),
            }
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(bad("json", "expected ',' or '}'")),
            }
        }
    }
    p.ws();
    if p.i != data.len() {
        return Err(bad("json", "trailing bytes after the object"));
    }
    if name_at == NAME_UNKNOWN {
        name_at = name_index(&data, &fields, &lits.0);
    }
    Ok(Event {
        buf: data,
        enc: Encoding::Json,
        name_at,
        fields,
        owned: lits.0,
        body,
    })
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` equal to zero get their top bit set (exact for the lowest such byte,
/// which is all the callers use).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// The first `"` or `\` at or after `i`, eight bytes at a time (strings are short,
/// so this beats a SIMD search's set-up cost).
#[inline]
fn find_quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let m = zero_bytes(w ^ (LO * b'"' as u64)) | zero_bytes(w ^ (LO * b'\\' as u64));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| i + p)
}

#[cold]
#[inline(never)]
fn expected(c: u8) -> Error {
    bad("json", &format!("expected '{}'", c as char))
}

struct JsonScanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl JsonScanner<'_> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<()> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(expected(c))
        }
    }

    /// A string at the cursor: returns (start, end, has_escapes) of its inside.
    #[inline]
    fn string(&mut self) -> Result<(usize, usize, bool)> {
        self.expect(b'"')?;
        let start = self.i;
        let mut esc = false;
        loop {
            let Some(at) = find_quote_or_backslash(self.b, self.i) else {
                return Err(bad("json", "unterminated string"));
            };
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Ok((start, at, esc));
            }
            esc = true;
            self.i = at + 2;
            if self.i > self.b.len() {
                return Err(bad("json", "unterminated string"));
            }
        }
    }

    /// An array of strings, as FreeSWITCH's `ARRAY::a|:b`.
    fn string_array(&mut self) -> Result<String> {
        self.expect(b'[')?;
        let mut s = String::from("ARRAY::");
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(s);
        }
        let mut first = true;
        loop {
            self.ws();
            if !first {
                s.push_str("|:");
            }
            first = false;
            if self.peek() == Some(b'"') {
                let (a, b, _) = self.string()?;
                s.push_str(&owned(json_unescape(&self.b[a..b])));
            } else {
                let (a, b) = self.skip_value(1)?;
                s.push_str(&String::from_utf8_lossy(&self.b[a..b]));
            }
            self.ws();
            match self.next() {
                Some(b',') => continue,
                Some(b']') => return Ok(s),
                _ => return Err(bad("json", "expected ',' or ']'")),
            }
        }
    }

    /// Skips any JSON value; returns its span.
    fn skip_value(&mut self, depth: usize) -> Result<(usize, usize)> {
        if depth > 64 {
            return Err(bad("json", "nesting too deep"));
        }
        self.ws();
        let start = self.i;
        match self.peek() {
            Some(b'"') => {
                self.string()?;
            }
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                } else {
                    loop {
                        if open == b'{' {
                            self.ws();
                            self.string()?;
                            self.ws();
                            self.expect(b':')?;
                        }
                        self.skip_value(depth + 1)?;
                        self.ws();
                        match self.next() {
                            Some(b',') => continue,
                            Some(c) if c == close => break,
                            _ => return Err(bad("json", "bad container")),
                        }
                    }
                }
            }
            Some(c) if c == b'-' || c.is_ascii_alphanumeric() => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                {
                    self.i += 1;
                }
            }
            _ => return Err(bad("json", "unexpected character")),
        }
        Ok((start, self.i))
    }
}
