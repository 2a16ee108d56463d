//! Load harness for the event router: 1,000 subscribers on
//! `GET /v1/Events/stream` (Server-Sent Events over loopback HTTP), one
//! publisher publishing as the call router does.
//!
//! 1. fan-out throughput: EVENTS events published back to back; events per
//!    second until every subscriber has every event (and deliveries/s);
//! 2. publish-to-delivery latency (p50, p99, max) at a steady RATE events/s,
//!    from `publish()` to the subscriber's parse of the event, over every
//!    delivery.
//!
//! `cargo bench --bench events` (SUBSCRIBERS=1000 EVENTS=5000 RATE=200
//! SECONDS=5 to change the load). Server, store (SQLite) and subscribers
//! share one process and its cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use switchboard::app::App;
use switchboard::config::Config;
use switchboard::events::{event, Event};
use tokio::net::TcpListener;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What every subscriber saw: events received, and each one's latency.
struct Tally {
    received: AtomicUsize,
    latencies_us: Mutex<Vec<u64>>,
}

/// One SSE subscriber: counts events and records `now - data.t` for each.
async fn subscriber(
    http: reqwest::Client,
    url: String,
    sid: String,
    token: String,
    origin: Instant,
    tally: Arc<Tally>,
    ready: Arc<AtomicUsize>,
) {
    let response = http
        .get(&url)
        .basic_auth(&sid, Some(&token))
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(response.status(), 200);
    ready.fetch_add(1, Ordering::Relaxed);
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut latencies = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let Some(data) = block
                .split(|b| *b == b'\n')
                .find_map(|line| line.strip_prefix(b"data: "))
            else {
                continue;
            };
            let now = origin.elapsed().as_micros() as u64;
            // Only the publish time is needed: read it without parsing the event.
            if let Some(sent) = publish_time(data) {
                latencies.push(now.saturating_sub(sent));
            }
            tally.received.fetch_add(1, Ordering::Relaxed);
            if latencies.len() >= 256 {
                tally
                    .latencies_us
                    .lock()
                    .unwrap()
                    .extend(latencies.drain(..));
            }
        }
        if !latencies.is_empty() {
            tally
                .latencies_us
                .lock()
                .unwrap()
                .extend(latencies.drain(..));
        }
    }
}

/// The `"t":MICROS` field of an event's data.
fn publish_time(data: &[u8]) -> Option<u64> {
    let at = data.windows(4).position(|w| w == b"\"t\":")? + 4;
    let digits = data[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&data[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

async fn wait_for(tally: &Tally, n: usize, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while tally.received.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let subscribers = env_or("SUBSCRIBERS", 1000);
    let events = env_or("EVENTS", 5000);
    let rate = env_or("RATE", 200);
    let seconds = env_or("SECONDS", 5);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::embedded(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let public_url = config.public_url_for(addr);
    let app = Arc::new(App::open(config, public_url).await.unwrap());
    tokio::spawn(switchboard::server::serve(
        listener,
        app.clone(),
        std::future::pending(),
    ));
    let account = app.store.create_account("Load", None).await.unwrap();
    let origin = Instant::now();
    let tally = Arc::new(Tally {
        received: AtomicUsize::new(0),
        latencies_us: Mutex::new(Vec::new()),
    });
    let ready = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("http://{addr}/v1/Events/stream");
    // Opened a few at a time: within the API's concurrency limit.
    for batch in 0..subscribers.div_ceil(50) {
        for _ in 0..50.min(subscribers - batch * 50) {
            tokio::spawn(subscriber(
                http.clone(),
                url.clone(),
                account.sid.clone(),
                account.auth_token.clone(),
                origin,
                tally.clone(),
                ready.clone(),
            ));
        }
        let opened = ((batch + 1) * 50).min(subscribers);
        while ready.load(Ordering::Relaxed) < opened {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    println!("{subscribers} SSE subscribers connected over loopback");
    let publish = |i: usize| {
        let publisher = app.events.publisher.clone();
        let account_sid = account.sid.clone();
        async move {
            publisher
                .publish(Event {
                    kind: event::CALL_ANSWERED,
                    account_sid,
                    call_sid: Some(format!("CA{i:032x}")),
                    data: serde_json::json!({
                        "call_status": "in-progress",
                        "t": origin.elapsed().as_micros() as u64,
                    }),
                })
                .await
        }
    };

    // 1. Fan-out throughput.
    let started = Instant::now();
    for i in 0..events {
        publish(i).await;
    }
    let all = events * subscribers;
    assert!(
        wait_for(&tally, all, Duration::from_secs(600)).await,
        "only {} of {all} deliveries",
        tally.received.load(Ordering::Relaxed)
    );
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "fan-out: {events} events to {subscribers} subscribers in {elapsed:.2} s: {:.0} events/s, {:.0} deliveries/s",
        events as f64 / elapsed,
        all as f64 / elapsed
    );
    tally.latencies_us.lock().unwrap().clear();

    // 2. Latency at a steady rate.
    let steady = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    for i in 0..steady {
        tick.tick().await;
        publish(events + i).await;
    }
    let all = all + steady * subscribers;
    assert!(wait_for(&tally, all, Duration::from_secs(600)).await);
    let mut latencies = std::mem::take(&mut *tally.latencies_us.lock().unwrap());
    latencies.sort_unstable();
    println!(
        "latency at {rate} events/s x {subscribers} subscribers ({} deliveries): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
}
