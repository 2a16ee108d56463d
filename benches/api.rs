//! Load harness for the REST API on PostgreSQL: requests per second and
//! latency (p50, p99) for Calls create and for Calls list over 1,000,000 calls.
//!
//! It starts the real server (embedded virtual switch, a fresh PostgreSQL
//! database) on loopback and drives it over HTTP with concurrent clients that
//! keep their connections alive, as the helper libraries do:
//!
//! 1. Calls list, the account holding `ROWS` calls (seeded in SQL): the first
//!    page, deep pages reached by `PageToken`, and lists filtered by Status,
//!    To and StartTime;
//! 2. Calls create: each answered `201` with the call queued. The calls go to
//!    a number that rings without answering, so none fetches TwiML or runs a
//!    verb; where the account's calls-per-second pacing holds them in the
//!    queue, none is even originated while the bench runs.
//!
//! Each line gives requests per second, latency percentiles as the clients
//! see them, and the CPU each request cost this process (server, clients,
//! virtual switch) and the PostgreSQL backends serving it: on a shared machine
//! the CPU figures say more than the rates.
//!
//! `cargo bench --bench api` with PostgreSQL at `SWITCHBOARD_TEST_POSTGRES_URL`
//! (default `postgres://postgres:postgres@127.0.0.1:5432/test`). `SECS=10
//! CLIENTS=32 ROWS=1000000` change the load; `ONLY=list` or `ONLY=create`
//! runs one half.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::app::App;
use switchboard::config::Config;
use switchboard::store::{Account, Store};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime(threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

/// The server under test, on its own runtime so the clients do not share its scheduler.
struct Server {
    app: Arc<App>,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    database: String,
    admin_url: String,
    _dir: tempfile::TempDir,
}

async fn start(admin_url: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sb_bench_{}", switchboard::sid::new_secret());
    let admin = Store::connect(admin_url)
        .await
        .expect("PostgreSQL must be reachable");
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&database);
    let mut config = Config::embedded(dir.path());
    config.database_url = url.to_string();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let public_url = config.public_url_for(addr);
    let app = Arc::new(App::open(config, public_url).await.expect("app opens"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(switchboard::server::serve(listener, app.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        app,
        base: format!("http://{addr}"),
        stop,
        served,
        database,
        admin_url: admin_url.to_owned(),
        _dir: dir,
    }
}

impl Server {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.served.await;
        self.app.shutdown().await;
        let admin = Store::connect(&self.admin_url).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ))
        .execute(admin.pool())
        .await
        .unwrap();
        admin.close().await;
    }
}

/// Midnight UTC of the first seeded day; rows are `SPACING_MS` apart from there.
const SEED_EPOCH_MS: i64 = 1_735_689_600_000; // 2025-01-01
const SPACING_MS: i64 = 2_500;
/// Distinct callees: each `To` has ROWS / TO_NUMBERS calls.
const TO_NUMBERS: i64 = 10_000;

