//! The origination rate: calls per second each account may place through the
//! API (`POST …/Calls.json`), 1 by default as Twilio's.
//!
//! A call over the rate is not refused. It gets its account's next free
//! origination slot, is stored `queued` with the time it will wait
//! (`queue_time`) and the instance whose queue holds it (`queued_by`), and is
//! handed to the call router when its slot comes. With Redis, each account's
//! next free slot is one key that every instance reserves from with an atomic
//! script (on Redis's clock), so the rate holds across instances.
//!
//! A queued call outlives its instance: at start, and with Redis every lease
//! period, calls queued by an instance that is gone (no lease; without Redis,
//! any other instance, as there is only one per database) are adopted and
//! placed in their turn, or failed with a notification if their account is
//! gone. Taking a call from the queue is a conditional update, so a call is
//! placed once even if two instances reach for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use redis::aio::ConnectionManager;
use redis::Script;
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Limiter, THRESHOLDS_TTL};
use crate::metrics::Metrics;
use crate::router::{CallRouter, Instructions, RouterError};
use crate::sid::{Kind, Sid};
use crate::store::{
    call_from_row, insert_call_on, now_millis, AccountStatus, Call, CallStatus, Notification,
    Queued, Store, StoreError, CALL_COLUMNS,
};
use crate::webhook::Method;

/// KEYS: the account's next free slot (µs on Redis's clock). ARGV: µs between
/// slots. Takes the next free slot and answers the µs until it.
const NEXT_SLOT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then
  slot = now
end
local next = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1000)
return slot - now
";

/// Twilio's code for a call that could not be placed.
const NOT_PLACED: u32 = 13227;

#[derive(Debug, thiserror::Error)]
pub enum PacerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Router(#[from] RouterError),
}

impl From<sqlx::Error> for PacerError {
    fn from(e: sqlx::Error) -> PacerError {
        PacerError::Store(e.into())
    }
}

/// Paces the calls the API places, per account.
pub struct Pacer {
    store: Store,
    router: CallRouter,
    limits: Arc<Limiter>,
    redis: Option<ConnectionManager>,
    next_slot: Script,
    default_rate: u32,
    /// Each account's next free slot, when not shared through Redis.
    slots: Mutex<HashMap<String, tokio::time::Instant>>,
    /// Each account's own rate row (if any), and when it was read.
    rates: Mutex<HashMap<String, (Instant, Option<u32>)>>,
    tasks: TaskTracker,
    stop: CancellationToken,
    waiting: Gauge,
    queue_time: Histogram,
}

impl Pacer {
    /// Paces at `default_rate` calls per second where an account has no rate
    /// of its own; with `redis`, across every instance using it.
    pub fn new(
        store: Store,
        router: CallRouter,
        limits: Arc<Limiter>,
        redis: Option<ConnectionManager>,
        default_rate: u32,
        metrics: &Metrics,
    ) -> Pacer {
        let waiting = Gauge::default();
        metrics.register(
            "calls_queued",
            "Calls placed through the API waiting on this instance for their account's origination slot",
            waiting.clone(),
        );
        let queue_time = Histogram::new(exponential_buckets(0.001, 4.0, 10));
        metrics.register(
            "call_queue_time_seconds",
            "How long calls placed through the API waited for their origination slot",
            queue_time.clone(),
        );
        Pacer {
            store,
            router,
            limits,
            redis,
            next_slot: Script::new(NEXT_SLOT),
            default_rate,
            slots: Mutex::default(),
            rates: Mutex::default(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            waiting,
            queue_time,
        }
    }

    /// The calls per second `account_sid` may place: its own row, else the default.
    pub async fn calls_per_second(&self, account_sid: &str) -> Result<u32, StoreError> {
        {
            let rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((read, rate)) = rates.get(account_sid) {
                if read.elapsed() < THRESHOLDS_TTL {
                    return Ok(rate.unwrap_or(self.default_rate));
                }
            }
        }
        let row = sqlx::query("SELECT calls_per_second FROM call_rates WHERE account_sid = $1")
            .bind(account_sid)
            .fetch_optional(self.store.pool())
            .await?;
        let own = match row {
            Some(row) => {
                Some(u32::try_from(row.try_get::<i64, _>("calls_per_second")?).unwrap_or(1))
            }
            None => None,
        };
        self.rates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account_sid.to_owned(), (Instant::now(), own));
        Ok(own.unwrap_or(self.default_rate).max(1))
    }

