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
//! capped: a keyed `governor` limiter per instance, or with Redis a GCRA
//! shared by every instance, which costs one round trip per request (with
//! the concurrency grant, when one is needed, in the same script). No rate
//! is configured by default. The origination rate of calls is [`cps`].
//!
//! Counters are in-process, or with Redis configured shared by every instance
//! as slot reservations (see [`shared`]): an instance admits a request with
//! no round trip while it holds a reserved slot to spare, and asks Redis for
//! a grant when it has none. Grants shrink to one slot near the threshold,
//! where each admission is one round trip as without reservations; spare
//! beyond one grant goes back at once, and spare no request needed for a
//! whole window (10 ms) goes back at its end, so an idle instance holds nothing.
//! The sum of reservations never exceeds the threshold and each instance
//! admits only into its own, so neither do the requests in flight.
//!
//! What a client sees is requests in flight, not reservations: the
//! `Twilio-Concurrent-Requests` header and the read API add this instance's
//! exact count to the others' as they last published them (each publishes
//! within 5 ms of a change, in the flusher's batch).
//!
//! Measured with `cargo bench --bench limits` on the shared 2-core machine,
//! whose PING swings between ~8 and ~70 µs: in-process ~0.6 µs a request;
//! with Redis under steady load ~0.6–1.3 µs one after the other and
//! ~0.4–0.9 µs eight at a time (one grant per ~330 and ~50 requests):
//! 0.02–0.11 of a PING, 0.09–0.45 of eight pipelined PINGs; a request needing a grant (a cold counter, or any near
//! the threshold) and any request with a shared request rate, one script
//! round trip: 1.2 PINGs at a 70 µs PING, 31–42 µs at an 8–13 µs one.

pub mod api;
pub mod cps;
mod middleware;
pub mod shared;

pub use middleware::limit;

use std::collections::HashMap;
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

/// How long the flusher waits after a change before sending it, so one
/// round trip carries many requests' give-backs and in-flight counts.
const SYNC_LINGER: Duration = Duration::from_millis(5);

/// Spare slots this instance did not need for a whole window this long go
/// back to Redis at its end: an idle instance holds nothing, and a busy one
/// about what it needs at once.
const WINDOW: Duration = Duration::from_millis(10);

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

/// A request that was not admitted for its account's concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impeded {
    pub resource_type: String,
    pub current: u32,
    pub threshold: u32,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Its account has its threshold of this resource type in flight.
    Concurrency(Impeded),
    /// Its credential is over the request rate; it may come again after this.
    Rate(Duration),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

type Key = (String, String);

/// One counter's numbers on this instance.
#[derive(Default)]
struct Counts {
    /// Requests admitted and not finished.
    current: u32,
    /// The most ever in flight here at once.
    max: u32,
    /// With Redis: slots Redis holds for this instance, not queued to go
    /// back. A request is admitted only into one of them, so `current`
    /// never exceeds it (unless Redis was unreachable).
    reserved: u32,
    /// Spare slots queued to go back to Redis.
    giving_back: u32,
    /// Given back and not yet answered by Redis.
    sending: u32,
    /// Reservations waiting for Redis's answer.
    asking: u32,
    /// The last grant's size: spare up to this much is kept while busy.
    grant: u32,
    /// Requests in flight on the other instances, as Redis last said.
    others: u32,
    /// This instance's requests in flight as last sent to Redis.
    published: u32,
    /// The fewest spare slots since the window began: none of them was needed.
    unused: u32,
    /// In the flusher's list: slots to give back or a count to publish.
    queued: bool,
    /// In the idle sweep's list: may hold spare slots.
    holding: bool,
    /// A Redis error left this instance's fields in Redis uncertain: the
    /// lease refresh rewrites them once nothing is on its way.
    dirty: bool,
    /// That rewrite is on its way: nothing else of this counter may be.
    rewriting: bool,
}

impl Counts {
    fn spare(&self) -> u32 {
        self.reserved.saturating_sub(self.current)
    }

    /// Queues `n` spare slots to go back to Redis.
    fn give_back(&mut self, n: u32) {
        self.reserved -= n;
        self.giving_back += n;
        self.unused = self.unused.min(self.spare());
    }
}

