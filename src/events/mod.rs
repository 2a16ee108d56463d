//! The event router: everything the call router does becomes an [`Event`],
//! published once and delivered to every subscriber that asked for it.
//!
//! ```text
//! router ── publish(Event) ──▶ publisher ──▶ SQL: events log + outbox rows (one transaction)
//!                                  │                         │
//!                                  ▼                         ▼
//!                   bus (live) ─▶ stream / WebSocket /   outbox worker ─▶ webhook sinks,
//!                                 event socket (ESL)                      call callbacks
//! ```
//!
//! Publishers hold a [`Publisher`] (cheap to clone) and call
//! `publisher.publish(Event { kind, account_sid, call_sid, data }).await`
//! with a type constant of [`event`] (e.g. [`event::CONFERENCE_PARTICIPANT_JOINED`]).

pub mod api;
pub mod bus;
pub mod event;
pub mod outbox;
pub mod publisher;
pub mod socket;
pub mod stream;

pub use bus::{Bus, Filter, Subscription};
pub use event::{Envelope, Event};
pub use publisher::Publisher;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::{now_millis, Store};
use crate::webhook::Webhooks;

/// The event router's settings.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Where the ESL-compatible event socket listens; `None` turns it off.
    pub socket: Option<SocketAddr>,
    /// The longest wait between two delivery attempts.
    pub retry_max: Duration,
    /// A webhook sink failing this long is disabled.
    pub sink_disable_after: Duration,
    /// How long the log keeps events for streams to resume from.
    pub retention: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            socket: Some(SocketAddr::from(([127, 0, 0, 1], 8022))),
            retry_max: Duration::from_secs(60),
            // Twilio's Event Streams retries for up to four hours.
            sink_disable_after: Duration::from_secs(4 * 3600),
            retention: Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the event socket cannot listen on {addr}: {source}")]
pub struct SocketError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// The running event router.
pub struct Events {
    pub publisher: Publisher,
    pub bus: Bus,
    pub store: Store,
    socket_addr: Option<SocketAddr>,
    token: CancellationToken,
    /// Cancelled when the HTTP server starts draining: live streams end.
    streams: CancellationToken,
    /// Cancelled after the publisher's queue is written.
    worker_token: CancellationToken,
    tracker: TaskTracker,
    persister: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Events {
    /// Starts the publisher, the outbox worker, the log's pruning and the event socket.
    pub async fn start(
        store: Store,
        webhooks: Webhooks,
        config: &EventsConfig,
    ) -> Result<Events, SocketError> {
        let bus = Bus::default();
        let wake = Arc::new(tokio::sync::Notify::new());
        let token = CancellationToken::new();
        let (publisher, persister) =
            publisher::start(store.clone(), bus.clone(), wake.clone(), token.clone());
        let tracker = TaskTracker::new();
        let worker_token = CancellationToken::new();
        let worker = outbox::Worker::new(
            store.clone(),
            webhooks,
            outbox::RetryPolicy {
                retry_max: config.retry_max,
                disable_after: config.sink_disable_after,
            },
            publisher.clone(),
            wake,
        );
        tracker.spawn(worker.run(worker_token.clone()));
        tracker.spawn(prune(store.clone(), config.retention, token.clone()));
        let socket_addr = match config.socket {
            None => None,
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| SocketError { addr, source })?;
                let local = listener.local_addr().ok();
                let server = socket::Server {
                    store: store.clone(),
                    bus: bus.clone(),
                    tracker: tracker.clone(),
                    token: token.clone(),
                };
                tracker.spawn(server.run(listener));
                tracing::info!(addr = ?local, "event socket listening");
                local
            }
        };
        Ok(Events {
            publisher,
            bus,
            store,
            socket_addr,
            token,
            streams: CancellationToken::new(),
            worker_token,
            tracker,
            persister: Mutex::new(Some(persister)),
        })
    }

    /// Where the event socket listens, if it does.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.socket_addr
    }

    /// Ends every live stream, so a draining HTTP server need not wait for them.
    pub fn close_streams(&self) {
        self.streams.cancel();
    }

    /// Cancelled once live streams must end.
    pub fn streams_closed(&self) -> CancellationToken {
        self.streams.clone()
    }

    /// A live subscription (after `last_id` when resuming).
    pub async fn subscribe(
        &self,
        filter: Filter,
        last_id: Option<i64>,
    ) -> Result<Subscription, crate::store::StoreError> {
        self.bus
            .subscribe(self.store.clone(), filter, last_id)
            .await
    }

    /// Writes what is queued, then stops delivering and listening. What is
    /// not delivered yet stays in the outbox for the next start.
    pub async fn shutdown(&self) {
        self.streams.cancel();
        self.token.cancel();
        let persister = self
            .persister
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(persister) = persister {
            let _ = persister.await;
        }
        self.worker_token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Deletes events older than `retention` from the log, once a minute.
async fn prune(store: Store, retention: Duration, token: CancellationToken) {
    loop {
        let cutoff = now_millis() - retention.as_millis() as i64;
        if let Err(e) = sqlx::query("DELETE FROM events WHERE time < $1")
            .bind(cutoff)
            .execute(store.pool())
            .await
        {
            tracing::warn!(error = %e, "cannot prune the event log");
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}