/// `rows` finished calls of `account`, written by PostgreSQL itself. Statuses
/// are spread as a busy account's would be: 80 % completed, 5 % each of the rest.
async fn seed(store: &Store, account: &str, rows: i64) {
    let started = Instant::now();
    sqlx::query(&format!(
        "INSERT INTO calls (sid, account_sid, direction, from_number, to_number, status, url, method,
             fallback_method, status_callback_method, status_callback_events, timeout_secs,
             start_time, end_time, duration, date_created, date_updated)
         SELECT 'CA' || md5($1 || i::text), $1, 'outbound-api', '+15005550100',
             '+1415555' || lpad((i % {TO_NUMBERS})::text, 4, '0'),
             CASE WHEN i % 20 < 16 THEN 'completed' WHEN i % 20 = 16 THEN 'busy'
                  WHEN i % 20 = 17 THEN 'no-answer' WHEN i % 20 = 18 THEN 'failed' ELSE 'canceled' END,
             'https://example.com/voice', 'POST', 'POST', 'POST', 'completed', 60,
             CASE WHEN i % 20 < 16 THEN $2 + i * {SPACING_MS} + 2000 END,
             $2 + i * {SPACING_MS} + 62000,
             CASE WHEN i % 20 < 16 THEN 60 ELSE 0 END,
             $2 + i * {SPACING_MS}, $2 + i * {SPACING_MS} + 62000
         FROM generate_series(1, $3::bigint) AS i"
    ))
    .bind(account)
    .bind(SEED_EPOCH_MS)
    .bind(rows)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE calls")
        .execute(store.pool())
        .await
        .unwrap();
    println!(
        "seeded {rows} calls in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// CPU time (user + system) used so far by the process `pid` ("self" for this one).
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// CPU used so far by this process (server, clients, virtual switch) and by
/// each PostgreSQL backend serving its database.
struct Cpu {
    process: Duration,
    postgres: std::collections::HashMap<i32, Duration>,
}

async fn cpu(store: &Store) -> Cpu {
    use sqlx::Row;
    let backends =
        sqlx::query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(store.pool())
            .await
            .unwrap();
    Cpu {
        process: cpu_time("self"),
        postgres: backends
            .iter()
            .map(|row| {
                let pid: i32 = row.get("pid");
                (pid, cpu_time(&pid.to_string()))
            })
            .collect(),
    }
}

impl Cpu {
    /// CPU used between `before` and now, by backend, so connections opened
    /// in between count whole and none is counted twice.
    fn since(&self, before: &Cpu) -> (Duration, Duration) {
        let postgres = self
            .postgres
            .iter()
            .map(|(pid, now)| {
                now.saturating_sub(before.postgres.get(pid).copied().unwrap_or_default())
            })
            .sum();
        (self.process.saturating_sub(before.process), postgres)
    }
}

/// What one scenario measured.
struct Figures {
    requests: usize,
    elapsed: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    /// CPU per request: (this process, PostgreSQL).
    cpu: (Duration, Duration),
}

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        self.latencies[i.min(self.latencies.len() - 1)]
    }

    fn print(&self, name: &str) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{name:<40} {:>6.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  cpu/req {:>4.0} µs + pg {:>4.0} µs  ({} requests)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            ms(self.percentile(0.50)),
            ms(self.percentile(0.99)),
            ms(*self.latencies.last().unwrap()),
            us(self.cpu.0),
            us(self.cpu.1),
            self.requests,
        );
    }
}

/// One request a client sends: the i-th of a scenario.
type Request = Arc<dyn Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync>;

/// `clients` concurrent clients send requests back to back for `secs`
/// (after a one-second warm-up); every answer must have `expect` status.
async fn drive(store: &Store, clients: usize, secs: u64, expect: u16, request: Request) -> Figures {
    let warm_up = Duration::from_secs(1);
    let run = Duration::from_secs(secs);
    let started = Instant::now();
    let measure_from = started + warm_up;
    let until = measure_from + run;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut latencies = Vec::new();
                let mut i = client;
                loop {
                    let sent = Instant::now();
                    if sent >= until {
                        return latencies;
                    }
                    let response = request(&http, i).send().await.expect("the server answers");
                    let status = response.status().as_u16();
                    let body = response.bytes().await.expect("a whole body");
                    assert_eq!(status, expect, "{}", String::from_utf8_lossy(&body));
                    if sent >= measure_from {
                        latencies.push(sent.elapsed());
                    }
                    i += clients;
                }
            })
        })
        .collect();
    tokio::time::sleep_until((measure_from).into()).await;
    let before = cpu(store).await;
    tokio::time::sleep_until(until.into()).await;
    let after = cpu(store).await;
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort_unstable();
    let (process, postgres) = after.since(&before);
    let requests = latencies.len().max(1) as u32;
    Figures {
        cpu: (process / requests, postgres / requests),
        requests: latencies.len(),
        elapsed: run,
        latencies,
    }
}

/// A list request: `query` on the account's Calls.json.
fn list(base: &str, account: &Account, queries: Vec<String>) -> Request {
    let url = format!("{base}/2010-04-01/Accounts/{}/Calls.json", account.sid);
    let (user, token) = (account.sid.clone(), account.auth_token.clone());
    Arc::new(move |http, i| {
        http.get(format!("{url}?{}", queries[i % queries.len()]))
            .basic_auth(&user, Some(&token))
    })
}

