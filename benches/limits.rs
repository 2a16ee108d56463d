//! The concurrency limiter's cost per API request: threshold lookup (cached),
//! admission and release, in-process and with counters shared through Redis
//! (with and without a shared request rate), beside one Redis PING as the
//! round-trip yardstick.
//!
//! `cargo bench --bench limits` (Redis at `SWITCHBOARD_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`, for the shared runs).

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

/// One request's worth of limiter work, `iters` times in a row.
async fn admit_and_release(limiter: &Limiter, account: &str, iters: u64) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
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
        drop(guard);
    }
    started.elapsed()
}

/// `iters` PINGs in a row.
async fn pings(conn: &redis::aio::ConnectionManager, iters: u64) -> Duration {
    let mut conn = conn.clone();
    let started = Instant::now();
    for _ in 0..iters {
        let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    }
    started.elapsed()
}

/// The machine is shared and its load swings within seconds: PINGs and
/// admissions are timed in alternating rounds, and each round's ratio
/// compares them under the same load. Prints the medians.
fn interleaved(
    rt: &tokio::runtime::Runtime,
    conn: &redis::aio::ConnectionManager,
    limiter: &Limiter,
    account: &str,
    name: &str,
) {
    const ROUNDS: usize = 41;
    const N: u64 = 200;
    let (mut ping, mut admit, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let p = rt.block_on(pings(conn, N)).as_secs_f64() / N as f64;
        let a = rt
            .block_on(admit_and_release(limiter, account, N))
            .as_secs_f64()
            / N as f64;
        ping.push(p * 1e6);
        admit.push(a * 1e6);
        ratio.push(a / p);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{name}, interleaved with PING: admit+release {:.1} µs, PING {:.1} µs, ratio {:.2} (medians of {ROUNDS} rounds of {N})",
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

    let local = rt.block_on(limiter(dir.path()));
    c.bench_function("limits/in-process admit+release", |b| {
        b.iter_custom(|iters| rt.block_on(admit_and_release(&local, &account, iters)))
    });

    let redis_url = std::env::var("SWITCHBOARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let conn = rt.block_on(async {
        let client = redis::Client::open(redis_url).unwrap();
        redis::aio::ConnectionManager::new(client).await.unwrap()
    });
    c.bench_function("limits/redis PING (one round trip)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = conn.clone();
                let started = Instant::now();
                for _ in 0..iters {
                    let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
                }
                started.elapsed()
            })
        })
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
    let shared = std::sync::Arc::new(rt.block_on(async {
        limiter(dir.path())
            .await
            .with_redis(conn.clone(), switchboard::limits::shared::LEASE)
            .await
            .unwrap()
    }));
    // The lease task is spawned on the bench's runtime.
    rt.block_on(async { shared.start() });
    c.bench_function("limits/redis admit+release", |b| {
        b.iter_custom(|iters| rt.block_on(admit_and_release(&shared, &account, iters)))
    });
    interleaved(&rt, &conn, &shared, &account, "limits/redis");
    rt.block_on(shared.shutdown());

    // The same with a shared request rate per credential: checked in the
    // same script, still one round trip.
    let rated = std::sync::Arc::new(rt.block_on(async {
        limiter(dir.path())
            .await
            .with_redis(conn.clone(), switchboard::limits::shared::LEASE)
            .await
            .unwrap()
            .with_rate(std::num::NonZeroU32::new(1_000_000))
    }));
    rt.block_on(async { rated.start() });
    c.bench_function("limits/redis admit+release with request rate", |b| {
        b.iter_custom(|iters| rt.block_on(admit_and_release(&rated, &account, iters)))
    });
    interleaved(
        &rt,
        &conn,
        &rated,
        &account,
        "limits/redis with request rate",
    );
    rt.block_on(rated.shutdown());
}

criterion_group!(limits, benches);

fn main() {
    limits();
    Criterion::default().configure_from_args().final_summary();
}
