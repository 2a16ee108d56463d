//! API concurrency limits: for each account and resource type (`Calls:create`,
//! `Recordings:read` …) the number of requests being processed now, compared
//! with a threshold when a request arrives.
//!
//! A request within the threshold is admitted and holds a [`Guard`] until its
//! processing ends; the guard gives its slot back in `Drop`, so success, error,
//! panic and client disconnect (axum drops the handler future) all release it.
//! A request over the threshold is refused with 429 (Twilio code 20429), or,
//! where the account's threshold row says so, waits a bounded time for a slot.
//!
//! Separately, a request rate per credential (account or API key) can be
//! capped with a keyed `governor` limiter, per instance.
//!
//! Counters are in-process, or with Redis configured shared by every instance
//! (see [`shared`]); each instance also keeps its own share locally, which is
//! what it rewrites into Redis and what its guards release.

pub mod api;
mod middleware;
pub mod shared;

pub use middleware::limit;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::Endpoint;
use crate::metrics::Metrics;
use crate::store::{now_millis, Store, StoreError};

/// How long an account's threshold rows are used before being read again:
/// a change made on another instance takes effect within this time.
const THRESHOLDS_TTL: Duration = Duration::from_secs(5);

/// How often a queued request looks at the shared counter again.
const SHARED_POLL: Duration = Duration::from_millis(50);

/// What an account may have in flight for one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub concurrency: u32,
    /// Zero refuses at once; otherwise a request over the threshold waits up
    /// to this long for a slot.
    pub queue_wait: Duration,
}

/// One counter's state, as the read side sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Requests in flight now.
    pub current: u32,
    /// The most ever in flight at once since the counter was created.
    pub max: u32,
}

/// A request that was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impeded {
    pub resource_type: String,
    pub current: u32,
    pub threshold: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

#[derive(Default)]
struct Slot {
    current: AtomicU32,
    max: AtomicU32,
    released: tokio::sync::Notify,
}

impl Slot {
    /// Takes a slot unless `limit` are taken; answers the count it saw when refusing.
    fn try_take(&self, limit: u32) -> Result<u32, u32> {
        let mut seen = self.current.load(Ordering::Relaxed);
        loop {
            if seen >= limit {
                return Err(seen);
            }
            match self.current.compare_exchange_weak(
                seen,
                seen + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.max.fetch_max(seen + 1, Ordering::Relaxed);
                    return Ok(seen + 1);
                }
                Err(now) => seen = now,
            }
        }
    }
}

/// Holds one admitted request's slot; dropping it gives the slot back.
pub struct Guard {
    slot: Arc<Slot>,
    in_flight: Gauge,
    /// The count right after this request was admitted, for the
    /// `Twilio-Concurrent-Requests` header.
    pub current: u32,
    /// Where the slot was also taken in Redis: the counter to give it back to.
    shared: Option<SharedRelease>,
    /// Given back because Redis refused it: nobody waiting can use it.
    undone: bool,
}

struct SharedRelease {
    shared: shared::Shared,
    tasks: TaskTracker,
    account_sid: String,
    resource_type: String,
}

fn release_local(slot: &Slot, in_flight: &Gauge) {
    slot.current.fetch_sub(1, Ordering::AcqRel);
    in_flight.dec();
    slot.released.notify_one();
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.undone {
            // Waking a queued request (maybe this one) would only spin on Redis.
            self.slot.current.fetch_sub(1, Ordering::AcqRel);
            self.in_flight.dec();
            return;
        }
        let Some(release) = self.shared.take() else {
            release_local(&self.slot, &self.in_flight);
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            // No runtime to talk to Redis: the next lease refresh rewrites the count.
            release_local(&self.slot, &self.in_flight);
            return;
        }
        let (slot, in_flight) = (self.slot.clone(), self.in_flight.clone());
        // Redis first, then the local count: a refresh in between rewrites
        // one too many for a moment, never one too few.
        release.tasks.clone().spawn(async move {
            let SharedRelease {
                shared,
                account_sid,
                resource_type,
                ..
            } = release;
            if let Err(e) = shared.give_back(&account_sid, &resource_type).await {
                tracing::warn!(error = %e, "redis: a concurrency slot is given back at the next lease refresh");
            }
            release_local(&slot, &in_flight);
        });
    }
}

type Key = (String, String);

/// An account's own threshold rows by resource type, and when they were read.
type AccountThresholds = (Instant, Arc<HashMap<String, Threshold>>);