struct Slot {
    key: Key,
    counts: Mutex<Counts>,
    /// Signalled when a request here finishes.
    released: tokio::sync::Notify,
    /// Signalled when Redis has answered slots given back, or a rewrite.
    sent: tokio::sync::Notify,
}

impl Slot {
    fn new(key: Key) -> Slot {
        Slot {
            key,
            counts: Mutex::default(),
            released: tokio::sync::Notify::new(),
            sent: tokio::sync::Notify::new(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usage(&self) -> Usage {
        let counts = self.counts();
        Usage {
            current: counts.current,
            max: counts.max,
        }
    }
}

/// What the background tasks of a limiter sharing Redis have to do.
#[derive(Default)]
struct Outbox {
    /// Counters with slots to give back or an in-flight count to publish.
    queued: Mutex<Vec<Arc<Slot>>>,
    /// Wakes the flusher.
    added: tokio::sync::Notify,
    /// Counters that may hold spare slots, for the idle sweep.
    holding: Mutex<Vec<Arc<Slot>>>,
    /// Wakes the idle sweep.
    spare: tokio::sync::Notify,
}

impl Outbox {
    /// Queues `slot` for the flusher unless it is already; call with its counts locked.
    fn queue(&self, slot: &Arc<Slot>, counts: &mut Counts) {
        if !counts.queued {
            counts.queued = true;
            self.queued
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(slot.clone());
            self.added.notify_one();
        }
    }

    /// Lists `slot` for the idle sweep unless it is already; call with its counts locked.
    fn hold(&self, slot: &Arc<Slot>, counts: &mut Counts) {
        if !counts.holding && counts.spare() > 0 {
            counts.holding = true;
            self.holding
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(slot.clone());
            self.spare.notify_one();
        }
    }

    fn take_queued(&self) -> Vec<Arc<Slot>> {
        std::mem::take(&mut *self.queued.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A reservation on its way to Redis. Dropped before the answer (the
/// request's future dropped, its client gone), whether Redis granted it is
/// unknown: the lease refresh rewrites this instance's fields.
struct Asking<'a>(&'a Slot);

impl Asking<'_> {
    /// Redis answered: the caller settles `asking` itself.
    fn answered(self) {
        std::mem::forget(self);
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        let mut counts = self.0.counts();
        counts.asking -= 1;
        counts.dirty = true;
    }
}

/// Holds one admitted request's slot; dropping it gives the slot back.
pub struct Guard {
    slot: Arc<Slot>,
    in_flight: Gauge,
    /// The account's requests in flight right after this one was admitted,
    /// for the `Twilio-Concurrent-Requests` header: this instance's exact
    /// count plus the other instances' as Redis last said.
    pub current: u32,
    /// Where the counter is shared through Redis.
    outbox: Option<Arc<Outbox>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut counts = self.slot.counts();
        counts.current -= 1;
        if let Some(outbox) = &self.outbox {
            // Spare beyond one grant goes back at once; the rest serves this
            // instance's next requests with no round trip, unless unused.
            let (spare, keep) = (counts.spare(), counts.grant);
            if spare > keep {
                counts.give_back(spare - keep);
            }
            outbox.queue(&self.slot, &mut counts);
            outbox.hold(&self.slot, &mut counts);
        }
        drop(counts);
        self.in_flight.dec();
        self.slot.released.notify_one();
    }
}

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
    /// This process among the instances sharing Redis and the store.
    instance: String,
    shared: Option<shared::Shared>,
    outbox: Arc<Outbox>,
    tasks: TaskTracker,
    stop: CancellationToken,
    rate: Option<RequestRate>,
    /// How long spare slots may stay unused before going back.
    window: Duration,
}

/// The request rate per credential: in-process, or shared through Redis.
enum RequestRate {
    Local(governor::DefaultKeyedRateLimiter<String>),
    Shared(shared::Rate),
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
            instance: crate::sid::new_secret(),
            shared: None,
            outbox: Arc::default(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            rate: None,
            window: WINDOW,
        }
    }

    /// Gives back spare slots no request needed for a whole `window`
    /// (10 ms unless set): longer keeps more of the threshold reserved by an
    /// instance that had a burst; shorter asks Redis for grants more often.
    pub fn with_spare_window(mut self, window: Duration) -> Limiter {
        self.window = window;
        self
    }

    /// Caps each credential at `per_minute` requests, spread over the minute
    /// with bursts up to the whole quota; shared by every instance when the
    /// limiter is (call after [`Limiter::with_redis`]).
    pub fn with_rate(mut self, per_minute: Option<std::num::NonZeroU32>) -> Limiter {
        self.rate = per_minute.map(|n| match self.shared {
            Some(_) => RequestRate::Shared(shared::Rate::per_minute(n)),
            None => {
                RequestRate::Local(governor::RateLimiter::keyed(governor::Quota::per_minute(n)))
            }
        });
        self
    }

    /// Whether `credential` may make a request now by this instance's own
    /// count; if not, how long until it may. A shared rate is checked in
    /// [`Limiter::acquire`] instead.
    fn check_local_rate(&self, credential: &str) -> Result<(), Duration> {
        use governor::clock::Clock;
        let Some(RequestRate::Local(rate)) = &self.rate else {
            return Ok(());
        };
        rate.check_key(&credential.to_owned()).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }

    /// This process's id among the instances sharing the store (and Redis).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Shares the counters with every instance using this Redis, each
    /// instance's counts outliving it by `lease`: takes the lease now and
    /// keeps renewing it from [`Limiter::start`] until [`Limiter::shutdown`].
    pub async fn with_redis(
        mut self,
        conn: redis::aio::ConnectionManager,
        lease: Duration,
    ) -> redis::RedisResult<Limiter> {
        let shared = shared::Shared::new(conn, self.instance.clone(), lease);
        shared.refresh(&[]).await?;
        self.shared = Some(shared);
        Ok(self)
    }

    /// The counters shared through Redis, if they are.
    pub fn shared(&self) -> Option<&shared::Shared> {
        self.shared.as_ref()
    }

    /// Starts renewing the Redis lease, sending what the counters give back
    /// and publish, and giving back what idle counters hold; the limiter
    /// must be shared (`Arc`) so the tasks can read the local counts.
    pub fn start(self: &Arc<Self>) {
        let Some(shared) = &self.shared else {
            return;
        };
        let period = shared.refresh_period();
        let limiter = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(period) => {}
                }
                let Some(limiter) = limiter.upgrade() else {
                    return;
                };
                if let Some(shared) = &limiter.shared {
                    limiter.refresh(shared).await;
                }
            }
        });
        let limiter = Arc::downgrade(self);
        let (stop, outbox) = (self.stop.clone(), self.outbox.clone());
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = outbox.added.notified() => {}
                }
                // Lingers so one round trip carries many requests' changes.
                tokio::time::sleep(SYNC_LINGER).await;
                let Some(limiter) = limiter.upgrade() else {
                    return;
                };
                limiter.send_updates().await;
            }
        });
        let limiter = Arc::downgrade(self);
        let (stop, outbox, window) = (self.stop.clone(), self.outbox.clone(), self.window);
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = outbox.spare.notified() => {}
                }
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(window) => {}
                    }
                    let Some(limiter) = limiter.upgrade() else {
                        return;
                    };
                    if !limiter.give_back_unused(false) {
                        break;
                    }
                }
            }
        });
    }

    /// Queues the spare slots no request needed since the last call (`all`:
    /// every spare slot) to go back to Redis, and starts a new window;
    /// answers whether some counter still holds spare slots.
    fn give_back_unused(&self, all: bool) -> bool {
        let holding = std::mem::take(
            &mut *self
                .outbox
                .holding
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let mut still = Vec::new();
        for slot in holding {
            let mut counts = slot.counts();
            let unused = if all {
                counts.spare()
            } else {
                counts.unused.min(counts.spare())
            };
            if unused > 0 {
                counts.give_back(unused);
                self.outbox.queue(&slot, &mut counts);
            }
            counts.unused = counts.spare();
            if counts.spare() > 0 {
                drop(counts);
                still.push(slot);
            } else {
                counts.holding = false;
            }
        }
        let mut holding = self
            .outbox
            .holding
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        holding.extend(still);
        !holding.is_empty()
    }

    /// Sends the slots given back and the in-flight counts changed since the
    /// last time, in one round trip.
    async fn send_updates(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        let queued = self.outbox.take_queued();
        if queued.is_empty() {
            return;
        }
        let mut updates = Vec::with_capacity(queued.len());
        let mut sending = Vec::with_capacity(queued.len());
        for slot in queued {
            let mut counts = slot.counts();
            counts.queued = false;
            // A rewrite on its way sets the field: a give-back must not cross it.
            let back = if counts.rewriting {
                0
            } else {
                std::mem::take(&mut counts.giving_back)
            };
            if counts.giving_back > 0 {
                self.outbox.queue(&slot, &mut counts);
            }
            if back == 0 && counts.current == counts.published {
                // Requests that came and went within the linger: nothing to say.
                continue;
            }
            counts.published = counts.current;
            counts.sending += back;
            let (account, resource_type) = slot.key.clone();
            updates.push((account, resource_type, back, counts.current));
            drop(counts);
            sending.push((slot, back));
        }
        let sent = shared.sync(&updates).await;
        if let Err(e) = &sent {
            tracing::warn!(error = %e, "redis: concurrency slots are given back at the next lease refresh");
        }
        for (i, (slot, back)) in sending.into_iter().enumerate() {
            let mut counts = slot.counts();
            counts.sending -= back;
            match &sent {
                Ok(others) => counts.others = others.get(i).copied().unwrap_or(counts.others),
                Err(_) => counts.dirty = true,
            }
            drop(counts);
            slot.sent.notify_waiters();
        }
    }

    /// Stops the background tasks, gives back every spare slot, and ends the lease.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.give_back_unused(true);
        self.send_updates().await;
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.end_lease().await {
                tracing::warn!(error = %e, "redis: the concurrency lease ends by expiry");
            }
        }
    }

    /// This instance's fields of each counter a Redis error left uncertain,
    /// taken only while nothing of that counter is on its way to Redis: the
    /// slots Redis should hold for this instance (at least its requests in
    /// flight, admitted while Redis was unreachable) and its in-flight count.
    /// Every other field is exact in Redis, and rewriting it would race the
    /// reservations and give-backs under way.
    fn uncertain_fields(&self) -> Vec<(Arc<Slot>, u32, u32)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut uncertain = Vec::new();
        for slot in slots.values() {
            let mut counts = slot.counts();
            let quiet = counts.asking == 0 && counts.sending == 0 && counts.giving_back == 0;
            if counts.dirty && quiet && !counts.rewriting {
                counts.dirty = false;
                counts.rewriting = true;
                counts.reserved = counts.reserved.max(counts.current);
                counts.published = counts.current;
                uncertain.push((slot.clone(), counts.reserved, counts.current));
            }
        }
        uncertain
    }

    /// Renews the lease and rewrites the uncertain fields.
    async fn refresh(&self, shared: &shared::Shared) {
        let uncertain = self.uncertain_fields();
        let fields: Vec<shared::Update> = uncertain
            .iter()
            .map(|(slot, reserved, current)| {
                let (account, resource_type) = slot.key.clone();
                (account, resource_type, *reserved, *current)
            })
            .collect();
        let refreshed = shared.refresh(&fields).await;
        if let Err(e) = &refreshed {
            tracing::error!(error = %e, "redis: cannot renew the concurrency lease");
        }
        for (slot, _, _) in &uncertain {
            let mut counts = slot.counts();
            counts.rewriting = false;
            if refreshed.is_err() {
                counts.dirty = true;
            }
            // Give-backs held back meanwhile may go now.
            if counts.giving_back > 0 {
                self.outbox.queue(slot, &mut counts);
            }
            drop(counts);
            slot.sent.notify_waiters();
        }
    }

    /// The counter of one account and resource type across every instance
    /// sharing Redis (this instance's alone without Redis): this instance's
    /// exact count plus what the others last published (within
    /// 5 ms of a change); the high-water mark as sampled at each
    /// grant and each publication.
    pub async fn shared_usage(
        &self,
        account_sid: &str,
        resource_type: &str,
    ) -> redis::RedisResult<Usage> {
        let local = self.usage(account_sid, resource_type);
        match &self.shared {
            None => Ok(local),
            Some(shared) => {
                let usage = shared.usage(account_sid, resource_type).await?;
                Ok(Usage {
                    current: local.current.saturating_add(usage.others),
                    max: usage.max.max(local.max),
                })
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
        let key = (account_sid.to_owned(), resource_type.to_owned());
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(&key) {
            return slot.clone();
        }
        slots
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Slot::new(key)))
            .clone()
    }

    /// Counts one more request in `counts` (of `slot`, locked) and answers its guard.
    fn admit(
        &self,
        slot: &Arc<Slot>,
        counts: &mut Counts,
        resource_type: &str,
        shared: bool,
    ) -> Guard {
        counts.current += 1;
        counts.max = counts.max.max(counts.current);
        let outbox = shared.then(|| {
            counts.unused = counts.unused.min(counts.spare());
            self.outbox.queue(slot, counts);
            self.outbox.clone()
        });
        let in_flight = self
            .in_flight
            .get_or_create(&ResourceLabels {
                resource: resource_type.to_owned(),
            })
            .clone();
        in_flight.inc();
        Guard {
            slot: slot.clone(),
            in_flight,
            current: counts.current.saturating_add(counts.others),
            outbox,
        }
    }

    async fn take(
        &self,
        account_sid: &str,
        slot: &Arc<Slot>,
        resource_type: &str,
        limit: u32,
        credential: Option<&str>,
    ) -> Result<Guard, Refused> {
        let impeded = |current| {
            Refused::Concurrency(Impeded {
                resource_type: resource_type.to_owned(),
                current,
                threshold: limit,
            })
        };
        if let Some(credential) = credential {
            self.check_local_rate(credential).map_err(Refused::Rate)?;
        }
        let Some(shared) = &self.shared else {
            let mut counts = slot.counts();
            if counts.current >= limit {
                return Err(impeded(counts.current));
            }
            return Ok(self.admit(slot, &mut counts, resource_type, false));
        };
        let mut rate = match (&self.rate, credential) {
            (Some(RequestRate::Shared(rate)), Some(credential)) => Some((credential, *rate)),
            _ => None,
        };
        let mut looked_again = false;
        loop {
            // Registered before looking: an answer from Redis meanwhile is not missed.
            let sent = slot.sent.notified();
            let mut sent = std::pin::pin!(sent);
            sent.as_mut().enable();
            // Admitted here already, waiting only for the request rate's verdict.
            let mut held = None;
            let in_flight = {
                let mut counts = slot.counts();
                // This instance's count is part of the account's: never above
                // the threshold, counting the requests asking Redis for a slot.
                if counts.current.saturating_add(counts.asking) >= limit {
                    return Err(impeded(counts.current.saturating_add(counts.others)));
                }
                if counts.rewriting {
                    None
                } else {
                    if counts.current >= counts.reserved && counts.giving_back > 0 {
                        // Take back a slot queued to go back: Redis still holds it.
                        counts.giving_back -= 1;
                        counts.reserved += 1;
                    }
                    if counts.current < counts.reserved {
                        let guard = self.admit(slot, &mut counts, resource_type, true);
                        if rate.is_none() {
                            // The common case: no round trip.
                            return Ok(guard);
                        }
                        held = Some(guard);
                    } else {
                        // No spare: every slot is needed this window.
                        counts.unused = 0;
                        counts.asking += 1;
                    }
                    Some(counts.current + u32::from(held.is_none()))
                }
            };
            let Some(in_flight) = in_flight else {
                // Wait for the rewrite of this instance's fields to be answered.
                let _ = tokio::time::timeout(SHARED_POLL, sent).await;
                continue;
            };
            // Counted in `asking` just above, with no await since.
            let asking = held.is_none().then(|| Asking(slot));
            let asked = shared
                .reserve(
                    account_sid,
                    resource_type,
                    limit,
                    rate.take(),
                    held.is_none(),
                    in_flight,
                )
                .await;
            if let Some(guard) = held {
                return match asked {
                    Ok(shared::Reservation::RateLimited(wait)) => Err(Refused::Rate(wait)),
                    Ok(_) => Ok(guard),
                    Err(e) => {
                        // The request rate is not enforced while Redis is unreachable.
                        tracing::error!(error = %e, "redis: request rate not checked");
                        Ok(guard)
                    }
                };
            }
            {
                let mut counts = slot.counts();
                counts.asking -= 1;
                if let Some(asking) = asking {
                    asking.answered();
                }
                let full = match asked {
                    Ok(shared::Reservation::Granted { slots, others }) => {
                        counts.reserved += slots;
                        counts.grant = slots;
                        counts.others = others;
                        self.outbox.hold(slot, &mut counts);
                        None
                    }
                    Ok(shared::Reservation::Allowed { others }) => {
                        counts.others = others;
                        None
                    }
                    Ok(shared::Reservation::Full { reserved, others }) => {
                        counts.others = others;
                        Some(reserved)
                    }
                    Ok(shared::Reservation::RateLimited(wait)) => return Err(Refused::Rate(wait)),
                    Err(e) => {
                        // Redis unreachable: each instance still holds its own count
                        // to the threshold rather than failing every request.
                        tracing::error!(error = %e, "redis: concurrency counted on this instance only");
                        counts.dirty = true;
                        if counts.current >= limit {
                            return Err(impeded(counts.current));
                        }
                        return Ok(self.admit(slot, &mut counts, resource_type, true));
                    }
                };
                // This grant, or another request's meanwhile, may have left a slot here.
                if counts.current < counts.reserved.min(limit) {
                    return Ok(self.admit(slot, &mut counts, resource_type, true));
                }
                // Slots of this counter given back were on their way in the
                // flusher's batch, which may have reached Redis after this
                // reservation: look again once they are answered.
                let on_their_way = counts.sending > 0 || counts.giving_back > 0;
                if looked_again || !on_their_way {
                    return Err(impeded(full.unwrap_or(limit)));
                }
            }
            looked_again = true;
            let _ = tokio::time::timeout(SHARED_POLL, sent).await;
        }
    }

    /// Admits a request of `credential` (when its request rate counts) within
    /// `threshold`, waiting up to its queue time for a slot to free up;
    /// refuses it otherwise.
    pub async fn acquire(
        &self,
        account_sid: &str,
        resource_type: &str,
        threshold: Threshold,
        credential: Option<&str>,
    ) -> Result<Guard, Refused> {
        let slot = self.slot(account_sid, resource_type);
        let deadline = tokio::time::Instant::now() + threshold.queue_wait;
        // The rate counts the request once, not each look at the counter.
        let mut credential = credential;
        let refused = loop {
            // Registered before trying, so a release between the try and the
            // wait is not missed.
            let released = slot.released.notified();
            let mut released = std::pin::pin!(released);
            released.as_mut().enable();
            let taken = self
                .take(
                    account_sid,
                    &slot,
                    resource_type,
                    threshold.concurrency,
                    credential.take(),
                )
                .await;
            match taken {
                Ok(guard) => return Ok(guard),
                Err(rate @ Refused::Rate(_)) => return Err(rate),
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

    /// The counter of one account and resource type on this instance (zero if never used).
    pub fn usage(&self, account_sid: &str, resource_type: &str) -> Usage {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .get(&(account_sid.to_owned(), resource_type.to_owned()))
            .map(|slot| slot.usage())
            .unwrap_or(Usage { current: 0, max: 0 })
    }

    /// Slots this instance holds in Redis for one counter (zero without
    /// Redis): its requests in flight plus the spare it keeps.
    pub fn reserved(&self, account_sid: &str, resource_type: &str) -> u32 {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .get(&(account_sid.to_owned(), resource_type.to_owned()))
            .map(|slot| slot.counts().reserved)
            .unwrap_or(0)
    }

    /// Every counter of one account that has been used, by resource type.
    pub fn account_usage(&self, account_sid: &str) -> Vec<(String, Usage)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut usage: Vec<(String, Usage)> = slots
            .iter()
            .filter(|((account, _), _)| account == account_sid)
            .map(|((_, resource_type), slot)| (resource_type.clone(), slot.usage()))
            .collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        usage
    }

    /// Requests in flight across every account and resource type.
    pub fn in_flight(&self) -> u64 {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .values()
            .map(|slot| u64::from(slot.counts().current))
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

    fn busy(refused: Refused) -> Impeded {
        match refused {
            Refused::Concurrency(impeded) => impeded,
            Refused::Rate(wait) => panic!("refused for the rate, {wait:?}"),
        }
    }

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
        let a = limiter
            .acquire("AC1", "Calls:create", two, None)
            .await
            .unwrap();
        let held = limiter.clone();
        let panicked = tokio::spawn(async move {
            let _b = held
                .acquire("AC1", "Calls:create", two, None)
                .await
                .unwrap();
            panic!("a handler fails");
        })
        .await;
        assert!(panicked.is_err());
        assert_eq!(
            limiter.usage("AC1", "Calls:create"),
            Usage { current: 1, max: 2 }
        );
        let b = limiter
            .acquire("AC1", "Calls:create", two, None)
            .await
            .unwrap();
        let refused = limiter
            .acquire("AC1", "Calls:create", two, None)
            .await
            .err()
            .map(busy)
            .unwrap();
        assert_eq!((refused.current, refused.threshold), (2, 2));
        // Another account and another resource type have their own counters.
        let _c = limiter
            .acquire("AC2", "Calls:create", two, None)
            .await
            .unwrap();
        let _d = limiter
            .acquire("AC1", "Calls:read", two, None)
            .await
            .unwrap();
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
        let first = limiter
            .acquire("AC1", "Calls:read", queued, None)
            .await
            .unwrap();
        let waiter = limiter.clone();
        let second = tokio::spawn(async move {
            waiter
                .acquire("AC1", "Calls:read", queued, None)
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
                None,
            )
            .await
            .err()
            .map(busy)
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
        async fn request(limiter: &Limiter, credential: &str) -> Result<(), Refused> {
            let many = Threshold {
                concurrency: 100,
                queue_wait: Duration::ZERO,
            };
            limiter
                .acquire("AC1", "Calls:read", many, Some(credential))
                .await
                .map(drop)
        }
        for _ in 0..5 {
            assert_eq!(
                request(&limiter, "AC1").await,
                Ok(()),
                "no rate limit by default"
            );
        }
        let limiter = limiter.with_rate(std::num::NonZeroU32::new(2));
        assert_eq!(request(&limiter, "SK1").await, Ok(()));
        assert_eq!(request(&limiter, "SK1").await, Ok(()));
        let Err(Refused::Rate(wait)) = request(&limiter, "SK1").await else {
            panic!("the third request in a minute is over the rate");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // Another key of the same account is counted apart.
        assert_eq!(request(&limiter, "SK2").await, Ok(()));
        assert_eq!(limiter.usage("AC1", "Calls:read").current, 0);
    }

    #[tokio::test]
    async fn spare_slots_unneeded_for_a_whole_window_go_back_at_its_end() {
        let (limiter, _dir) = limiter().await;
        let slot = limiter.slot("AC1", "Calls:read");
        let hold = |reserved, current| {
            let mut counts = slot.counts();
            (counts.reserved, counts.current) = (reserved, current);
            limiter.outbox.hold(&slot, &mut counts);
        };
        let counts = |slot: &Slot| {
            let c = slot.counts();
            (c.reserved, c.giving_back, c.unused)
        };
        // Eight reserved, two in flight: the first window only starts counting.
        hold(8, 2);
        assert!(limiter.give_back_unused(false));
        assert_eq!(counts(&slot), (8, 0, 6));
        // Two more admitted during the next window: two of the six spare
        // were needed, four go back, and none is left to watch.
        {
            let mut c = slot.counts();
            c.current = 4;
            c.unused = c.unused.min(c.spare());
        }
        assert!(!limiter.give_back_unused(false));
        assert_eq!(counts(&slot), (4, 4, 0));
        // All four finish (as their guards do, the slot is watched again):
        // kept through one whole window, then given back.
        hold(4, 0);
        assert!(limiter.give_back_unused(false));
        assert_eq!(counts(&slot), (4, 4, 4));
        assert!(!limiter.give_back_unused(false));
        assert_eq!(counts(&slot), (0, 8, 0));
        assert_eq!(
            limiter.outbox.take_queued().len(),
            1,
            "queued once for the flusher"
        );
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
