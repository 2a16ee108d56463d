//! The live fan-out: every persisted event goes to every live subscriber
//! (stream, WebSocket, event socket), each keeping what its filter selects.
//! A subscriber that resumes, or falls behind the broadcast, catches up
//! from the SQL log, so it sees every event in id order exactly once.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use sqlx::Row;
use tokio::sync::broadcast;

use super::event::Envelope;
use crate::store::{Store, StoreError};

/// Events kept for live subscribers; one further behind catches up from SQL.
const LIVE_CAPACITY: usize = 4096;
/// Rows read from the log per catch-up query.
const REPLAY_BATCH: i64 = 1000;

/// A raw FreeSWITCH event of a call, for the event socket: its account and the event.
pub type ChannelEvent = Arc<(String, esl::Event)>;

/// The broadcast channels, cheap to clone.
#[derive(Clone)]
pub struct Bus {
    live: broadcast::Sender<Arc<Envelope>>,
    channel: broadcast::Sender<ChannelEvent>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            live: broadcast::channel(LIVE_CAPACITY).0,
            channel: broadcast::channel(LIVE_CAPACITY).0,
        }
    }
}

impl Bus {
    pub fn send(&self, envelope: Arc<Envelope>) {
        // No receiver is fine: nobody is listening live.
        let _ = self.live.send(envelope);
    }

    /// Hands a media node's event to the event socket's listeners, if it
    /// names a tenant and anyone listens: costs nothing otherwise.
    pub fn channel_event(&self, event: &esl::Event) {
        if self.channel.receiver_count() == 0 {
            return;
        }
        if let Some(account) = event.variable("sb_account_sid") {
            let _ = self
                .channel
                .send(Arc::new((account.into_owned(), event.clone())));
        }
    }

    pub fn channel_events(&self) -> broadcast::Receiver<ChannelEvent> {
        self.channel.subscribe()
    }

    /// A subscription from now on, or after `last_id` (resuming).
    pub async fn subscribe(
        &self,
        store: Store,
        filter: Filter,
        last_id: Option<i64>,
    ) -> Result<Subscription, StoreError> {
        // Subscribe before reading the log, so nothing falls between the two.
        let rx = self.live.subscribe();
        let mut subscription = Subscription {
            rx,
            filter,
            store,
            last_id: last_id.unwrap_or(0),
            backlog: VecDeque::new(),
            lagged: false,
        };
        if last_id.is_some() {
            subscription.replay().await?;
        }
        Ok(subscription)
    }
}

/// Which events a subscriber receives: one account's (optionally with its
/// subaccounts'), of some types or all.
#[derive(Debug, Clone)]
pub struct Filter {
    pub account_sid: String,
    pub include_subaccounts: bool,
    /// `None` is every type.
    pub types: Option<HashSet<String>>,
}

impl Filter {
    pub fn matches(&self, e: &Envelope) -> bool {
        let account = !e.account_sid.is_empty()
            && (e.account_sid == self.account_sid
                || (self.include_subaccounts
                    && e.owner_sid.as_deref() == Some(self.account_sid.as_str())));
        account && self.types.as_ref().is_none_or(|t| t.contains(&e.kind))
    }
}

/// One subscriber's events, in id order.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Envelope>>,
    pub filter: Filter,
    store: Store,
    /// The last event handed out (or skipped by the filter).
    last_id: i64,
    backlog: VecDeque<Arc<Envelope>>,
    /// The broadcast overtook this subscriber: catch up from the log first.
    lagged: bool,
}

impl Subscription {
    /// The next event already at hand, without waiting: lets a stream write
    /// a burst in one go.
    pub fn try_next(&mut self) -> Option<Arc<Envelope>> {
        loop {
            if let Some(envelope) = self.backlog.pop_front() {
                self.last_id = envelope.id;
                return Some(envelope);
            }
            if self.lagged {
                return None;
            }
            match self.rx.try_recv() {
                Ok(envelope) => {
                    if envelope.id > self.last_id && self.filter.matches(&envelope) {
                        self.last_id = envelope.id;
                        return Some(envelope);
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    self.lagged = true;
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// The next event the filter selects; `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Arc<Envelope>> {
        loop {
            if let Some(envelope) = self.backlog.pop_front() {
                self.last_id = envelope.id;
                return Some(envelope);
            }
            if std::mem::take(&mut self.lagged) {
                if let Err(e) = self.replay().await {
                    tracing::error!(error = %e, "a lagging subscriber cannot catch up");
                    return None;
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(envelope) => {
                    if envelope.id <= self.last_id {
                        continue;
                    }
                    if !self.filter.matches(&envelope) {
                        continue;
                    }
                    self.last_id = envelope.id;
                    return Some(envelope);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Err(e) = self.replay().await {
                        tracing::error!(error = %e, "a lagging subscriber cannot catch up");
                        return None;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Reads the log after `last_id` into the backlog.
    async fn replay(&mut self) -> Result<(), StoreError> {
        let mut after = self.last_id;
        loop {
            let rows = replay(&self.store, &self.filter, after, REPLAY_BATCH).await?;
            let done = (rows.len() as i64) < REPLAY_BATCH;
            if let Some(last) = rows.last() {
                after = last.id;
            }
            self.backlog.extend(
                rows.into_iter()
                    .filter(|e| self.filter.matches(e))
                    .map(Arc::new),
            );
            if done {
                return Ok(());
            }
        }
    }
}

/// The log's events after `after` for `filter`'s accounts, oldest first.
pub async fn replay(
    store: &Store,
    filter: &Filter,
    after: i64,
    limit: i64,
) -> Result<Vec<Envelope>, StoreError> {
    let scope = if filter.include_subaccounts {
        "(account_sid = $1 OR owner_sid = $1)"
    } else {
        "account_sid = $1"
    };
    let rows = sqlx::query(&format!(
        "SELECT id, account_sid, owner_sid, call_sid, type, time, data FROM events
         WHERE {scope} AND id > $2 ORDER BY id LIMIT {limit}"
    ))
    .bind(&filter.account_sid)
    .bind(after)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let data: String = row.try_get("data")?;
            Ok(Envelope::new(
                row.try_get("id")?,
                row.try_get("type")?,
                row.try_get("account_sid")?,
                row.try_get("owner_sid")?,
                row.try_get("call_sid")?,
                row.try_get("time")?,
                serde_json::from_str(&data).unwrap_or_default(),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(account: &str, owner: Option<&str>, kind: &str) -> Envelope {
        Envelope::new(
            1,
            kind.into(),
            account.into(),
            owner.map(str::to_owned),
            None,
            0,
            serde_json::json!({}),
        )
    }

    #[test]
    fn a_filter_keeps_its_account_and_types_only() {
        let mut filter = Filter {
            account_sid: "AC1".into(),
            include_subaccounts: false,
            types: None,
        };
        assert!(filter.matches(&envelope("AC1", None, "call.answered")));
        assert!(!filter.matches(&envelope("AC2", None, "call.answered")));
        assert!(!filter.matches(&envelope("AC3", Some("AC1"), "call.answered")));
        // An event no account owns reaches nobody.
        assert!(!filter.matches(&envelope("", None, "call.rejected")));
        filter.include_subaccounts = true;
        assert!(filter.matches(&envelope("AC3", Some("AC1"), "call.answered")));
        assert!(!filter.matches(&envelope("AC4", Some("AC2"), "call.answered")));
        filter.types = Some(HashSet::from(["call.completed".to_owned()]));
        assert!(!filter.matches(&envelope("AC1", None, "call.answered")));
        assert!(filter.matches(&envelope("AC1", None, "call.completed")));
    }
}