/// The concurrency limiter shared by every API request of this instance.
pub struct Limiter {
    store: Store,
    default_concurrency: u32,
    /// Resource type by (method, route template as axum matches it).
    routes: HashMap<(Method, String), String>,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
    thresholds: Mutex<HashMap<String, AccountThresholds>>,
    in_flight: Family<ResourceLabels, Gauge>,
    impeded: Family<ResourceLabels, Counter>,
    shared: Option<shared::Shared>,
    tasks: TaskTracker,
    stop: CancellationToken,
    rate: Option<governor::DefaultKeyedRateLimiter<String>>,
}

impl Limiter {
    /// A limiter for `endpoints`, with `default_concurrency` where an account
    /// has no threshold row of its own.
    pub fn new(
        store: Store,
        default_concurrency: u32,
        endpoints: &[Endpoint],
        metrics: &Metrics,
    ) -> Limiter {
        let routes = endpoints
            .iter()
            .map(|e| {
                let method = match e.verb {
                    crate::api::Verb::Get => Method::GET,
                    crate::api::Verb::Post => Method::POST,
                    crate::api::Verb::Delete => Method::DELETE,
                };
                ((method, e.route()), resource_type(e))
            })
            .collect();
        let in_flight = Family::<ResourceLabels, Gauge>::default();
        metrics.register(
            "api_concurrent_requests",
            "API requests in flight, by resource type (all accounts)",
            in_flight.clone(),
        );
        let impeded = Family::<ResourceLabels, Counter>::default();
        metrics.register(
            "api_requests_impeded",
            "API requests refused for an account's concurrency threshold, by resource type",
            impeded.clone(),
        );
        Limiter {
            store,
            default_concurrency,
            routes,
            slots: Mutex::default(),
            thresholds: Mutex::default(),
            in_flight,
            impeded,
            shared: None,
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            rate: None,
        }
    }

    /// Caps each credential at `per_minute` requests, spread over the minute
    /// with bursts up to the whole quota.
    pub fn with_rate(mut self, per_minute: Option<std::num::NonZeroU32>) -> Limiter {
        self.rate =
            per_minute.map(|n| governor::RateLimiter::keyed(governor::Quota::per_minute(n)));
        self
    }

    /// Whether `credential` (an account or API key SID) may make a request
    /// now; if not, how long until it may.
    pub fn check_rate(&self, credential: &str) -> Result<(), Duration> {
        use governor::clock::Clock;
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        rate.check_key(&credential.to_owned()).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }

    /// Shares the counters with every instance using this Redis: takes a
    /// lease now and keeps renewing it until [`Limiter::shutdown`].
    pub async fn with_redis(
        mut self,
        conn: redis::aio::ConnectionManager,
    ) -> redis::RedisResult<Limiter> {
        let shared = shared::Shared::new(conn);
        shared.refresh(&[]).await?;
        self.shared = Some(shared);
        Ok(self)
    }

