//! Prints the side-by-side table (events/s and MB/s per core) for the README:
//!
//!     cargo run --release --manifest-path benches/esl-compare/Cargo.toml
//!
//! Each figure is the best of several runs on a current-thread runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use esl::EventFormat;
use esl_compare::*;

fn best<F: FnMut() -> usize>(runs: usize, mut f: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed());
    }
    best
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!("| format | transport | crate | events/s | MB/s |");
    println!("|---|---|---|---:|---:|");
    for format in [EventFormat::Plain, EventFormat::Json] {
        let stream = Stream::load(format);
        let rt = runtime();
        let passes = 40;
        let data = stream.repeated(passes);
        let events = stream.events_per_pass * passes;
        let bytes = data.len() as f64;
        let arc = Arc::new(data.clone());
        let row = |transport: &str, krate: &str, d: Duration| {
            let s = d.as_secs_f64();
            println!(
                "| {} | {transport} | {krate} | {:.0} | {:.1} |",
                stream.name,
                events as f64 / s,
                bytes / s / 1e6
            );
        };
        row("memory", "esl", best(runs, || esl_memory(&data)));
        row(
            "memory (every value decoded)",
            "esl",
            best(runs, || esl_memory_all_values(&data)),
        );
        let d = {
            let mut b = Duration::MAX;
            for _ in 0..runs {
                let (idle, keep) = rt.block_on(socket_pair());
                let t = Instant::now();
                let n = rt.block_on(fsesl_memory(idle, &data, events));
                b = b.min(t.elapsed());
                assert_eq!(n, events);
                drop(keep);
            }
            b
        };
        row("memory", "freeswitch-esl-tokio 2.8.0", d);
        row(
            "loopback TCP (codec only)",
            "esl",
            best(runs, || rt.block_on(esl_tcp_codec(arc.clone(), events))),
        );
        row(
            "loopback TCP",
            "esl",
            best(runs, || rt.block_on(esl_tcp(arc.clone(), events))),
        );
        row(
            "loopback TCP",
            "freeswitch-esl-tokio 2.8.0",
            best(runs, || rt.block_on(fsesl_tcp(arc.clone(), events))),
        );
        row(
            "loopback TCP, server on another core",
            "esl",
            best(runs, || {
                rt.block_on(esl_tcp_with(arc.clone(), events, Server::OwnThread))
            }),
        );
        row(
            "loopback TCP, server on another core",
            "freeswitch-esl-tokio 2.8.0",
            best(runs, || {
                rt.block_on(fsesl_tcp_with(arc.clone(), events, Server::OwnThread))
            }),
        );
    }
}
