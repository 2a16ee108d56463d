//! Criterion: this crate's decoder on the recorded plain and JSON event streams,
//! from memory, one thread. (The side-by-side comparison with freeswitch-esl-tokio,
//! memory and loopback TCP, lives in `benches/esl-compare` at the repository root.)
//!
//!     cargo bench -p esl --bench decode

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use esl::{ClientCodec, ContentType, Event, EventFormat};
use tokio_util::codec::Decoder;

fn stream(file: &str, ct: ContentType, passes: usize) -> (Vec<u8>, usize) {
    let path = format!(
        "{}/../../../shared/fixtures/freeswitch/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::from(&data[..]);
    let mut pass = Vec::new();
    let mut n = 0;
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        if f.kind() == ct {
            pass.extend_from_slice(&f.to_bytes());
            n += 1;
        }
    }
    (pass.repeat(passes), n * passes)
}

fn decode(data: &[u8]) -> usize {
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::with_capacity(128 * 1024);
    let mut n = 0;
    for chunk in data.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            let ev = f.to_event().unwrap().unwrap();
            std::hint::black_box(ev.event_name());
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    for (name, file, ct, format) in [
        (
            "plain",
            "inbound_events_plain.recv",
            ContentType::EventPlain,
            EventFormat::Plain,
        ),
        (
            "json",
            "inbound_events_json.recv",
            ContentType::EventJson,
            EventFormat::Json,
        ),
    ] {
        let (data, events) = stream(file, ct, 20);
        let mut g = c.benchmark_group(format!("esl-{name}"));
        g.throughput(Throughput::Elements(events as u64));
        g.bench_function("decode+parse", |b| {
            b.iter(|| assert_eq!(decode(&data), events))
        });
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("decode+parse (bytes)", |b| b.iter(|| decode(&data)));
        // Serialising (the server side): one event, re-encoded.
        let mut codec = ClientCodec::new();
        let mut buf = BytesMut::from(&data[..]);
        let ev: Event = codec
            .decode(&mut buf)
            .unwrap()
            .unwrap()
            .to_event()
            .unwrap()
            .unwrap();
        g.throughput(Throughput::Elements(1));
        g.bench_function("serialise", |b| b.iter(|| ev.to_bytes(format)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
