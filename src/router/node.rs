//! One media node: an inbound ESL connection, and the dispatcher that hands
//! each channel's events to the call that owns the channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use esl::{Client, ClientConfig, Event, EventStream, Incoming};
use tokio::sync::mpsc;

/// The events a call needs to follow its channels. BACKGROUND_JOB and
/// CHANNEL_EXECUTE_COMPLETE are subscribed by the ESL client itself.
const EVENTS: [&str; 11] = [
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "DTMF",
    "RECORD_STOP",
];

/// Events queued for one call; a call that falls this far behind is stuck.
const CALL_EVENT_CAPACITY: usize = 1024;

/// A connected media node.
pub struct Node {
    /// How the node is named in logs and in a call's `node` column.
    pub name: String,
    pub client: Client,
    channels: Mutex<HashMap<String, mpsc::Sender<Event>>>,
}

/// A channel parked by the node's dialplan that no call owns yet: an inbound call.
pub type Parked = (Arc<Node>, Event);

impl Node {
    /// Connects and authenticates; events flow once [`Node::dispatch`] runs.
    pub async fn connect(
        name: String,
        addr: String,
        password: String,
    ) -> Result<(Arc<Node>, EventStream), esl::Error> {
        let mut config = ClientConfig::new(addr, password);
        config.events = EVENTS.iter().map(|e| e.to_string()).collect();
        let (client, events) = Client::connect(config).await?;
        let node = Arc::new(Node {
            name,
            client,
            channels: Mutex::new(HashMap::new()),
        });
        Ok((node, events))
    }

    /// Routes the events of `uuid` to a new receiver until [`Node::release`].
    pub fn claim(&self, uuid: &str) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel(CALL_EVENT_CAPACITY);
        self.claim_into(uuid, tx);
        rx
    }

    /// Routes the events of another channel (a dialled leg) to the same call.
    pub fn claim_into(&self, uuid: &str, tx: mpsc::Sender<Event>) {
        self.lock().insert(uuid.to_owned(), tx);
    }

    pub fn release(&self, uuid: &str) {
        self.lock().remove(uuid);
    }

    /// How many channels calls own on this node now.
    pub fn load(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<Event>>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the node's events until the connection ends for good: owned
    /// channels' events go to their call; a channel parked without a call is
    /// handed to `parked`. Never blocks on a call, so replies keep flowing.
    pub async fn dispatch(self: Arc<Self>, mut events: EventStream, parked: mpsc::Sender<Parked>) {
        while let Some(incoming) = events.recv().await {
            let event = match incoming {
                Incoming::Event(event) => event,
                Incoming::Disconnected { reason } => {
                    tracing::warn!(node = %self.name, %reason, "media node connection lost; reconnecting");
                    continue;
                }
                Incoming::Reconnected => {
                    tracing::info!(node = %self.name, "media node connection restored");
                    continue;
                }
                _ => continue,
            };
            let Some(uuid) = event.unique_id().map(|u| u.into_owned()) else {
                continue;
            };
            tracing::trace!(node = %self.name, %uuid, event = ?event.event_name(), "event");
            let owner = self.lock().get(&uuid).cloned();
            let name = event.event_name();
            let unclaimed_park =
                name.as_deref() == Some("CHANNEL_PARK") && event.variable("sb_call_sid").is_none();
            drop(name);
            if let Some(tx) = owner {
                if let Err(mpsc::error::TrySendError::Full(event)) = tx.try_send(event) {
                    tracing::error!(node = %self.name, %uuid, event = ?event.event_name(), "call not draining its events; event dropped");
                }
            } else if unclaimed_park && parked.send((self.clone(), event)).await.is_err() {
                return;
            }
        }
    }
}
