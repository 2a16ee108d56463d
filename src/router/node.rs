//! One media node: an inbound ESL connection, and the dispatcher that hands
//! each channel's events to the call that owns the channel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use esl::{Client, ClientConfig, Event, EventStream, Incoming};
use tokio::sync::{mpsc, Notify};

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

/// A call's queue of its channels' events: bounded, and allocated only as it
/// fills (a tokio channel allocates 32 slots up front, 4 KiB of events per
/// call that mostly waits).
#[derive(Clone, Default)]
pub struct Mailbox {
    inner: Arc<MailboxInner>,
}

#[derive(Default)]
struct MailboxInner {
    queue: Mutex<VecDeque<Event>>,
    ready: Notify,
}

impl Mailbox {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        self.inner.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an event unless the call is this far behind (the event is given back).
    pub fn try_send(&self, event: Event) -> Result<(), Event> {
        {
            let mut queue = self.queue();
            if queue.len() >= CALL_EVENT_CAPACITY {
                return Err(event);
            }
            queue.push_back(event);
        }
        self.inner.ready.notify_one();
        Ok(())
    }

    /// The next event. Cancel-safe: an event is only taken when returned.
    pub async fn recv(&self) -> Event {
        loop {
            if let Some(event) = self.queue().pop_front() {
                return event;
            }
            self.inner.ready.notified().await;
        }
    }
}

/// A connected media node.
pub struct Node {
    /// How the node is named in logs and in a call's `node` column.
    pub name: String,
    pub client: Client,
    channels: Mutex<HashMap<String, Mailbox>>,
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

    /// Routes the events of `uuid` (a call's channel, or a leg it dialled)
    /// to the call's mailbox until [`Node::release`].
    pub fn claim_into(&self, uuid: &str, mailbox: Mailbox) {
        self.lock().insert(uuid.to_owned(), mailbox);
    }

    pub fn release(&self, uuid: &str) {
        self.lock().remove(uuid);
    }

    /// How many channels calls own on this node now.
    pub fn load(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Mailbox>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the node's events until the connection ends for good: owned
    /// channels' events go to their call; a channel parked without a call is
    /// handed to `parked`; every event is offered to the event socket. Never
    /// blocks on a call, so replies keep flowing.
    pub async fn dispatch(
        self: Arc<Self>,
        mut events: EventStream,
        parked: mpsc::Sender<Parked>,
        publisher: crate::events::Publisher,
    ) {
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
            // The event socket's listeners see their own channels' events.
            publisher.channel_event(&event);
            let owner = self.lock().get(&uuid).cloned();
            let name = event.event_name();
            let unclaimed_park =
                name.as_deref() == Some("CHANNEL_PARK") && event.variable("sb_call_sid").is_none();
            drop(name);
            if let Some(mailbox) = owner {
                if let Err(event) = mailbox.try_send(event) {
                    tracing::error!(node = %self.name, %uuid, event = ?event.event_name(), "call not draining its events; event dropped");
                }
            } else if unclaimed_park && parked.send((self.clone(), event)).await.is_err() {
                return;
            }
        }
    }
}
