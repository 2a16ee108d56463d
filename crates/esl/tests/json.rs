//! JSON events decode as serde_json reads the same text: generated objects with
//! every kind of escape (`\uXXXX`, surrogate pairs, `\/`), non-ASCII text, duplicate
//! keys, non-string values and whitespace, in FreeSWITCH's own compact layout (the
//! fast path) and spaced out (the general parser). In debug builds every fast-path
//! result is also checked against the general parser inside `Event::parse_json`.
//! Truncated or corrupted objects are errors, never panics.

use bytes::Bytes;
use esl::Event;
use proptest::prelude::*;

/// Text for keys and values: ASCII with the characters JSON must or may escape,
/// accents, a CJK character and an emoji (outside the BMP: a surrogate pair in
/// `\u` form).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            'a', 'Z', '0', '-', '_', ' ', ':', ',', '{', '}', '[', ']', '"', '\\', '/', '\n', '\r',
            '\t', '\u{8}', '\u{c}', '\u{1}', '\u{1f}', 'é', '中', '😀', '\u{7f}',
        ]),
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// How a string is written: as serde_json writes it, or with every character (or just
/// the non-ASCII ones) as `\u` escapes, or with `/` escaped.
#[derive(Clone, Copy, Debug)]
enum Style {
    Serde,
    AllUnicode,
    NonAsciiUnicode,
    Solidus,
}

fn style() -> impl Strategy<Value = Style> {
    prop::sample::select(vec![
        Style::Serde,
        Style::AllUnicode,
        Style::NonAsciiUnicode,
        Style::Solidus,
    ])
}

fn write_string(s: &str, style: Style) -> String {
    let unicode = |c: char, out: &mut String| {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{u:04X}"));
        }
    };
    match style {
        Style::Serde => serde_json::to_string(s).unwrap(),
        Style::Solidus => serde_json::to_string(s).unwrap().replace('/', "\\/"),
        Style::AllUnicode => {
            let mut out = String::from("\"");
            for c in s.chars() {
                unicode(c, &mut out);
            }
            out.push('"');
            out
        }
        Style::NonAsciiUnicode => {
            let mut out = String::from("\"");
            let quoted = serde_json::to_string(s).unwrap();
            for c in quoted[1..quoted.len() - 1].chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    unicode(c, &mut out);
                }
            }
            out.push('"');
            out
        }
    }
}

/// A value that is not a string: kept as its JSON text (arrays as `ARRAY::`).
fn other_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "-12",
        "3.5e2",
        "true",
        "false",
        "null",
        "{}",
        "{\"a\":[1,{\"b\":null}]}",
        "[]",
        "[1,2]",
    ])
    .prop_map(str::to_owned)
}

#[derive(Clone, Debug)]
enum Value {
    Str(String, Style),
    Strings(Vec<String>),
    Other(String),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (text(), style()).prop_map(|(s, st)| Value::Str(s, st)),
        1 => prop::collection::vec(text(), 1..4).prop_map(Value::Strings),
        1 => other_value().prop_map(Value::Other),
    ]
}

/// Keys: generated text (which may repeat) or FreeSWITCH names.
fn key() -> impl Strategy<Value = (String, Style)> {
    prop_oneof![
        (text(), style()),
        prop::sample::select(vec!["Event-Name", "Unique-ID", "variable_x", "Event-Name"])
            .prop_map(|k| (k.to_owned(), Style::Serde)),
    ]
    .prop_filter("the body key is special", |(k, _)| {
        !k.eq_ignore_ascii_case("_body")
    })
}

/// Writes the object compactly (`sep` empty) or with whitespace around every token.
fn write_object(pairs: &[((String, Style), Value)], sep: &str) -> String {
    let mut out = format!("{sep}{{{sep}");
    for (i, ((k, ks), v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!("{sep},{sep}"));
        }
        out.push_str(&write_string(k, *ks));
        out.push_str(&format!("{sep}:{sep}"));
        match v {
            Value::Str(s, st) => out.push_str(&write_string(s, *st)),
            Value::Strings(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|s| write_string(s, Style::Serde))
                    .collect();
                out.push_str(&format!("[{}]", items.join(&format!("{sep},{sep}"))));
            }
            Value::Other(raw) => out.push_str(raw),
        }
    }
    out.push_str(&format!("{sep}}}{sep}"));
    out
}