/// Page tokens at `count` depths spread over the whole list, as the
/// `next_page_uri` of the page before each would carry them.
async fn deep_tokens(store: &Store, account: &str, rows: i64, count: i64) -> Vec<String> {
    let mut tokens = Vec::new();
    for k in 1..=count {
        let offset = rows * k / (count + 1);
        let row = sqlx::query(
            "SELECT date_created, sid FROM calls WHERE account_sid = $1
             ORDER BY date_created DESC, sid DESC LIMIT 1 OFFSET $2",
        )
        .bind(account)
        .bind(offset)
        .fetch_one(store.pool())
        .await
        .unwrap();
        use sqlx::Row;
        let cursor = switchboard::store::Cursor {
            date_created: row.get("date_created"),
            sid: row.get("sid"),
        };
        tokens.push(format!(
            "PageSize=50&Page={}&PageToken={}",
            offset / 50 + 1,
            cursor.token()
        ));
    }
    tokens
}

fn main() {
    let secs = env_or("SECS", 10);
    let clients = env_or("CLIENTS", 32) as usize;
    let rows = env_or("ROWS", 1_000_000) as i64;
    let only = std::env::var("ONLY").unwrap_or_default();
    let admin_url = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/test".to_owned());

    let server_rt = runtime(2);
    let client_rt = runtime(2);
    let server = server_rt.block_on(start(&admin_url));
    let base = server.base.clone();
    let store = server.app.store.clone();
    let account = server_rt
        .block_on(store.create_account("Bench", None))
        .unwrap();
    // Another tenant with calls of its own, which the bench account's lists must skip.
    let neighbour = server_rt
        .block_on(store.create_account("Neighbour", None))
        .unwrap();
    println!("Switchboard at {base} on PostgreSQL; {clients} clients, {secs} s per scenario\n");

    if only.is_empty() || only == "list" {
        server_rt.block_on(async {
            seed(&store, &neighbour.sid, rows / 10).await;
            seed(&store, &account.sid, rows).await;
        });
        let tokens = server_rt.block_on(deep_tokens(&store, &account.sid, rows, 100));
        // A day in the middle of the seeded range, and a four-hour window in it.
        let day = chrono::DateTime::from_timestamp_millis(SEED_EPOCH_MS + rows * SPACING_MS / 2)
            .unwrap()
            .date_naive();
        let to = |n: i64| format!("To=%2B1415555{n:04}");
        let scenarios: Vec<(&str, Vec<String>)> = vec![
            ("Calls list: first page (50)", vec!["PageSize=50".into()]),
            (
                "Calls list: first page (1000)",
                vec!["PageSize=1000".into()],
            ),
            ("Calls list: deep pages by PageToken", tokens),
            (
                "Calls list: Status=busy",
                vec!["Status=busy&PageSize=50".into()],
            ),
            (
                "Calls list: Status=completed&StartTime<day",
                vec![format!("Status=completed&StartTime%3C={day}&PageSize=50")],
            ),
            (
                "Calls list: To (100 calls each)",
                (0..TO_NUMBERS).step_by(97).map(to).collect(),
            ),
            (
                "Calls list: StartTime=day",
                vec![format!("StartTime={day}&PageSize=50")],
            ),
            (
                "Calls list: StartTime> and StartTime<",
                vec![format!(
                    "StartTime%3E={day}T08:00:00Z&StartTime%3C={day}T12:00:00Z&PageSize=50"
                )],
            ),
        ];
        for (name, queries) in scenarios {
            let figures = client_rt.block_on(drive(
                &store,
                clients,
                secs,
                200,
                list(&base, &account, queries),
            ));
            figures.print(name);
        }
    }

    if only.is_empty() || only == "create" {
        // The application is there, though a call that never answers never asks it.
        let app_url = client_rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let twiml = || async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/xml")],
                    "<Response><Hangup/></Response>",
                )
            };
            let router = axum::Router::new().fallback(twiml);
            tokio::spawn(async move { axum::serve(listener, router).await });
            format!("http://{addr}/voice")
        });
        let url = format!("{base}/2010-04-01/Accounts/{}/Calls.json", account.sid);
        let (user, token) = (account.sid.clone(), account.auth_token.clone());
        let create: Request = Arc::new(move |http, _| {
            http.post(&url).basic_auth(&user, Some(&token)).form(&[
                // Rings until the caller gives up: the call stays queued/ringing.
                ("To", "+15005550004"),
                ("From", "+15005550100"),
                ("Url", app_url.as_str()),
                ("Timeout", "600"),
            ])
        });
        let figures = client_rt.block_on(drive(&store, clients, secs, 201, create));
        figures.print("Calls create (201 queued)");
    }

    server_rt.block_on(server.stop());
}
