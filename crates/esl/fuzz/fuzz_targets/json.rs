//! `text/event-json` bodies on arbitrary bytes. Nothing may panic; the fast path and
//! the general parser agree (checked inside `Event::parse_json` when built with debug
//! assertions: run with `-a`); what parses re-serialises to JSON that parses to the same
//! event; and where serde_json reads a flat object of distinct keys and string values,
//! every header reads the same (its last value, where a key repeats).
#![no_main]

use bytes::Bytes;
use esl::{Event, EventFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Event::parse_json(Bytes::copy_from_slice(data));
    if let Ok(ev) = &parsed {
        let again = Event::parse_json(ev.to_bytes(EventFormat::Json))
            .expect("our own serialisation parses");
        assert_eq!(&again, ev, "JSON round trip");
        let _ = (ev.event_name(), ev.unique_id(), ev.body_str());
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(data) {
        let mut folded: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
        folded.sort();
        folded.dedup();
        if map.values().all(|v| v.is_string())
            && folded.len() == map.len()
            && !folded.iter().any(|k| k == "_body")
        {
            let ev = parsed.expect("serde_json reads it, so must we");
            // Repeated keys (FreeSWITCH sends some) are all kept by us, the last by serde.
            assert!(ev.header_count() >= map.len());
            for (k, v) in &map {
                assert_eq!(ev.header_last(k).as_deref(), v.as_str(), "{k}");
            }
        }
    }
});
