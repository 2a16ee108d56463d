//! The durable outbox: webhook requests (sink deliveries and call callbacks)
//! written to SQL with the event that caused them, and the worker that
//! delivers them at least once, signed as Twilio signs, in order per lane,
//! retrying with exponential backoff. A sink that keeps failing for
//! `disable_after` is disabled (status `failed`) and its account told by a
//! Notification; a call callback is given up after a few attempts.
//! Instances sharing the database lease lanes, so each lane has one deliverer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::event::{Event, NOTIFICATION_CREATED};
use super::publisher::Publisher;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Notification, Store, StoreError};
use crate::webhook::{self, Webhooks};

/// A call callback is tried this many times: the call's application
/// expects it soon or not at all.
const CALLBACK_ATTEMPTS: i64 = 5;
/// How often the worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_millis(250);
/// Lanes delivered at once.
const PARALLEL_LANES: usize = 64;
/// A lane's requests read at once.
const DRAIN_BATCH: usize = 16;
/// The first retry's delay; each next one doubles, up to `retry_max`.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// How long a lane's lease lasts without renewal (renewed at every request).
const LEASE: Duration = Duration::from_secs(120);

/// Twilio's "Event delivery to sink failed": the Notification that tells an
/// account its sink was disabled.
pub const SINK_DISABLED_CODE: u32 = 91300;

/// Takes (or renews) the lease of `lane` for `holder`; false while another
/// instance holds it.
pub async fn claim(store: &Store, lane: &str, holder: &str, now: i64) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "INSERT INTO outbox_leases (lane, holder, until) VALUES ($1, $2, $3)
         ON CONFLICT (lane) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE outbox_leases.until < $4 OR outbox_leases.holder = excluded.holder",
    )
    .bind(lane)
    .bind(holder)
    .bind(now + LEASE.as_millis() as i64)
    .bind(now)
    .execute(store.pool())
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// Gives a lane's lease back.
pub async fn release(store: &Store, lane: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM outbox_leases WHERE lane = $1 AND holder = $2")
        .bind(lane)
        .bind(holder)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// One request to deliver.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub lane: String,
    pub account_sid: String,
    pub sink_sid: Option<String>,
    pub url: String,
    pub method: String,
    pub content_type: String,
    pub body: String,
}

/// Adds a delivery inside the transaction that records its cause.
pub async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    d: &Delivery,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (lane, account_sid, sink_sid, url, method, content_type, body,
                             attempts, next_attempt_at, date_created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
    )
    .bind(&d.lane)
    .bind(&d.account_sid)
    .bind(&d.sink_sid)
    .bind(&d.url)
    .bind(&d.method)
    .bind(&d.content_type)
    .bind(&d.body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How the worker retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The longest wait between two attempts.
    pub retry_max: Duration,
    /// A sink failing this long without a success is disabled.
    pub disable_after: Duration,
}

impl RetryPolicy {
    fn delay(&self, attempts: i64) -> Duration {
        let doubled = FIRST_RETRY.saturating_mul(1 << attempts.clamp(1, 20).saturating_sub(1));
        doubled.min(self.retry_max)
    }
}

/// The delivering worker.
pub struct Worker {
    pub store: Store,
    pub webhooks: Webhooks,
    pub policy: RetryPolicy,
    pub publisher: Publisher,
    pub wake: Arc<Notify>,
    /// Lanes being delivered now: one delivery at a time per lane keeps its order.
    busy: Mutex<HashSet<String>>,
    /// This instance, as it holds lane leases.
    holder: String,
}

impl Worker {
    pub fn new(
        store: Store,
        webhooks: Webhooks,
        policy: RetryPolicy,
        publisher: Publisher,
        wake: Arc<Notify>,
    ) -> Arc<Worker> {
        Arc::new(Worker {
            store,
            webhooks,
            policy,
            publisher,
            wake,
            busy: Mutex::new(HashSet::new()),
            holder: crate::sid::new_secret(),
        })
    }