    /// Starts renewing the Redis lease; the limiter must be shared (`Arc`)
    /// so the task can read the local counts.
    pub fn start(self: &Arc<Self>) {
        if self.shared.is_none() {
            return;
        }
        let limiter = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(shared::REFRESH) => {}
                }
                let Some(limiter) = limiter.upgrade() else {
                    return;
                };
                let local = limiter.local_counts();
                if let Some(shared) = &limiter.shared {
                    if let Err(e) = shared.refresh(&local).await {
                        tracing::error!(error = %e, "redis: cannot renew the concurrency lease");
                    }
                }
            }
        });
    }

    /// Stops renewing the lease, waits for releases under way, and ends the lease.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.end_lease().await {
                tracing::warn!(error = %e, "redis: the concurrency lease ends by expiry");
            }
        }
    }

    fn local_counts(&self) -> Vec<(String, String, u32)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .map(|((account, resource_type), slot)| {
                let count = slot.current.load(Ordering::Acquire);
                (account.clone(), resource_type.clone(), count)
            })
            .collect()
    }

    /// The counter of one account and resource type across every instance
    /// sharing Redis (this instance's alone without Redis).
    pub async fn shared_usage(
        &self,
        account_sid: &str,
        resource_type: &str,
    ) -> redis::RedisResult<Usage> {
        match &self.shared {
            None => Ok(self.usage(account_sid, resource_type)),
            Some(shared) => {
                let (current, max) = shared.usage(account_sid, resource_type).await?;
                Ok(Usage { current, max })
            }
        }
    }

    /// Every resource type of the API, once or more.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.routes.values().map(String::as_str)
    }

    /// The resource type a matched route serves, if it is a limited API route.
    pub fn resource_type_of(&self, method: &Method, route: &str) -> Option<&str> {
        self.routes
            .get(&(method.clone(), route.to_owned()))
            .map(String::as_str)
    }

    fn slot(&self, account_sid: &str, resource_type: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(&(account_sid.to_owned(), resource_type.to_owned())) {
            return slot.clone();
        }
        slots
            .entry((account_sid.to_owned(), resource_type.to_owned()))
            .or_default()
            .clone()
    }

    async fn take(
        &self,
        account_sid: &str,
        slot: &Arc<Slot>,
        resource_type: &str,
        limit: u32,
    ) -> Result<Guard, Impeded> {
        let impeded = |current| Impeded {
            resource_type: resource_type.to_owned(),
            current,
            threshold: limit,
        };
        // The local count is this instance's share, so it can never exceed
        // the threshold either: check it first, without a round trip.
        let mut current = slot.try_take(limit).map_err(impeded)?;
        let in_flight = self
            .in_flight
            .get_or_create(&ResourceLabels {
                resource: resource_type.to_owned(),
            })
            .clone();
        in_flight.inc();
        let mut guard = Guard {
            slot: slot.clone(),
            in_flight,
            current,
            shared: None,
            undone: false,
        };
        if let Some(shared) = &self.shared {
            match shared.try_take(account_sid, resource_type, limit).await {
                Ok(Ok(count)) => current = count,
                Ok(Err(count)) => {
                    guard.undone = true;
                    return Err(impeded(count));
                }
                Err(e) => {
                    // Redis unreachable: each instance still holds its own count
                    // to the threshold rather than failing every request.
                    tracing::error!(error = %e, "redis: concurrency counted on this instance only");
                    return Ok(guard);
                }
            }
            guard.current = current;
            guard.shared = Some(SharedRelease {
                shared: shared.clone(),
                tasks: self.tasks.clone(),
                account_sid: account_sid.to_owned(),
                resource_type: resource_type.to_owned(),
            });
        }
        Ok(guard)
    }

    /// Admits a request within `threshold`, waiting up to its queue time for
    /// a slot to free up; refuses it otherwise.
    pub async fn acquire(
        &self,
        account_sid: &str,
        resource_type: &str,
        threshold: Threshold,
    ) -> Result<Guard, Impeded> {
        let slot = self.slot(account_sid, resource_type);
        let deadline = tokio::time::Instant::now() + threshold.queue_wait;
        let refused = loop {
            // Registered before trying, so a release between the try and the
            // wait is not missed.
            let released = slot.released.notified();
            let mut released = std::pin::pin!(released);
            released.as_mut().enable();
            let taken = self
                .take(account_sid, &slot, resource_type, threshold.concurrency)
                .await;
            match taken {
                Ok(guard) => return Ok(guard),
                Err(refused) if tokio::time::Instant::now() >= deadline => break refused,
                Err(_) => {
                    // Other instances' releases are not signalled here: look again soon.
                    let wake = match self.shared {
                        Some(_) => deadline.min(tokio::time::Instant::now() + SHARED_POLL),
                        None => deadline,
                    };
                    let _ = tokio::time::timeout_at(wake, released).await;
                }
            }
        };
        self.impeded
            .get_or_create(&ResourceLabels {
                resource: resource_type.to_owned(),
            })
            .inc();
        Err(refused)
    }

    /// The counter of one account and resource type (zero if never used).
    pub fn usage(&self, account_sid: &str, resource_type: &str) -> Usage {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .get(&(account_sid.to_owned(), resource_type.to_owned()))
            .map(|slot| Usage {
                current: slot.current.load(Ordering::Acquire),
                max: slot.max.load(Ordering::Acquire),
            })
            .unwrap_or(Usage { current: 0, max: 0 })
    }

    /// Every counter of one account that has been used, by resource type.
    pub fn account_usage(&self, account_sid: &str) -> Vec<(String, Usage)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut usage: Vec<(String, Usage)> = slots
            .iter()
            .filter(|((account, _), _)| account == account_sid)
            .map(|((_, resource_type), slot)| {
                let usage = Usage {
                    current: slot.current.load(Ordering::Acquire),
                    max: slot.max.load(Ordering::Acquire),
                };
                (resource_type.clone(), usage)
            })
            .collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        usage
    }

    /// Requests in flight across every account and resource type.
    pub fn in_flight(&self) -> u64 {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .values()
            .map(|slot| u64::from(slot.current.load(Ordering::Acquire)))
            .sum()
    }

    /// The threshold an account has for a resource type: its own row, else
    /// the configured default.
    pub async fn threshold(
        &self,
        account_sid: &str,
        resource_type: &str,
    ) -> Result<Threshold, StoreError> {
        let rows = self.account_thresholds(account_sid).await?;
        Ok(rows.get(resource_type).copied().unwrap_or(Threshold {
            concurrency: self.default_concurrency,
            queue_wait: Duration::ZERO,
        }))
    }

    async fn account_thresholds(
        &self,
        account_sid: &str,
    ) -> Result<Arc<HashMap<String, Threshold>>, StoreError> {
        {
            let cache = self.thresholds.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((read, rows)) = cache.get(account_sid) {
                if read.elapsed() < THRESHOLDS_TTL {
                    return Ok(rows.clone());
                }
            }
        }
        let rows = sqlx::query(
            "SELECT resource_type, concurrency, queue_wait_ms FROM api_limits WHERE account_sid = $1",
        )
        .bind(account_sid)
        .fetch_all(self.store.pool())
        .await?;
        let mut thresholds = HashMap::new();
        for row in rows {
            let concurrency: i64 = row.try_get("concurrency")?;
            let queue_wait_ms: i64 = row.try_get("queue_wait_ms")?;
            thresholds.insert(
                row.try_get::<String, _>("resource_type")?,
                Threshold {
                    concurrency: u32::try_from(concurrency).unwrap_or(0),
                    queue_wait: Duration::from_millis(u64::try_from(queue_wait_ms).unwrap_or(0)),
                },
            );
        }
        let thresholds = Arc::new(thresholds);
        self.thresholds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account_sid.to_owned(), (Instant::now(), thresholds.clone()));
        Ok(thresholds)
    }

    /// Stores an account's own threshold for a resource type; this instance
    /// applies it to the next request, others within a few seconds.
    pub async fn set_threshold(
        &self,
        account_sid: &str,
        resource_type: &str,
        threshold: Threshold,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_limits (account_sid, resource_type, concurrency, queue_wait_ms, date_updated)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_sid, resource_type) DO UPDATE
             SET concurrency = excluded.concurrency, queue_wait_ms = excluded.queue_wait_ms,
                 date_updated = excluded.date_updated",
        )
        .bind(account_sid)
        .bind(resource_type)
        .bind(i64::from(threshold.concurrency))
        .bind(i64::try_from(threshold.queue_wait.as_millis()).unwrap_or(i64::MAX))
        .bind(now_millis())
        .execute(self.store.pool())
        .await?;
        self.thresholds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account_sid);
        Ok(())
    }
}

