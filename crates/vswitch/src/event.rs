//! Switch events as FreeSWITCH lays them out: an ordered list of headers and an
//! optional body.
//!
//! Header order follows the fixtures recorded from FreeSWITCH 1.10.12: the core
//! block (`Event-Name`, `Core-UUID`, `FreeSWITCH-Hostname`, … `Event-Sequence`),
//! then the event's own leading headers (`Hangup-Cause`, `Bridge-A-Unique-ID`, …),
//! then the channel data (`Channel-*`, `Caller-*`, `variable_*`), then the event's
//! trailing headers (`Application`, `Playback-File-Path`, …). CUSTOM events put
//! `Event-Subclass` first. Serialising to the wire is the `esl` crate's job.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Local, TimeZone, Utc};

use crate::clock::Clock;

/// One event: ordered headers (a name may repeat, as in FreeSWITCH) and a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchEvent {
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl SwitchEvent {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Event-Name`.
    pub fn name(&self) -> &str {
        self.header("Event-Name").unwrap_or("")
    }

    /// `Event-Subclass` (CUSTOM events only).
    pub fn subclass(&self) -> Option<&str> {
        self.header("Event-Subclass")
    }

    /// Appends a header.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.push((name.into(), value.into()));
    }

    /// Appends several headers.
    pub fn extend<K: Into<String>, V: Into<String>>(
        &mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) {
        for (k, v) in headers {
            self.push(k, v);
        }
    }
}

/// Where an event says it came from: FreeSWITCH's `Event-Calling-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: &'static str,
    pub function: &'static str,
    pub line: u32,
}

/// Shorthand for an [`Origin`].
pub const fn origin(file: &'static str, function: &'static str, line: u32) -> Origin {
    Origin {
        file,
        function,
        line,
    }
}

/// The node identity every event carries, and the event sequence counter.
#[derive(Debug)]
pub struct EventSource {
    pub core_uuid: String,
    pub hostname: String,
    pub switchname: String,
    pub ipv4: String,
    pub ipv6: String,
    pub clock: Clock,
    sequence: AtomicU64,
}

impl EventSource {
    pub fn new(
        core_uuid: String,
        hostname: String,
        switchname: String,
        ipv4: String,
        ipv6: String,
        clock: Clock,
    ) -> Self {
        Self {
            core_uuid,
            hostname,
            switchname,
            ipv4,
            ipv6,
            clock,
            sequence: AtomicU64::new(1),
        }
    }

    /// A new event with the core header block. `subclass` makes it a CUSTOM
    /// event with `Event-Subclass` leading, as FreeSWITCH does.
    pub fn event(&self, name: &str, subclass: Option<&str>, at: Origin) -> SwitchEvent {
        let mut ev = SwitchEvent {
            headers: Vec::with_capacity(96),
            body: None,
        };
        if let Some(subclass) = subclass {
            ev.push("Event-Subclass", subclass);
        }
        self.stamp(&mut ev, name, at);
        ev
    }

    /// Appends the core header block to an event whose leading headers are
    /// already set (`sendevent` puts the client's headers first).
    pub fn stamp(&self, ev: &mut SwitchEvent, name: &str, at: Origin) {
        let now = self.clock.now_us();
        ev.push("Event-Name", name);
        ev.push("Core-UUID", self.core_uuid.as_str());
        ev.push("FreeSWITCH-Hostname", self.hostname.as_str());
        ev.push("FreeSWITCH-Switchname", self.switchname.as_str());
        ev.push("FreeSWITCH-IPv4", self.ipv4.as_str());
        ev.push("FreeSWITCH-IPv6", self.ipv6.as_str());
        ev.push("Event-Date-Local", local_stamp(now));
        ev.push("Event-Date-GMT", gmt_stamp(now));
        ev.push("Event-Date-Timestamp", now.to_string());
        ev.push("Event-Calling-File", at.file);
        ev.push("Event-Calling-Function", at.function);
        ev.push("Event-Calling-Line-Number", at.line.to_string());
        ev.push("Event-Sequence", self.next_sequence().to_string());
    }

    fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }
}

/// `2026-11-24 10:21:38`: FreeSWITCH's local time stamp (`Event-Date-Local`,
/// `variable_start_stamp`).
pub fn local_stamp(us: i64) -> String {
    match Local.timestamp_micros(us) {
        chrono::LocalResult::Single(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => String::new(),
    }
}

/// `2026-11-24 10:21:57.101046`: the time stamp of log lines.
pub fn local_stamp_micros(us: i64) -> String {
    match Local.timestamp_micros(us) {
        chrono::LocalResult::Single(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        _ => String::new(),
    }
}

/// `Tue, 24 Nov 2026 10:21:38 GMT`: `Event-Date-GMT`.
pub fn gmt_stamp(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> EventSource {
        EventSource::new(
            "core".into(),
            "vm".into(),
            "vm".into(),
            "192.0.2.2".into(),
            "fd00::2".into(),
            Clock::new(1.0),
        )
    }

    #[test]
    fn the_core_block_comes_in_freeswitch_order() {
        let ev = source().event(
            "HEARTBEAT",
            None,
            origin("switch_core.c", "send_heartbeat", 95),
        );
        let names: Vec<&str> = ev.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Event-Name",
                "Core-UUID",
                "FreeSWITCH-Hostname",
                "FreeSWITCH-Switchname",
                "FreeSWITCH-IPv4",
                "FreeSWITCH-IPv6",
                "Event-Date-Local",
                "Event-Date-GMT",
                "Event-Date-Timestamp",
                "Event-Calling-File",
                "Event-Calling-Function",
                "Event-Calling-Line-Number",
                "Event-Sequence"
            ]
        );
    }

    #[test]
    fn custom_events_lead_with_their_subclass_and_sequence_numbers_grow() {
        let src = source();
        let a = src.event(
            "CUSTOM",
            Some("conference::maintenance"),
            origin("f", "g", 1),
        );
        let b = src.event(
            "CUSTOM",
            Some("conference::maintenance"),
            origin("f", "g", 1),
        );
        assert_eq!(
            a.headers[0],
            ("Event-Subclass".into(), "conference::maintenance".into())
        );
        assert_eq!(a.headers[1].1, "CUSTOM");
        let seq = |e: &SwitchEvent| e.header("Event-Sequence").unwrap().parse::<u64>().unwrap();
        assert_eq!(seq(&b), seq(&a) + 1);
    }

    #[test]
    fn gmt_stamps_match_the_fixture_layout() {
        assert_eq!(
            gmt_stamp(1_795_515_698_201_078),
            "Tue, 24 Nov 2026 10:21:38 GMT"
        );
    }
}
