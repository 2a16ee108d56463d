//! The client-side decoder and the event parsers on arbitrary bytes, fed in
//! arbitrary chunks. Nothing may panic; whatever decodes must re-encode to bytes
//! that decode to the same frames.
#![no_main]

use bytes::{Bytes, BytesMut};
use esl::{ClientCodec, Event, EventFormat, Frame, Limits};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fn decode_chunked(data: &[u8], step: usize) -> (Vec<Frame>, bool) {
    let limits = Limits {
        max_header_bytes: 16 * 1024,
        max_headers: 512,
        max_body_bytes: 64 * 1024,
    };
    let mut codec = ClientCodec::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in data.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    (frames, false)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let step = data[0] as usize % 17 + 1;
    let data = &data[1..];
    let (frames, _) = decode_chunked(data, step);
    let (whole, _) = decode_chunked(data, data.len().max(1));
    assert_eq!(frames, whole, "chunking changed the frames");

    let mut again = Vec::new();
    for f in &frames {
        // Accessors never panic.
        let _ = (
            f.kind(),
            f.reply(),
            f.content_length(),
            f.job_uuid(),
            f.body_str(),
        );
        let _ = Event::from_frame_headers(f).headers().count();
        if let Some(Ok(ev)) = f.to_event() {
            // Header names FreeSWITCH could produce; others (from JSON keys) may not
            // survive the plain or XML layout, in FreeSWITCH either.
            let safe = ev.headers().all(|(n, _)| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| (0x21..0x7f).contains(&b) && !b":<>/&\"".contains(&b))
            });
            for fmt in [EventFormat::Plain, EventFormat::Json, EventFormat::Xml] {
                let out = ev.to_bytes(fmt);
                let back = Event::parse(fmt, out);
                if fmt == EventFormat::Json || safe {
                    let back = back.expect("our own serialisation parses");
                    if !ev.has_header("_body") {
                        assert_eq!(
                            back.header_count(),
                            ev.header_count(),
                            "header count after {fmt}"
                        );
                    }
                }
            }
            let _ = (
                ev.event_name(),
                ev.unique_id(),
                ev.channel_state(),
                ev.hangup_cause(),
                ev.variable("x"),
            );
        }
        again.extend_from_slice(&f.to_bytes());
    }
    let (re, err) = decode_chunked(&again, again.len().max(1));
    assert!(!err, "re-encoded frames failed to decode");
    assert_eq!(re.len(), frames.len());

    // The event parsers directly on the raw bytes.
    let raw = Bytes::copy_from_slice(data);
    for fmt in [EventFormat::Plain, EventFormat::Json, EventFormat::Xml] {
        if let Ok(ev) = Event::parse(fmt, raw.clone()) {
            let _ = ev.headers().count();
            let _ = ev.to_bytes(EventFormat::Plain);
            let _ = ev.to_bytes(EventFormat::Json);
            let _ = ev.to_bytes(EventFormat::Xml);
        }
    }
});
