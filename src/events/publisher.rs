//! The publisher: the one call the rest of Switchboard makes,
//! `events.publish(Event { … })`, and the task behind it that writes each
//! event to the SQL log with the outbox rows of the webhook sinks that
//! subscribed to it, in one transaction, before any live subscriber sees it.
//!
//! Call callbacks (StatusCallback, recordingStatusCallback …) take the same
//! path, so they are as durable as events and ordered with them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::bus::Bus;
use super::event::{Envelope, Event};
use super::outbox::{self, Delivery};
use crate::store::{now_millis, Store, StoreError};
use crate::webhook;

/// Work waiting to be persisted; beyond this, publishers wait (never drop).
const QUEUE: usize = 8192;
/// Items written per transaction.
const BATCH: usize = 512;

enum Outgoing {
    Event(Event),
    /// A webhook request about a call, delivered in order on its `lane`.
    Callback {
        account_sid: String,
        lane: String,
        request: webhook::Request,
    },
}

/// The handle every publisher holds, cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Outgoing>,
    bus: Bus,
}

impl Publisher {
    /// Publishes `event` to every subscriber that asked for it. Returns once
    /// it is queued for the log; waits only when the log falls far behind.
    pub async fn publish(&self, event: Event) {
        if self.tx.send(Outgoing::Event(event)).await.is_err() {
            tracing::error!("the event router is stopped: event lost");
        }
    }

    /// Delivers a signed webhook request about a call through the outbox:
    /// retried until it succeeds, in order with the call's other callbacks.
    pub async fn callback(&self, account_sid: &str, call_sid: &str, request: webhook::Request) {
        let item = Outgoing::Callback {
            account_sid: account_sid.to_owned(),
            lane: call_sid.to_owned(),
            request,
        };
        if self.tx.send(item).await.is_err() {
            tracing::error!(
                call = call_sid,
                "the event router is stopped: callback lost"
            );
        }
    }

    /// A media node's raw event, for the event socket.
    pub fn channel_event(&self, event: &esl::Event) {
        self.bus.channel_event(event);
    }
}

/// Starts the persisting task; once `stop` is cancelled it writes what is
/// queued and ends.
pub fn start(
    store: Store,
    bus: Bus,
    wake_outbox: Arc<Notify>,
    stop: CancellationToken,
) -> (Publisher, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let publisher = Publisher {
        tx,
        bus: bus.clone(),
    };
    let task = tokio::spawn(persist_loop(store, bus, wake_outbox, rx, stop));
    (publisher, task)
}

async fn persist_loop(
    store: Store,
    bus: Bus,
    wake_outbox: Arc<Notify>,
    mut rx: mpsc::Receiver<Outgoing>,
    stop: CancellationToken,
) {
    let mut owners = Owners::default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => n,
            // Stopping: take nothing new, write what is queued, then end.
            () = stop.cancelled(), if !rx.is_closed() => {
                rx.close();
                continue;
            }
        };
        if received == 0 {
            return;
        }
        let mut failures = 0u32;
        let envelopes = loop {
            match persist(&store, &mut owners, &batch).await {
                Ok(envelopes) => break envelopes,
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, failures, "cannot write events; retrying");
                    if rx.is_closed() && failures >= 5 {
                        tracing::error!(lost = batch.len(), "stopping: events not written");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(25))))
                        .await;
                }
            }
        };
        batch.clear();
        wake_outbox.notify_one();
        for envelope in envelopes {
            bus.send(Arc::new(envelope));
        }
    }
}

/// Each account's owner (accounts never change owner), to scope
/// subscriptions that include subaccounts.
#[derive(Default)]
struct Owners(HashMap<String, Option<String>>);

impl Owners {
    async fn of(&mut self, store: &Store, account_sid: &str) -> Result<Option<String>, StoreError> {
        if account_sid.is_empty() {
            return Ok(None);
        }
        if let Some(owner) = self.0.get(account_sid) {
            return Ok(owner.clone());
        }
        let owner = store.account(account_sid).await?.and_then(|a| a.owner_sid);
        self.0.insert(account_sid.to_owned(), owner.clone());
        Ok(owner)
    }
}

/// A webhook sink subscribed to some types of an account's events.
struct SinkRoute {
    sink_sid: String,
    account_sid: String,
    destination: String,
    types: Vec<String>,
}

