//! The concurrency limiter's cost per API request: threshold lookup (cached),
//! admission and release, in-process and with counters shared through Redis,
//! beside one Redis PING as the round-trip yardstick.
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

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
    rt.block_on(shared.shutdown());
}

criterion_group!(limits, benches);

fn main() {
    limits();
    Criterion::default().configure_from_args().final_summary();
}
