//! The concurrency limiter's cost per API request: threshold lookup (cached),
//! admission and release, in-process and with counters shared through Redis,
//! beside one Redis PING as the round-trip yardstick.
//!
//! With Redis an instance admits locally while it holds reserved slots, so
//! under steady load most requests cost no round trip (timed one after the
//! other and eight at a time); a counter that needs a grant — a cold counter,
//! or every request once the threshold is near and grants are one slot —
//! costs one script round trip (timed with a fresh counter per request); a
//! shared request rate costs one round trip per request too.
//!
//! `cargo bench --bench limits` (Redis at `SWITCHBOARD_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`, for the shared runs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use switchboard::limits::{Limiter, Threshold};
use switchboard::metrics::Metrics;
use switchboard::store::Store;

async fn limiter(dir: &std::path::Path) -> Limiter {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Limiter::new(store, 100, &switchboard::api::endpoints(), &Metrics::new())
}

/// One request's worth of limiter work on `account`'s counter.
async fn one_request(limiter: &Limiter, account: &str) {
    let threshold = limiter.threshold(account, "Calls:create").await.unwrap();
    // Releases through Redis may still be on their way: never refuse for them.
    let threshold = Threshold {
        concurrency: u32::MAX,
        ..threshold
    };
    let guard = limiter
        .acquire(account, "Calls:create", threshold, Some(account))
        .await
        .unwrap();
    // Another request may run meanwhile, as in a server.
    tokio::task::yield_now().await;
    drop(guard);
}

/// How requests come to the limiter.
#[derive(Clone, Copy)]
enum Load {
    /// One after the other on one counter.
    Sequential,
    /// This many tasks at once on one counter.
    Concurrent(u64),
    /// One after the other, each on a counter never used before: each needs a grant.
    Cold,
}

