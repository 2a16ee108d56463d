//! Load benchmark: call throughput and concurrent channels on one core.
//!
//!     CARGO_TARGET_DIR=/work/target-vswitch cargo bench -p vswitch --bench load
//!
//! Everything runs on a single-threaded Tokio runtime (one core): the switch
//! and the ESL client that drives it over real TCP on 127.0.0.1.
//!
//! 1. Throughput: `bgapi originate vswitch/ring=0;answer;hangup=0 &park()`
//!    with `CALLS_IN_FLIGHT` outstanding, until `CALLS` calls have been
//!    originated, answered and hung up; the client subscribes to
//!    BACKGROUND_JOB, CHANNEL_ANSWER and CHANNEL_HANGUP_COMPLETE and counts
//!    them, so event building and serialising are included.
//! 2. Concurrency: `CONCURRENT` calls answered and parked at once; RSS is
//!    read from /proc before and after to give the memory per Channel.

use std::time::{Duration, Instant};

use esl::ClientCodec;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;

const CALLS_IN_FLIGHT: usize = 500;

/// A size, overridable from the environment for quick runs.
fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

struct Client {
    reader: FramedRead<tokio::net::tcp::OwnedReadHalf, ClientCodec>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, events: &str) -> Self {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut c = Self {
            reader: FramedRead::new(r, ClientCodec::new()),
            writer: w,
        };
        c.reader.next().await.unwrap().unwrap(); // auth/request
        c.writer.write_all(b"auth ClueCon\n\n").await.unwrap();
        c.reader.next().await.unwrap().unwrap();
        c.writer
            .write_all(format!("event plain {events}\n\n").as_bytes())
            .await
            .unwrap();
        c.reader.next().await.unwrap().unwrap();
        c
    }
}

/// Originates `total` calls of `script`, `in_flight` at a time, and returns
/// once `done_event` was seen for every call.
async fn drive(c: &mut Client, total: usize, in_flight: usize, script: &str, done_event: &str) {
    let (mut sent, mut done) = (0usize, 0usize);
    let mut outstanding = 0usize;
    let mut batch = String::new();
    while done < total {
        batch.clear();
        while outstanding < in_flight && sent < total {
            batch.push_str(&format!("bgapi originate vswitch/{script} &park()\n\n"));
            sent += 1;
            outstanding += 1;
        }
        if !batch.is_empty() {
            c.writer.write_all(batch.as_bytes()).await.unwrap();
        }
        let frame = c.reader.next().await.unwrap().unwrap();
        if let Some(Ok(ev)) = frame.to_event() {
            if ev.event_name().as_deref() == Some(done_event) {
                done += 1;
                outstanding -= 1;
            }
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let calls = size("VSWITCH_BENCH_CALLS", 20_000);
    let concurrent = size("VSWITCH_BENCH_CONCURRENT", 10_000);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let vs = vswitch::start(listener, vswitch::Config::default()).unwrap();
        let addr = vs.local_addr();

        // 1. Throughput.
        let mut c = Client::connect(addr, "BACKGROUND_JOB CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE").await;
        drive(&mut c, 1_000, CALLS_IN_FLIGHT, "ring=0;answer;hangup=0", "CHANNEL_HANGUP_COMPLETE").await;
        let start = Instant::now();
        drive(&mut c, calls, CALLS_IN_FLIGHT, "ring=0;answer;hangup=0", "CHANNEL_HANGUP_COMPLETE").await;
        let took = start.elapsed();
        println!(
            "throughput: {calls} calls originated, answered and hung up in {:.2} s = {:.0} calls/s (one core, {CALLS_IN_FLIGHT} in flight, events on)",
            took.as_secs_f64(),
            calls as f64 / took.as_secs_f64()
        );
        while vs.switch().channel_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        drop(c);

        // 2. Concurrent channels.
        let before = rss_kib();
        let mut c = Client::connect(addr, "CHANNEL_PARK").await;
        let start = Instant::now();
        drive(&mut c, concurrent, 1_000, "ring=0;answer", "CHANNEL_PARK").await;
        let took = start.elapsed();
        let channels = vs.switch().channel_count();
        let after = rss_kib();
        println!(
            "concurrency: {channels} channels up (answered, parked) after {:.2} s; RSS {} MiB -> {} MiB = {:.1} KiB per channel",
            took.as_secs_f64(),
            before / 1024,
            after / 1024,
            (after.saturating_sub(before)) as f64 / channels.max(1) as f64
        );
        assert_eq!(channels, concurrent, "every channel stayed up");
        let start = Instant::now();
        vs.shutdown().await;
        println!("shutdown: {concurrent} channels hung up and drained in {:.2} s", start.elapsed().as_secs_f64());
    });
}
