//! Criterion: decoding the recorded plain and JSON event streams, from memory and
//! over loopback TCP, with this repo's `esl` and with freeswitch-esl-tokio 2.8.0, on
//! one thread. Throughput is in events; bytes per event are printed first.
//!
//!     cargo bench --manifest-path benches/esl-compare/Cargo.toml
//!
//! (Pin it to one core with `taskset -c 1` for steadier figures.)

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use esl::EventFormat;
use esl_compare::*;

const MEM_PASSES: usize = 20;
const TCP_PASSES: usize = 40;

fn bench(c: &mut Criterion) {
    for format in [EventFormat::Plain, EventFormat::Json] {
        let stream = Stream::load(format);
        let mem = stream.repeated(MEM_PASSES);
        let mem_events = stream.events_per_pass * MEM_PASSES;
        let tcp = Arc::new(stream.repeated(TCP_PASSES));
        let tcp_events = stream.events_per_pass * TCP_PASSES;
        eprintln!(
            "{}: {} bytes per event on average",
            stream.name,
            stream.pass.len() / stream.events_per_pass
        );
        let rt = runtime();

        let mut g = c.benchmark_group(format!("decode-{}", stream.name));
        g.sample_size(20);
        g.throughput(Throughput::Elements(mem_events as u64));
        g.bench_function("esl/memory", |b| {
            b.iter(|| assert_eq!(esl_memory(&mem), mem_events))
        });
        g.bench_function("esl/memory-all-values", |b| {
            b.iter(|| assert_eq!(esl_memory_all_values(&mem), mem_events))
        });
        g.bench_function("freeswitch-esl-tokio/memory", |b| {
            b.iter_batched(
                || rt.block_on(socket_pair()),
                |(idle, keep)| {
                    let n = rt.block_on(fsesl_memory(idle, &mem, mem_events));
                    drop(keep);
                    assert_eq!(n, mem_events);
                },
                BatchSize::PerIteration,
            )
        });
        g.throughput(Throughput::Elements(tcp_events as u64));
        g.bench_function("esl/tcp", |b| {
            b.iter(|| assert_eq!(rt.block_on(esl_tcp(tcp.clone(), tcp_events)), tcp_events))
        });
        g.bench_function("freeswitch-esl-tokio/tcp", |b| {
            b.iter(|| assert_eq!(rt.block_on(fsesl_tcp(tcp.clone(), tcp_events)), tcp_events))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