/// Writes a batch in one transaction; returns the events as numbered.
async fn persist(
    store: &Store,
    owners: &mut Owners,
    batch: &[Outgoing],
) -> Result<Vec<Envelope>, StoreError> {
    let now = now_millis();
    // The webhook sinks of every account in the batch, read once per batch.
    let mut routes: HashMap<String, Vec<SinkRoute>> = HashMap::new();
    for item in batch {
        if let Outgoing::Event(event) = item {
            if event.account_sid.is_empty() || routes.contains_key(&event.account_sid) {
                continue;
            }
            let owner = owners.of(store, &event.account_sid).await?;
            let found = sink_routes(store, &event.account_sid, owner.as_deref()).await?;
            routes.insert(event.account_sid.clone(), found);
        }
    }
    let mut tx = store.pool().begin().await?;
    let mut envelopes = Vec::new();
    for item in batch {
        match item {
            Outgoing::Event(event) => {
                let owner = owners.of(store, &event.account_sid).await?;
                let data = event.data.to_string();
                let id: i64 = sqlx::query(
                    "INSERT INTO events (account_sid, owner_sid, call_sid, type, time, data)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&event.account_sid)
                .bind(&owner)
                .bind(&event.call_sid)
                .bind(event.kind)
                .bind(now)
                .bind(&data)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                let envelope = Envelope::new(
                    id,
                    event.kind.to_owned(),
                    event.account_sid.clone(),
                    owner,
                    event.call_sid.clone(),
                    now,
                    event.data.clone(),
                );
                for route in routes.get(&event.account_sid).into_iter().flatten() {
                    if !route.types.iter().any(|t| t == event.kind) {
                        continue;
                    }
                    // Twilio's Event Streams webhooks carry a JSON array of CloudEvents.
                    let delivery = Delivery {
                        lane: route.sink_sid.clone(),
                        account_sid: route.account_sid.clone(),
                        sink_sid: Some(route.sink_sid.clone()),
                        url: route.destination.clone(),
                        method: "POST".into(),
                        content_type: "application/json".into(),
                        body: format!("[{}]", envelope.json),
                    };
                    outbox::enqueue(&mut tx, &delivery, now).await?;
                }
                envelopes.push(envelope);
            }
            Outgoing::Callback {
                account_sid,
                lane,
                request,
            } => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&request.params)
                    .finish();
                let delivery = Delivery {
                    lane: lane.clone(),
                    account_sid: account_sid.clone(),
                    sink_sid: None,
                    url: request.url.clone(),
                    method: request.method.as_str().into(),
                    content_type: "application/x-www-form-urlencoded".into(),
                    body,
                };
                outbox::enqueue(&mut tx, &delivery, now).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(envelopes)
}

/// The active webhook sinks subscribed to `account_sid`'s events: its own,
/// and its owner's that include subaccounts.
async fn sink_routes(
    store: &Store,
    account_sid: &str,
    owner_sid: Option<&str>,
) -> Result<Vec<SinkRoute>, StoreError> {
    let rows = sqlx::query(
        "SELECT k.sid, k.account_sid, k.sink_configuration, e.type
         FROM subscriptions s
         JOIN sinks k ON k.sid = s.sink_sid
         JOIN subscribed_events e ON e.subscription_sid = s.sid
         WHERE k.status = 'active' AND k.sink_type = 'webhook'
           AND (s.account_sid = $1 OR (s.account_sid = $2 AND s.include_subaccounts = 1))
         ORDER BY k.sid",
    )
    .bind(account_sid)
    .bind(owner_sid.unwrap_or(""))
    .fetch_all(store.pool())
    .await?;
    let mut routes: Vec<SinkRoute> = Vec::new();
    for row in rows {
        let sid: String = row.try_get("sid")?;
        let kind: String = row.try_get("type")?;
        if let Some(route) = routes.iter_mut().find(|r| r.sink_sid == sid) {
            route.types.push(kind);
            continue;
        }
        let configuration: String = row.try_get("sink_configuration")?;
        let destination = serde_json::from_str::<Value>(&configuration)
            .ok()
            .and_then(|c| c["destination"].as_str().map(str::to_owned))
            .unwrap_or_default();
        routes.push(SinkRoute {
            sink_sid: sid,
            account_sid: row.try_get("account_sid")?,
            destination,
            types: vec![kind],
        });
    }
    Ok(routes)
}
