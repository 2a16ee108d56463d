//! The event bus: fans switch events out to the ESL connections listening.
//!
//! Each listener owns a bounded queue. As in `mod_event_socket`, a listener
//! that does not drain its queue loses events rather than stalling the switch.
//! Events are only built when someone listens for them (see [`Bus::wants`]),
//! which keeps a busy switch with no listeners cheap.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use crate::event::SwitchEvent;

/// How many events a listener may have queued before new ones are dropped
/// (`MAX_QUEUE_LEN` in mod_event_socket.c).
pub const LISTENER_QUEUE: usize = 100_000;

/// The event names and CUSTOM subclasses one listener subscribed to.
#[derive(Debug, Default, Clone)]
pub struct Interest {
    pub all: bool,
    pub names: HashSet<String>,
    pub subclasses: HashSet<String>,
}

impl Interest {
    pub fn matches(&self, name: &str, subclass: Option<&str>) -> bool {
        if self.all {
            return true;
        }
        if name == "CUSTOM" {
            return match subclass {
                Some(s) => {
                    self.subclasses.contains(s)
                        || self.names.contains("CUSTOM") && self.subclasses.is_empty()
                }
                None => self.names.contains("CUSTOM"),
            };
        }
        self.names.contains(name)
    }

    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty() && self.subclasses.is_empty()
    }
}

/// One subscriber: usually an ESL connection.
#[derive(Debug)]
pub struct Listener {
    pub id: u64,
    pub interest: Mutex<Interest>,
    tx: mpsc::Sender<Arc<SwitchEvent>>,
    pub dropped: AtomicU64,
}

/// The switch's event bus.
#[derive(Debug, Default)]
pub struct Bus {
    listeners: RwLock<Vec<Arc<Listener>>>,
    next_id: AtomicU64,
}

impl Bus {
    /// Registers a listener; events arrive on the returned receiver.
    pub fn subscribe(&self) -> (Arc<Listener>, mpsc::Receiver<Arc<SwitchEvent>>) {
        let (tx, rx) = mpsc::channel(LISTENER_QUEUE);
        let listener = Arc::new(Listener {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            interest: Mutex::new(Interest::default()),
            tx,
            dropped: AtomicU64::new(0),
        });
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener.clone());
        (listener, rx)
    }

    pub fn unsubscribe(&self, id: u64) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|l| l.id != id);
    }

    /// Whether any listener wants this event: callers skip building it if not.
    pub fn wants(&self, name: &str, subclass: Option<&str>) -> bool {
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner());
        listeners.iter().any(|l| {
            l.interest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .matches(name, subclass)
        })
    }

    /// Delivers an event to every listener subscribed to it.
    pub fn publish(&self, event: SwitchEvent) {
        let event = Arc::new(event);
        let name = event.name();
        let subclass = event.subclass();
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner());
        for l in listeners.iter() {
            if !l
                .interest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .matches(name, subclass)
            {
                continue;
            }
            if l.tx.try_send(event.clone()).is_err() {
                l.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> SwitchEvent {
        let mut ev = SwitchEvent::default();
        ev.push("Event-Name", name);
        ev
    }

    #[test]
    fn a_listener_receives_only_what_it_subscribed_to() {
        let bus = Bus::default();
        let (l, mut rx) = bus.subscribe();
        assert!(!bus.wants("CHANNEL_CREATE", None));
        l.interest
            .lock()
            .unwrap()
            .names
            .insert("CHANNEL_CREATE".into());
        assert!(bus.wants("CHANNEL_CREATE", None));
        bus.publish(named("CHANNEL_ANSWER"));
        bus.publish(named("CHANNEL_CREATE"));
        assert_eq!(rx.try_recv().unwrap().name(), "CHANNEL_CREATE");
        assert!(rx.try_recv().is_err());
        bus.unsubscribe(l.id);
        assert!(!bus.wants("CHANNEL_CREATE", None));
    }

    #[test]
    fn custom_subclasses_are_matched_by_subclass() {
        let mut i = Interest::default();
        i.subclasses.insert("conference::maintenance".into());
        assert!(i.matches("CUSTOM", Some("conference::maintenance")));
        assert!(!i.matches("CUSTOM", Some("esl::fixture")));
        i.all = true;
        assert!(i.matches("CUSTOM", Some("esl::fixture")));
    }
}
