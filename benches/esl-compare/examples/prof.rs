//! Profiling helper: decodes the recorded stream from memory in a loop, for `perf` or
//! `valgrind --tool=callgrind` (`ITERS=1 valgrind --tool=callgrind target/release/examples/prof json`).

use esl::EventFormat;
use esl_compare::*;
fn main() {
    let fmt = if std::env::args().nth(1).as_deref() == Some("plain") { EventFormat::Plain } else { EventFormat::Json };
    let s = Stream::load(fmt);
    let data = s.repeated(40);
    let t = std::time::Instant::now();
    let mut n = 0;
    let iters: usize = std::env::var("ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    for _ in 0..iters { n += esl_memory(&data); }
    let d = t.elapsed().as_secs_f64();
    println!("{} ev/s", n as f64 / d);
}
