#![allow(dead_code)]

use std::path::PathBuf;

use bytes::BytesMut;
use esl::{ClientCodec, Frame};
use tokio_util::codec::Decoder;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/freeswitch")
}

pub fn read(name: &str) -> Vec<u8> {
    let p = fixtures_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Every `<scenario>` that has a `.recv` file.
pub fn scenarios() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".recv").map(str::to_owned)
        })
        .collect();
    v.sort();
    v
}

pub fn decode_all(data: &[u8]) -> (Vec<Frame>, usize) {
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    while let Some(f) = codec.decode(&mut buf).expect("decode") {
        frames.push(f);
    }
    (frames, buf.len())
}

/// The key summary.json uses for an event: the name, and for CUSTOM events
/// `CUSTOM/<subclass>` plus `:<Action>` when there is one.
pub fn summary_key(ev: &esl::Event) -> String {
    let name = ev.event_name().unwrap_or_default().into_owned();
    if name == "CUSTOM" {
        let mut k = format!("CUSTOM/{}", ev.subclass().unwrap_or_default());
        if let Some(a) = ev.header("Action") {
            k.push(':');
            k.push_str(&a);
        }
        k
    } else {
        name
    }
}