    /// Stores an account's own rate; this instance applies it to the next
    /// call, others within a few seconds.
    pub async fn set_calls_per_second(
        &self,
        account_sid: &str,
        calls_per_second: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_rates (account_sid, calls_per_second, date_updated) VALUES ($1, $2, $3)
             ON CONFLICT (account_sid) DO UPDATE
             SET calls_per_second = excluded.calls_per_second, date_updated = excluded.date_updated",
        )
        .bind(account_sid)
        .bind(i64::from(calls_per_second.max(1)))
        .bind(now_millis())
        .execute(self.store.pool())
        .await?;
        self.rates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account_sid);
        Ok(())
    }

    /// Takes the account's next free origination slot: how long until it comes.
    async fn reserve(&self, account_sid: &str) -> Result<Duration, StoreError> {
        let rate = self.calls_per_second(account_sid).await?;
        let interval = Duration::from_secs(1) / rate;
        if let Some(redis) = &self.redis {
            let reserved: redis::RedisResult<u64> = self
                .next_slot
                .key(format!("switchboard:cps:{account_sid}"))
                .arg(u64::try_from(interval.as_micros()).unwrap_or(u64::MAX))
                .invoke_async(&mut redis.clone())
                .await;
            match reserved {
                Ok(micros) => return Ok(Duration::from_micros(micros)),
                Err(e) => {
                    tracing::error!(error = %e, "redis: calls paced on this instance only");
                }
            }
        }
        let now = tokio::time::Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let next = slots.entry(account_sid.to_owned()).or_insert(now);
        let slot = (*next).max(now);
        *next = slot + interval;
        Ok(slot - now)
    }

    /// Stores a new `queued` call and places it in its account's turn: at
    /// once, or later from this instance's queue. Answers how long it waits.
    pub async fn enqueue(
        self: &Arc<Self>,
        call: &Call,
        auth_token: String,
    ) -> Result<Duration, PacerError> {
        let wait = self.reserve(&call.account_sid).await?;
        let now_due = wait.is_zero();
        let queued = Queued {
            time_ms: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
            by: if now_due { "" } else { self.limits.instance() },
        };
        insert_call_on(self.store.pool(), call, Some(queued)).await?;
        if now_due {
            self.place(call.clone(), auth_token)?;
            self.queue_time.observe(0.0);
            return Ok(wait);
        }
        let interval = Duration::from_secs(1) / self.calls_per_second(&call.account_sid).await?;
        tracing::info!(
            call = %call.sid,
            account = %call.account_sid,
            queue_time_ms = wait.as_millis(),
            ahead = wait.as_micros() / interval.as_micros().max(1),
            "call queued for its account's origination rate"
        );
        let pacer = self.clone();
        let due = tokio::time::Instant::now() + wait;
        self.tasks
            .spawn(pacer.place_when_due(call.clone(), auth_token, due));
        Ok(wait)
    }

    /// Waits for the call's slot, takes it from the queue and places it.
    async fn place_when_due(
        self: Arc<Self>,
        call: Call,
        auth_token: String,
        due: tokio::time::Instant,
    ) {
        self.waiting.inc();
        let stopped = tokio::select! {
            () = tokio::time::sleep_until(due) => false,
            // Left queued in the store: the next instance to start places it.
            () = self.stop.cancelled() => true,
        };
        self.waiting.dec();
        if stopped {
            return;
        }
        match self.take(&call).await {
            Ok(Some(queue_time)) => self.queue_time.observe(queue_time.as_secs_f64()),
            // Canceled while queued, or taken over by another instance.
            Ok(None) => return,
            Err(e) => {
                tracing::error!(call = %call.sid, error = %e, "cannot take a call from the queue; it is placed after a restart");
                return;
            }
        }
        let sid = call.sid.clone();
        if let Err(e) = self.place(call.clone(), auth_token) {
            self.fail(&call, &format!("The call could not be placed: {e}"))
                .await;
            tracing::error!(call = %sid, error = %e, "a queued call could not be placed");
        }
    }

    /// Takes a call out of this instance's queue: answers how long it waited,
    /// or `None` if it is no longer queued here.
    async fn take(&self, call: &Call) -> Result<Option<Duration>, StoreError> {
        let now = now_millis();
        let taken = sqlx::query(
            "UPDATE calls SET queued_by = '', queue_time = $3 - date_created, date_updated = $3
             WHERE sid = $1 AND queued_by = $2 AND status = 'queued'",
        )
        .bind(&call.sid)
        .bind(self.limits.instance())
        .bind(now)
        .execute(self.store.pool())
        .await?;
        let waited = u64::try_from(now - call.date_created).unwrap_or(0);
        Ok((taken.rows_affected() == 1).then(|| Duration::from_millis(waited)))
    }

    fn place(&self, call: Call, auth_token: String) -> Result<(), RouterError> {
        let instructions = match (&call.twiml, &call.url) {
            (Some(twiml), _) => Instructions::Inline(twiml.clone()),
            (None, Some(url)) => Instructions::Fetch {
                url: url.clone(),
                method: Method::parse(Some(&call.method)),
                fallback: call
                    .fallback_url
                    .clone()
                    .map(|f| (f, Method::parse(Some(&call.fallback_method)))),
                extra: Vec::new(),
            },
            // The API stores a Url or Twiml with every call it places.
            (None, None) => Instructions::Inline("<Response><Hangup/></Response>".into()),
        };
        self.router.place(call, auth_token, instructions)
    }

    /// Ends a queued call, with a notification saying why.
    async fn fail(&self, call: &Call, message: &str) {
        let now = now_millis();
        let notification = Notification {
            sid: Sid::new(Kind::Notification).to_string(),
            account_sid: call.account_sid.clone(),
            call_sid: Some(call.sid.clone()),
            error_code: NOT_PLACED.to_string(),
            log: "0".into(),
            message_text: message.to_owned(),
            more_info: format!("https://www.twilio.com/docs/errors/{NOT_PLACED}"),
            request_method: None,
            request_url: None,
            request_variables: None,
            response_body: None,
            date_created: now,
        };
        let status = self
            .store
            .set_call_status(&call.sid, CallStatus::Failed, None, Some(now), Some(0))
            .await;
        let noted = self.store.insert_notification(&notification).await;
        if let Err(e) = status.and(noted) {
            tracing::error!(call = %call.sid, error = %e, "cannot record a failed queued call");
        }
    }

    /// Cancels a call still waiting in some instance's queue (the API's
    /// `Status=canceled` or `completed` before it was placed). False if it
    /// is not waiting in a queue.
    pub async fn cancel(&self, call_sid: &str) -> Result<bool, StoreError> {
        let now = now_millis();
        let canceled = sqlx::query(
            "UPDATE calls SET status = 'canceled', queued_by = '', end_time = $2, duration = 0,
                 date_updated = $2
             WHERE sid = $1 AND status = 'queued' AND queued_by <> ''",
        )
        .bind(call_sid)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(canceled.rows_affected() == 1)
    }

    /// Adopts the calls queued by instances that are gone, and places them in
    /// their turn. Answers how many were adopted.
    pub async fn adopt_orphans(self: &Arc<Self>) -> Result<usize, StoreError> {
        let me = self.limits.instance();
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS}, queued_by FROM calls
             WHERE status = 'queued' AND queued_by <> '' AND queued_by <> $1
             ORDER BY date_created, sid"
        ))
        .bind(me)
        .fetch_all(self.store.pool())
        .await?;
        let mut alive: HashMap<String, bool> = HashMap::new();
        let mut adopted = 0;
        for row in rows {
            let call = call_from_row(&row)?;
            let owner: String = row.try_get("queued_by")?;
            let owner_alive = match alive.get(&owner) {
                Some(known) => *known,
                None => {
                    let known = self.is_alive(&owner).await;
                    alive.insert(owner.clone(), known);
                    known
                }
            };
            if owner_alive {
                continue;
            }
            let taken = sqlx::query(
                "UPDATE calls SET queued_by = $3, date_updated = $4
                 WHERE sid = $1 AND queued_by = $2 AND status = 'queued'",
            )
            .bind(&call.sid)
            .bind(&owner)
            .bind(me)
            .bind(now_millis())
            .execute(self.store.pool())
            .await?;
            if taken.rows_affected() != 1 {
                continue;
            }
            adopted += 1;
            let account = self.store.account(&call.account_sid).await?;
            let Some(account) = account.filter(|a| a.status == AccountStatus::Active) else {
                tracing::warn!(call = %call.sid, "a queued call's account is gone or not active: failed");
                self.fail(
                    &call,
                    "The call was queued by an instance that stopped, and its account is no longer active.",
                )
                .await;
                continue;
            };
            let wait = self.reserve(&call.account_sid).await?;
            tracing::info!(
                call = %call.sid,
                account = %call.account_sid,
                from_instance = %owner,
                wait_ms = wait.as_millis(),
                "resumed a call queued by an instance that is gone"
            );
            let due = tokio::time::Instant::now() + wait;
            self.tasks
                .spawn(self.clone().place_when_due(call, account.auth_token, due));
        }
        Ok(adopted)
    }

    /// Whether the instance that queued a call still runs: its lease in
    /// Redis; without Redis an instance is alone with its database.
    async fn is_alive(&self, instance: &str) -> bool {
        let Some(shared) = self.limits.shared() else {
            return false;
        };
        match shared.is_alive(instance).await {
            Ok(alive) => alive,
            Err(e) => {
                // Unknown: leave its calls where they are rather than place them twice.
                tracing::error!(error = %e, "redis: cannot tell whether an instance is alive");
                true
            }
        }
    }

    /// Adopts orphaned queued calls now, and with Redis again every `period`
    /// (instances sharing a database may stop at any time).
    pub fn start(self: &Arc<Self>, period: Duration) {
        let pacer = Arc::downgrade(self);
        let (stop, shared) = (self.stop.clone(), self.limits.shared().is_some());
        self.tasks.spawn(async move {
            loop {
                let Some(strong) = pacer.upgrade() else {
                    return;
                };
                if let Err(e) = strong.adopt_orphans().await {
                    tracing::error!(error = %e, "cannot look for queued calls to resume");
                }
                drop(strong);
                if !shared {
                    return;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(period) => {}
                }
            }
        });
    }

    /// Stops placing calls: those still waiting stay queued in the store.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}