/// An endpoint's resource type: the collection it works on and what it does
/// to it, e.g. `Calls:create`, `Calls:read`, `Recordings:delete`, `Accounts:update`.
pub fn resource_type(endpoint: &Endpoint) -> String {
    // The last collection named in the path: `…/Calls/{Sid}/Recordings.json` is about Recordings.
    let segments: Vec<&str> = endpoint
        .path
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(|s| s.trim_end_matches(".json"))
        .collect();
    let collection = segments.last().copied().unwrap_or("Api");
    let instance = endpoint.path.ends_with("}.json");
    let action = match endpoint.verb {
        crate::api::Verb::Get => "read",
        crate::api::Verb::Post if instance => "update",
        crate::api::Verb::Post => "create",
        crate::api::Verb::Delete => "delete",
    };
    format!("{collection}:{action}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter with a default of 2, over a fresh SQLite file (not
    /// `:memory:`: each pooled connection would get its own database).
    async fn limiter() -> (Limiter, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let limiter = Limiter::new(store, 2, &crate::api::endpoints(), &Metrics::new());
        (limiter, dir)
    }

    #[test]
    fn resource_types_name_the_collection_and_the_action() {
        let types: std::collections::BTreeMap<String, String> = crate::api::endpoints()
            .iter()
            .map(|e| (format!("{:?} {}", e.verb, e.path), resource_type(e)))
            .collect();
        let of = |key: &str| types[key].as_str();
        assert_eq!(
            of("Post /2010-04-01/Accounts/{AccountSid}/Calls.json"),
            "Calls:create"
        );
        assert_eq!(
            of("Get /2010-04-01/Accounts/{AccountSid}/Calls.json"),
            "Calls:read"
        );
        assert_eq!(
            of("Post /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"),
            "Calls:update"
        );
        assert_eq!(
            of("Get /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}/Recordings.json"),
            "Recordings:read"
        );
        assert_eq!(
            of("Delete /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json"),
            "Keys:delete"
        );
        assert_eq!(of("Get /2010-04-01/Accounts.json"), "Accounts:read");
        assert_eq!(
            of("Post /2010-04-01/Accounts/{AccountSid}.json"),
            "Accounts:update"
        );
    }

    #[tokio::test]
    async fn a_guard_is_released_on_drop_even_when_its_task_panics() {
        let (limiter, _dir) = limiter().await;
        let limiter = Arc::new(limiter);
        let two = Threshold {
            concurrency: 2,
            queue_wait: Duration::ZERO,
        };
        let a = limiter.acquire("AC1", "Calls:create", two).await.unwrap();
        let held = limiter.clone();
        let panicked = tokio::spawn(async move {
            let _b = held.acquire("AC1", "Calls:create", two).await.unwrap();
            panic!("a handler fails");
        })
        .await;
        assert!(panicked.is_err());
        assert_eq!(
            limiter.usage("AC1", "Calls:create"),
            Usage { current: 1, max: 2 }
        );
        let b = limiter.acquire("AC1", "Calls:create", two).await.unwrap();
        let refused = limiter
            .acquire("AC1", "Calls:create", two)
            .await
            .err()
            .unwrap();
        assert_eq!((refused.current, refused.threshold), (2, 2));
        // Another account and another resource type have their own counters.
        let _c = limiter.acquire("AC2", "Calls:create", two).await.unwrap();
        let _d = limiter.acquire("AC1", "Calls:read", two).await.unwrap();
        drop((a, b));
        assert_eq!(limiter.usage("AC1", "Calls:create").current, 0);
    }

    #[tokio::test]
    async fn a_queued_request_takes_the_slot_a_finished_one_frees() {
        let (limiter, _dir) = limiter().await;
        let limiter = Arc::new(limiter);
        let queued = Threshold {
            concurrency: 1,
            queue_wait: Duration::from_secs(30),
        };
        let first = limiter.acquire("AC1", "Calls:read", queued).await.unwrap();
        let waiter = limiter.clone();
        let second = tokio::spawn(async move {
            waiter
                .acquire("AC1", "Calls:read", queued)
                .await
                .map(|g| g.current)
        });
        tokio::task::yield_now().await;
        drop(first);
        assert_eq!(second.await.unwrap(), Ok(1));
        let refused = limiter
            .acquire(
                "AC1",
                "Calls:read",
                Threshold {
                    concurrency: 0,
                    queue_wait: Duration::ZERO,
                },
            )
            .await
            .err()
            .unwrap();
        assert_eq!(refused.threshold, 0);
        assert_eq!(
            limiter.usage("AC1", "Calls:read"),
            Usage { current: 0, max: 1 }
        );
    }

    #[tokio::test]
    async fn each_credential_has_its_own_request_rate() {
        let (limiter, _dir) = limiter().await;
        assert_eq!(
            limiter.check_rate("AC1"),
            Ok(()),
            "no rate limit by default"
        );
        let limiter = limiter.with_rate(std::num::NonZeroU32::new(2));
        assert_eq!(limiter.check_rate("SK1"), Ok(()));
        assert_eq!(limiter.check_rate("SK1"), Ok(()));
        let wait = limiter.check_rate("SK1").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // Another key of the same account is counted apart.
        assert_eq!(limiter.check_rate("SK2"), Ok(()));
    }

    #[tokio::test]
    async fn an_accounts_own_threshold_overrides_the_default() {
        let (limiter, _dir) = limiter().await;
        let default = limiter.threshold("AC1", "Calls:create").await.unwrap();
        assert_eq!(default.concurrency, 2);
        let own = Threshold {
            concurrency: 7,
            queue_wait: Duration::from_millis(250),
        };
        limiter
            .set_threshold("AC1", "Calls:create", own)
            .await
            .unwrap();
        assert_eq!(limiter.threshold("AC1", "Calls:create").await.unwrap(), own);
        assert_eq!(
            limiter.threshold("AC2", "Calls:create").await.unwrap(),
            default
        );
    }
}
