//! The event bus: fans switch events out to the ESL connections listening.
//!
//! Each listener owns a bounded queue. As in `mod_event_socket`, a listener
//! that does not drain its queue loses events rather than stalling the switch.
//! Events are only built when someone listens for them (see [`Bus::wants`]),
//! which keeps a busy switch with no listeners cheap. Log lines (`log <level>`)
//! travel the same queues.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use crate::event::{local_stamp_micros, Origin, SwitchEvent};

/// One log line as mod_event_socket sends it in a `log/data` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// 0 console … 7 debug.
    pub level: u8,
    /// `Text-Channel`: 0 log, 1 console (bare text), 3 session.
    pub text_channel: u8,
    pub at: Origin,
    /// The Channel's UUID (`User-Data`), or empty.
    pub uuid: String,
    /// The formatted line, ending in `\n`.
    pub text: String,
}

impl LogLine {
    /// A line with FreeSWITCH's prefix: `<time> <cpu>% [LEVEL] file:line text`.
    pub fn new(
        level: u8,
        text_channel: u8,
        at: Origin,
        uuid: &str,
        now_us: i64,
        text: &str,
    ) -> Self {
        let text = if text_channel == 1 {
            format!("{text}\n")
        } else {
            format!(
                "{} 0.00% [{}] {}:{} {text}\n",
                local_stamp_micros(now_us),
                level_name(level),
                at.file,
                at.line
            )
        };
        Self {
            level,
            text_channel,
            at,
            uuid: uuid.to_owned(),
            text,
        }
    }
}

fn level_name(level: u8) -> &'static str {
    match level {
        0 => "CONSOLE",
        1 => "ALERT",
        2 => "CRIT",
        3 => "ERR",
        4 => "WARNING",
        5 => "NOTICE",
        6 => "INFO",
        _ => "DEBUG",
    }
}

/// What a listener receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<SwitchEvent>),
    Log(Arc<LogLine>),
}

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
}

/// One subscriber: usually an ESL connection.
#[derive(Debug)]
pub struct Listener {
    pub id: u64,
    pub interest: Mutex<Interest>,
    /// The most verbose log level wanted (`log <level>`), or -1 for none.
    pub log_level: AtomicI8,
    tx: mpsc::Sender<Delivery>,
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
    pub fn subscribe(&self) -> (Arc<Listener>, mpsc::Receiver<Delivery>) {
        let (tx, rx) = mpsc::channel(LISTENER_QUEUE);
        let listener = Arc::new(Listener {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            interest: Mutex::new(Interest::default()),
            log_level: AtomicI8::new(-1),
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
            if l.tx.try_send(Delivery::Event(event.clone())).is_err() {
                l.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether any listener logs at this level.
    pub fn wants_log(&self, level: u8) -> bool {
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner());
        listeners
            .iter()
            .any(|l| l.log_level.load(Ordering::Relaxed) >= level as i8)
    }

    /// Delivers a log line to every listener logging at its level.
    pub fn publish_log(&self, line: LogLine) {
        let line = Arc::new(line);
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner());
        for l in listeners.iter() {
            if l.log_level.load(Ordering::Relaxed) >= line.level as i8
                && l.tx.try_send(Delivery::Log(line.clone())).is_err()
            {
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
        match rx.try_recv().unwrap() {
            Delivery::Event(ev) => assert_eq!(ev.name(), "CHANNEL_CREATE"),
            other => panic!("expected an event, got {other:?}"),
        }
        assert!(rx.try_recv().is_err());
        bus.unsubscribe(l.id);
        assert!(!bus.wants("CHANNEL_CREATE", None));
    }

    #[test]
    fn log_lines_reach_listeners_logging_at_their_level() {
        let bus = Bus::default();
        let (l, mut rx) = bus.subscribe();
        let at = crate::event::origin("switch_channel.c", "switch_channel_set_name", 1142);
        assert!(!bus.wants_log(5));
        l.log_level.store(5, Ordering::Relaxed);
        assert!(bus.wants_log(5) && !bus.wants_log(6));
        bus.publish_log(LogLine::new(6, 3, at, "u", 0, "too verbose"));
        bus.publish_log(LogLine::new(5, 3, at, "u", 0, "New Channel x [u]"));
        match rx.try_recv().unwrap() {
            Delivery::Log(line) => {
                assert!(
                    line.text
                        .contains("[NOTICE] switch_channel.c:1142 New Channel x [u]\n"),
                    "{}",
                    line.text
                )
            }
            other => panic!("expected a log line, got {other:?}"),
        }
        assert!(rx.try_recv().is_err());
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