    /// Delivers until `token` is cancelled; lanes in flight finish their request.
    pub async fn run(self: Arc<Self>, token: CancellationToken) {
        let tracker = TaskTracker::new();
        loop {
            match self.due_lanes().await {
                Ok(lanes) => {
                    for lane in lanes {
                        if !self.lock().insert(lane.clone()) {
                            continue;
                        }
                        let worker = self.clone();
                        tracker.spawn(async move {
                            if let Err(e) = worker.drain(&lane).await {
                                tracing::error!(%lane, error = %e, "outbox delivery");
                            }
                            worker.lock().remove(&lane);
                            // A lane done may leave more due work behind it.
                            worker.wake.notify_one();
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
        tracker.close();
        tracker.wait().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lanes whose oldest request is due.
    async fn due_lanes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT o.lane FROM outbox o
             WHERE o.next_attempt_at <= $1
               AND o.id = (SELECT MIN(h.id) FROM outbox h WHERE h.lane = o.lane)
             ORDER BY o.id LIMIT {PARALLEL_LANES}"
        ))
        .bind(now_millis())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("lane").map_err(StoreError::from))
            .collect()
    }

    /// Delivers a lane's requests in order until it is empty or one fails,
    /// unless another instance holds the lane.
    async fn drain(&self, lane: &str) -> Result<(), StoreError> {
        let delivered = self.deliver(lane).await;
        release(&self.store, lane, &self.holder).await?;
        delivered
    }

    async fn deliver(&self, lane: &str) -> Result<(), StoreError> {
        let mut claimed_at = None;
        loop {
            // The lease is taken once and renewed well before it could lapse.
            if claimed_at.is_none_or(|at: std::time::Instant| at.elapsed() > LEASE / 4) {
                if !claim(&self.store, lane, &self.holder, now_millis()).await? {
                    return Ok(());
                }
                claimed_at = Some(std::time::Instant::now());
            }
            // The lane's next requests, in order: one read for a run of them.
            let rows = sqlx::query(&format!(
                "SELECT id, account_sid, sink_sid, url, method, content_type, body, attempts,
                        next_attempt_at
                 FROM outbox WHERE lane = $1 ORDER BY id LIMIT {DRAIN_BATCH}"
            ))
            .bind(lane)
            .fetch_all(self.store.pool())
            .await?;
            let more = rows.len() == DRAIN_BATCH;
            for row in rows {
                if !self.deliver_one(lane, &row).await? {
                    return Ok(());
                }
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Delivers one request of `lane`; false when the lane must wait (the
    /// request is not due, or failed and was rescheduled, or its sink was
    /// disabled).
    async fn deliver_one(&self, lane: &str, row: &sqlx::any::AnyRow) -> Result<bool, StoreError> {
        if row.try_get::<i64, _>("next_attempt_at")? > now_millis() {
            return Ok(false);
        }
        let id: i64 = row.try_get("id")?;
        let sink_sid: Option<String> = row.try_get("sink_sid")?;
        let account_sid: String = row.try_get("account_sid")?;
        let attempts: i64 = row.try_get::<i64, _>("attempts")? + 1;
        let error = match self.send(row, &account_sid).await {
            Ok(()) => {
                sqlx::query("DELETE FROM outbox WHERE id = $1")
                    .bind(id)
                    .execute(self.store.pool())
                    .await?;
                if let Some(sink) = &sink_sid {
                    sqlx::query(
                        "UPDATE sinks SET failing_since = NULL WHERE sid = $1 AND failing_since IS NOT NULL",
                    )
                    .bind(sink)
                    .execute(self.store.pool())
                    .await?;
                }
                return Ok(true);
            }
            Err(error) => error,
        };
        tracing::warn!(%lane, attempts, %error, "webhook delivery failed");
        if let Some(sink) = &sink_sid {
            if self.sink_failed(sink, &account_sid, &error).await? {
                return Ok(false);
            }
        }
        if sink_sid.is_none() && attempts >= CALLBACK_ATTEMPTS {
            tracing::warn!(%lane, url = %row.try_get::<String, _>("url")?, "callback given up");
            sqlx::query("DELETE FROM outbox WHERE id = $1")
                .bind(id)
                .execute(self.store.pool())
                .await?;
            return Ok(true);
        }
        let retry_at = now_millis() + self.policy.delay(attempts).as_millis() as i64;
        sqlx::query(
            "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3
             WHERE id = $4",
        )
        .bind(attempts)
        .bind(retry_at)
        .bind(&error)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(false)
    }

    /// One request, signed with the account's AuthToken as it is now.
    async fn send(&self, row: &sqlx::any::AnyRow, account_sid: &str) -> Result<(), String> {
        let text = |c: &str| row.try_get::<String, _>(c).map_err(|e| e.to_string());
        let token = match self.store.account(account_sid).await {
            Ok(Some(account)) => account.auth_token,
            Ok(None) => return Err(format!("account {account_sid} is gone")),
            Err(e) => return Err(e.to_string()),
        };
        let url = text("url")?;
        let body = text("body")?;
        let result = if text("content_type")? == "application/json" {
            self.webhooks.send_json(&url, body, &token).await
        } else {
            let request = webhook::Request {
                url,
                method: webhook::Method::parse(Some(&text("method")?)),
                params: url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect(),
            };
            self.webhooks.send(&request, &token).await.map(|_| ())
        };
        result.map_err(|e| e.to_string())
    }

    /// Records a sink's failure; disables it (true) once it has failed for
    /// `disable_after` without a success.
    async fn sink_failed(
        &self,
        sink: &str,
        account_sid: &str,
        error: &str,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        sqlx::query("UPDATE sinks SET failing_since = $1 WHERE sid = $2 AND failing_since IS NULL")
            .bind(now)
            .bind(sink)
            .execute(self.store.pool())
            .await?;
        let since: Option<i64> = sqlx::query("SELECT failing_since FROM sinks WHERE sid = $1")
            .bind(sink)
            .fetch_optional(self.store.pool())
            .await?
            .map(|r| r.try_get("failing_since"))
            .transpose()?
            .flatten();
        let failing_for = now - since.unwrap_or(now);
        if failing_for < self.policy.disable_after.as_millis() as i64 {
            return Ok(false);
        }
        let undelivered: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE lane = $1")
            .bind(sink)
            .fetch_one(self.store.pool())
            .await?
            .try_get(0)?;
        let message = format!(
            "Sink {sink} was disabled: its deliveries failed for {} s (last error: {error}); {undelivered} undelivered requests were dropped",
            failing_for / 1000
        );
        tracing::warn!(%sink, %message, "sink disabled");
        let notification = Notification {
            sid: Sid::new(Kind::Notification).to_string(),
            account_sid: account_sid.to_owned(),
            call_sid: None,
            error_code: SINK_DISABLED_CODE.to_string(),
            log: "0".into(),
            message_text: message.clone(),
            more_info: format!("https://www.twilio.com/docs/errors/{SINK_DISABLED_CODE}"),
            request_method: Some("POST".into()),
            request_url: None,
            request_variables: None,
            response_body: None,
            date_created: now,
        };
        // Told first, then disabled: whoever sees it disabled finds the notification.
        self.store.insert_notification(&notification).await?;
        let mut tx = self.store.pool().begin().await?;
        sqlx::query("UPDATE sinks SET status = 'failed', date_updated = $1 WHERE sid = $2")
            .bind(now)
            .bind(sink)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM outbox WHERE lane = $1")
            .bind(sink)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.publisher
            .publish(Event {
                kind: NOTIFICATION_CREATED,
                account_sid: account_sid.to_owned(),
                call_sid: None,
                data: serde_json::json!({
                    "notification_sid": notification.sid,
                    "error_code": notification.error_code,
                    "log": notification.log,
                    "message": message,
                    "sink_sid": sink,
                }),
            })
            .await;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_instance_at_a_time_holds_a_lane_until_its_lease_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sb.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let now = 1_000_000;
        assert!(claim(&store, "DG1", "a", now).await.unwrap());
        assert!(!claim(&store, "DG1", "b", now + 1).await.unwrap());
        assert!(
            claim(&store, "DF1", "b", now).await.unwrap(),
            "lanes are independent"
        );
        assert!(claim(&store, "DG1", "a", now + 2).await.unwrap(), "renewed");
        let lapsed = now + 3 + LEASE.as_millis() as i64;
        assert!(
            claim(&store, "DG1", "b", lapsed).await.unwrap(),
            "taken over"
        );
        release(&store, "DG1", "a").await.unwrap();
        assert!(
            !claim(&store, "DG1", "a", lapsed).await.unwrap(),
            "not a's to give"
        );
        release(&store, "DG1", "b").await.unwrap();
        assert!(claim(&store, "DG1", "a", lapsed).await.unwrap());
        store.close().await;
    }

    #[test]
    fn retries_double_up_to_the_maximum() {
        let policy = RetryPolicy {
            retry_max: Duration::from_secs(5),
            disable_after: Duration::from_secs(60),
        };
        let delays: Vec<u128> = (1..=6).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000]);
    }
}