/// What each header must read as: the strings as serde_json decodes them.
fn expected(pairs: &[((String, Style), Value)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|((k, ks), v)| {
            let key: String = serde_json::from_str(&write_string(k, *ks)).unwrap();
            let value = match v {
                Value::Str(s, st) => serde_json::from_str(&write_string(s, *st)).unwrap(),
                Value::Strings(items) => format!("ARRAY::{}", items.join("|:")),
                // Arrays of anything become FreeSWITCH's `ARRAY::` form.
                Value::Other(raw) if raw == "[]" => "ARRAY::".to_owned(),
                Value::Other(raw) if raw == "[1,2]" => "ARRAY::1|:2".to_owned(),
                Value::Other(raw) => raw.clone(),
            };
            (key, value)
        })
        .collect()
}

fn headers(ev: &Event) -> Vec<(String, String)> {
    ev.headers()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn objects_decode_as_serde_json_reads_them(
        pairs in prop::collection::vec((key(), value()), 0..12),
        spaced in any::<bool>(),
        body in prop::option::of((text(), style())),
    ) {
        let mut text = write_object(&pairs, if spaced { " \n" } else { "" });
        if let Some((b, st)) = &body {
            // `_body` last, after its `Content-Length`, as FreeSWITCH writes it.
            let close = text.rfind('}').unwrap();
            let comma = if pairs.is_empty() { "" } else { "," };
            let tail = format!(
                "{comma}\"Content-Length\":\"{}\",\"_body\":{}}}",
                b.len(),
                write_string(b, *st)
            );
            text.replace_range(close.., &tail);
        }
        // serde_json accepts it too.
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
        let ev = Event::parse_json(Bytes::from(text.clone())).unwrap();
        prop_assert_eq!(headers(&ev), expected(&pairs), "{}", text);
        let want_body = body.map(|(b, _)| b).filter(|b| !b.is_empty());
        prop_assert_eq!(ev.body_str().map(str::to_owned), want_body);
        // The last Event-Name counts, the first is what a plain lookup finds.
        let names: Vec<_> = expected(&pairs)
            .into_iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Event-Name"))
            .map(|(_, v)| v)
            .collect();
        prop_assert_eq!(ev.event_name().map(|s| s.into_owned()), names.last().cloned());
        prop_assert_eq!(ev.header("event-name").map(|s| s.into_owned()), names.first().cloned());
    }

    #[test]
    fn truncated_objects_are_errors(
        pairs in prop::collection::vec((key(), value()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = write_object(&pairs, "");
        let cut = cut.index(text.len());
        let bytes = Bytes::copy_from_slice(&text.as_bytes()[..cut]);
        prop_assert!(Event::parse_json(bytes).is_err());
    }

    #[test]
    fn corrupted_objects_never_panic_and_agree_with_serde_when_valid(
        pairs in prop::collection::vec((key(), value()), 1..8),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = write_object(&pairs, "").into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let ours = Event::parse_json(Bytes::from(bytes.clone()));
        // Where serde_json reads a flat object of distinct keys and string values,
        // ours reads the same. (Ours is more lenient: raw control characters, bad
        // escapes and invalid UTF-8 are kept rather than refused.)
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&bytes) {
            let mut folded: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
            folded.sort();
            folded.dedup();
            if map.values().all(|v| v.is_string())
                && folded.len() == map.len()
                && !folded.iter().any(|k| k == "_body")
            {
                let ev = ours.unwrap();
                if ev.header_count() == map.len() {
                    for (k, v) in &map {
                        let got = ev.header(k).map(|s| s.into_owned());
                        prop_assert_eq!(got.as_deref(), v.as_str());
                    }
                }
            }
        }
    }
}

#[test]
fn the_fast_path_and_the_general_parser_agree_on_escapes_across_blocks() {
    // Backslash runs of every length ending at and around the 64-byte block edges.
    for run in 0..6 {
        for at in 50..140 {
            let mut value = "x".repeat(at);
            value.push_str(&"\\\\".repeat(run));
            value.push_str("\\\"q");
            let text = format!("{{\"Event-Name\":\"A\",\"k\":\"{value}\",\"z\":\"1\"}}");
            let ev = Event::parse_json(Bytes::from(text.clone())).unwrap();
            let want: String = serde_json::from_str(&format!("\"{value}\"")).unwrap();
            assert_eq!(ev.header("k").unwrap(), want, "{text}");
            assert_eq!(ev.header("z").unwrap(), "1");
        }
    }
}

#[test]
fn malformed_json_is_a_clear_error() {
    for bad in [
        "{\"a\":\"b\"",
        "{\"a\" \"b\"}",
        "{\"a\":\"b\",}",
        "{\"a\":\"b\"}}",
        "{\"a\\\":\"b\"}",
        "{\"a\":\"b\\\"}",
        "[\"a\"]",
        "\"a\"",
        "{\"a\":\"b\"} x",
        "\u{c}{}",
    ] {
        let err = Event::parse_json(Bytes::from(bad)).unwrap_err();
        assert!(err.to_string().contains("json"), "{bad}: {err}");
    }
}