/// `iters` requests under `load`; answers the time they took.
async fn requests(limiter: &Arc<Limiter>, account: &str, load: Load, iters: u64) -> Duration {
    let started = Instant::now();
    match load {
        Load::Sequential => {
            for _ in 0..iters {
                one_request(limiter, account).await;
            }
        }
        Load::Concurrent(tasks) => {
            let tasks: Vec<_> = (0..tasks)
                .map(|i| {
                    let (limiter, account) = (limiter.clone(), account.to_owned());
                    let n = iters / tasks + u64::from(i < iters % tasks);
                    tokio::spawn(async move {
                        for _ in 0..n {
                            one_request(&limiter, &account).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
        Load::Cold => {
            // The thresholds are looked up once: a new account's would be a store query.
            let threshold = limiter.threshold(account, "Calls:create").await.unwrap();
            let threshold = Threshold {
                concurrency: u32::MAX,
                ..threshold
            };
            // Never the same twice, across rounds and criterion's batches.
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let counters: Vec<String> = (0..iters)
                .map(|_| format!("{account}-cold-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
                .collect();
            let started = Instant::now();
            for counter in &counters {
                let guard = limiter
                    .acquire(counter, "Calls:create", threshold, None)
                    .await
                    .unwrap();
                drop(guard);
            }
            return started.elapsed();
        }
    }
    started.elapsed()
}

/// `iters` PINGs, one after the other or from `tasks` tasks at once.
async fn pings(conn: &redis::aio::ConnectionManager, tasks: u64, iters: u64) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..tasks)
        .map(|i| {
            let mut conn = conn.clone();
            let n = iters / tasks + u64::from(i < iters % tasks);
            tokio::spawn(async move {
                for _ in 0..n {
                    let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// The machine is shared and its load swings within seconds: PINGs and
/// requests are timed in alternating rounds, and each round's ratio
/// compares them under the same load. Prints the medians, and how many
/// reservation round trips the requests made.
fn interleaved(
    rt: &tokio::runtime::Runtime,
    conn: &redis::aio::ConnectionManager,
    limiter: &Arc<Limiter>,
    account: &str,
    load: Load,
    name: &str,
) {
    const ROUNDS: usize = 41;
    const N: u64 = 400;
    let ping_tasks = match load {
        Load::Concurrent(tasks) => tasks,
        _ => 1,
    };
    let asked = || limiter.shared().map_or(0, |s| s.reservations_asked());
    let (mut ping, mut admit, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let before = asked();
    for round in 0..ROUNDS {
        let p = rt.block_on(pings(conn, ping_tasks, N)).as_secs_f64() / N as f64;
        let account = format!("{account}-{round}");
        let a = rt
            .block_on(requests(limiter, &account, load, N))
            .as_secs_f64()
            / N as f64;
        ping.push(p * 1e6);
        admit.push(a * 1e6);
        ratio.push(a / p);
    }
    let trips = (asked() - before) as f64 / (ROUNDS as u64 * N) as f64;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{name}: {:.1} µs a request, PING {:.1} µs ({ping_tasks} at a time), ratio {:.3}, {trips:.3} reservation round trips a request (medians of {ROUNDS} alternating rounds of {N})",
        median(&mut admit),
        median(&mut ping),
        median(&mut ratio),
    );
}

fn benches(c: &mut Criterion) {
    // One thread: the figures are the limiter's and Redis's, not the
    // scheduler's hand-offs between threads on a busy machine.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let account = format!("AC{}", switchboard::sid::new_secret());

    let local = Arc::new(rt.block_on(limiter(dir.path())));
    c.bench_function("limits/in-process admit+release", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&local, &account, Load::Sequential, iters)))
    });
    c.bench_function("limits/in-process admit+release, 8 tasks", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&local, &account, Load::Concurrent(8), iters)))
    });

    let redis_url = std::env::var("SWITCHBOARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let conn = rt.block_on(async {
        let client = redis::Client::open(redis_url).unwrap();
        redis::aio::ConnectionManager::new(client).await.unwrap()
    });
    c.bench_function("limits/redis PING (one round trip)", |b| {
        b.iter_custom(|iters| rt.block_on(pings(&conn, 1, iters)))
    });
    c.bench_function("limits/redis PING, 8 tasks", |b| {
        b.iter_custom(|iters| rt.block_on(pings(&conn, 8, iters)))
    });
    // A script round trip doing nothing: what one EVALSHA costs beyond a PING.
    let noop = redis::Script::new("return 1");
    c.bench_function("limits/redis EVALSHA no-op script (one round trip)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = conn.clone();
                let started = Instant::now();
                for _ in 0..iters {
                    let _: i64 = noop.invoke_async(&mut conn).await.unwrap();
                }
                started.elapsed()
            })
        })
    });
    let shared = Arc::new(rt.block_on(async {
        limiter(dir.path())
            .await
            .with_redis(conn.clone(), switchboard::limits::shared::LEASE)
            .await
            .unwrap()
    }));
    // The background tasks are spawned on the bench's runtime.
    rt.block_on(async { shared.start() });
    c.bench_function("limits/redis admit+release, steady", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&shared, &account, Load::Sequential, iters)))
    });
    c.bench_function("limits/redis admit+release, steady, 8 tasks", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&shared, &account, Load::Concurrent(8), iters)))
    });
    c.bench_function(
        "limits/redis admit+release, cold counter (one grant)",
        |b| b.iter_custom(|iters| rt.block_on(requests(&shared, &account, Load::Cold, iters))),
    );
    interleaved(
        &rt,
        &conn,
        &shared,
        &account,
        Load::Sequential,
        "limits/redis steady",
    );
    interleaved(
        &rt,
        &conn,
        &shared,
        &account,
        Load::Concurrent(8),
        "limits/redis steady, 8 tasks",
    );
    interleaved(
        &rt,
        &conn,
        &shared,
        &account,
        Load::Cold,
        "limits/redis cold counter",
    );
    rt.block_on(shared.shutdown());

    // A shared request rate per credential: one round trip per request, the
    // concurrency grant (when one is needed) in the same script.
    let rated = Arc::new(rt.block_on(async {
        limiter(dir.path())
            .await
            .with_redis(conn.clone(), switchboard::limits::shared::LEASE)
            .await
            .unwrap()
            .with_rate(std::num::NonZeroU32::new(1_000_000_000))
    }));
    rt.block_on(async { rated.start() });
    c.bench_function("limits/redis admit+release with request rate", |b| {
        b.iter_custom(|iters| rt.block_on(requests(&rated, &account, Load::Sequential, iters)))
    });
    interleaved(
        &rt,
        &conn,
        &rated,
        &account,
        Load::Sequential,
        "limits/redis with request rate",
    );
    rt.block_on(rated.shutdown());
    rt.block_on(forget(&conn, &account));
}

/// Deletes the high-water marks and rate keys the runs left in Redis (the
/// counters themselves are empty, so gone, once given back): every key of
/// the bench's accounts, found with SCAN so a shared Redis is not blocked.
async fn forget(conn: &redis::aio::ConnectionManager, account: &str) {
    let mut conn = conn.clone();
    for pattern in [
        format!("switchboard:limits:{account}*"),
        format!("switchboard:limits:rate:{account}*"),
    ] {
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut conn)
                .await
                .unwrap();
            if !keys.is_empty() {
                let _: () = redis::cmd("DEL")
                    .arg(keys)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

criterion_group!(limits, benches);

fn main() {
    limits();
    Criterion::default().configure_from_args().final_summary();
}
