//! Load harness for the call router over the embedded virtual switch:
//!
//! 1. calls per second sustained for REST create → originate → answer →
//!    fetch → Say → Hangup, with the application on loopback, and the
//!    router's reaction time (switch event → next command) over those calls;
//! 2. memory per concurrent call, with calls parked in `<Pause length="60"/>`.
//!
//! `cargo bench --bench call_router` (CALLS=2000 PAUSED=10000 CONCURRENCY=90
//! to change the load; TRACE=<tracing filter>, e.g. `sqlx::query=debug`, to
//! log what the run does). The virtual switch runs as its own process
//! (`switchboard vswitch`), as a media node would, so Switchboard's memory
//! per call is measured apart from the switch's channels.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::app::App;
use switchboard::config::{Config, EslNode, MediaNodes};
use tokio::net::TcpListener;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The developer's application: TwiML for each call, and a count of completions.
async fn application(
    completed: Arc<AtomicUsize>,
    fetched: Arc<AtomicUsize>,
) -> std::net::SocketAddr {
    use axum::routing::post;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let xml = |body: &'static str| {
        (
            [(axum::http::header::CONTENT_TYPE, "application/xml")],
            body,
        )
    };
    let router = axum::Router::new()
        .route(
            "/say",
            post(move || async move {
                xml("<Response><Say>Hello from Switchboard</Say><Hangup/></Response>")
            }),
        )
        .route(
            "/pause",
            post(move || {
                fetched.fetch_add(1, Ordering::Relaxed);
                async move { xml(r#"<Response><Pause length="60"/></Response>"#) }
            }),
        )
        .route(
            "/status",
            post(move || {
                completed.fetch_add(1, Ordering::Relaxed);
                async { "" }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn place(
    http: &reqwest::Client,
    base: &str,
    account: &switchboard::store::Account,
    app: std::net::SocketAddr,
    path: &str,
    count: usize,
    concurrency: usize,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let request = http
            .post(format!(
                "{base}/2010-04-01/Accounts/{}/Calls.json",
                account.sid
            ))
            .basic_auth(&account.sid, Some(&account.auth_token))
            .form(&[
                ("To", "+15005550006".to_owned()),
                ("From", "+15005550100".to_owned()),
                ("Url", format!("http://{app}{path}")),
                ("StatusCallback", format!("http://{app}/status")),
            ]);
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.expect("the API answers");
            assert_eq!(response.status(), 201);
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

async fn wait_for(counter: &AtomicUsize, target: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// The `q` quantile of a Prometheus histogram in `/metrics` text: the upper
/// bound of the bucket it falls in.
fn quantile(metrics: &str, name: &str, q: f64) -> Option<f64> {
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}_bucket{{le=\"")))
        .filter_map(|l| {
            let (le, count) = l.split_once("\"} ")?;
            Some((le.parse().ok()?, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    buckets
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(le, _)| *le)
}

/// Runs the virtual switch as its own process, as a media node would be.
async fn media_node() -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["vswitch", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--password", "bench", "--speed", "1000"])
        .kill_on_drop(true)
        .spawn()
        .expect("the switchboard binary runs");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (child, port);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the virtual switch did not start");
}

#[tokio::main]
async fn main() {
    if std::env::var("TRACE").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("TRACE"))
            .with_writer(std::io::stderr)
            .init();
    }
    let calls = env_or("CALLS", 2000);
    let paused = env_or("PAUSED", 10_000);
    // Within the default API concurrency limit of 100 per account.
    let concurrency = env_or("CONCURRENCY", 90);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::embedded(dir.path());
    // The harness's one account places every call: no origination pacing to speak of.
    config.calls_per_second = 1_000_000;
    // Far ends answer at once (speed 1000): the harness measures Switchboard, not ringing.
    let (mut node, port) = media_node().await;
    config.media_nodes = MediaNodes::Esl(vec![EslNode {
        host: "127.0.0.1".into(),
        port,
        password: "bench".into(),
    }]);
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
    let completed = Arc::new(AtomicUsize::new(0));
    let fetched = Arc::new(AtomicUsize::new(0));
    let app_addr = application(completed.clone(), fetched.clone()).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let base = format!("http://{addr}");

    // Warm the media cache (the first Say synthesises; every later one is a hit).
    place(&http, &base, &account, app_addr, "/say", 1, 1).await;
    assert!(
        wait_for(&completed, 1, Duration::from_secs(30)).await,
        "the first call did not complete"
    );

    let started = Instant::now();
    place(&http, &base, &account, app_addr, "/say", calls, concurrency).await;
    let done = wait_for(&completed, calls + 1, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    println!(
        "say-and-hangup: {} of {calls} calls completed in {:.2} s: {:.0} calls/s (concurrency {concurrency})",
        completed.load(Ordering::Relaxed) - 1,
        elapsed.as_secs_f64(),
        (completed.load(Ordering::Relaxed) - 1) as f64 / elapsed.as_secs_f64(),
    );
    assert!(done, "not every call completed");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reaction = |q| {
        quantile(&metrics, "switchboard_call_reaction_seconds", q)
            .map_or("?".into(), |s| format!("{:.0} µs", s * 1e6))
    };
    let samples = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_call_reaction_seconds_count "))
        .unwrap_or("0")
        .trim()
        .to_owned();
    println!(
        "reaction (switch event -> next command): p50 <= {}, p99 <= {} over {samples} commands (histogram bucket bounds)",
        reaction(0.5),
        reaction(0.99)
    );

    let me = std::process::id().to_string();
    let switch = node.id().unwrap().to_string();
    let before = rss_kib(&me);
    let switch_before = rss_kib(&switch);
    let started = Instant::now();
    place(
        &http,
        &base,
        &account,
        app_addr,
        "/pause",
        paused,
        concurrency,
    )
    .await;
    let all_in = wait_for(&fetched, paused, Duration::from_secs(600)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(&me);
    let switch_after = rss_kib(&switch);
    println!(
        "paused: {} calls in <Pause> after {:.2} s; Switchboard RSS {} MiB -> {} MiB: {:.1} KiB per call \
         (the virtual switch's process: {:.1} KiB per channel)",
        fetched.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 / paused as f64,
        (switch_after.saturating_sub(switch_before)) as f64 / paused as f64,
    );
    // Exiting skips destructors: stop the switch's process first, or it
    // outlives the harness (holding its output pipe open).
    node.start_kill().ok();
    assert!(all_in, "not every call reached its Pause");
    std::process::exit(0);
}
