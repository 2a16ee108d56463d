//! Quick check of our loopback-TCP rows only (codec alone and the full client, both
//! ends on one thread), best of `RUNS` (default 15):
//!
//!     cargo run --release --manifest-path benches/esl-compare/Cargo.toml --example tcp

use std::sync::Arc;
use std::time::{Duration, Instant};

use esl::EventFormat;
use esl_compare::*;

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    {
        // The fixed part of each client row: connect, auth, subscribe, shut down.
        let rt = runtime();
        let empty = Arc::new(Vec::new());
        let mut setup = Duration::MAX;
        for _ in 0..runs {
            let t = Instant::now();
            assert_eq!(rt.block_on(esl_tcp(empty.clone(), 0)), 0);
            setup = setup.min(t.elapsed());
        }
        println!("client setup and teardown: {setup:?}");
    }
    for format in [EventFormat::Plain, EventFormat::Json] {
        let stream = Stream::load(format);
        let rt = runtime();
        let passes = 40;
        let data = Arc::new(stream.repeated(passes));
        let events = stream.events_per_pass * passes;
        let mut codec = Duration::MAX;
        let mut client = Duration::MAX;
        for _ in 0..runs {
            let t = Instant::now();
            assert_eq!(rt.block_on(esl_tcp_codec(data.clone(), events)), events);
            codec = codec.min(t.elapsed());
            let t = Instant::now();
            assert_eq!(rt.block_on(esl_tcp(data.clone(), events)), events);
            client = client.min(t.elapsed());
        }
        let rate = |d: Duration| events as f64 / d.as_secs_f64();
        println!(
            "{}: codec only {:.0} ev/s, client {:.0} ev/s",
            stream.name,
            rate(codec),
            rate(client)
        );
    }
}
