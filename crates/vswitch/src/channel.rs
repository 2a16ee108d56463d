//! The channel model: a Channel's state machine, caller profile, variables and
//! hangup causes, and the channel-data header block every channel event carries.
//!
//! States and their numbers follow `switch_types.h` (`CS_NEW` = 0 …
//! `CS_DESTROY` = 12); call states follow `switch_channel_callstate_t`.

use std::fmt;

use crate::event::{local_stamp, SwitchEvent};

/// `switch_channel_state_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    New,
    Init,
    Routing,
    SoftExecute,
    Execute,
    ExchangeMedia,
    Park,
    ConsumeMedia,
    Hibernate,
    Reset,
    Hangup,
    Reporting,
    Destroy,
    None,
}

impl ChannelState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "CS_NEW",
            Self::Init => "CS_INIT",
            Self::Routing => "CS_ROUTING",
            Self::SoftExecute => "CS_SOFT_EXECUTE",
            Self::Execute => "CS_EXECUTE",
            Self::ExchangeMedia => "CS_EXCHANGE_MEDIA",
            Self::Park => "CS_PARK",
            Self::ConsumeMedia => "CS_CONSUME_MEDIA",
            Self::Hibernate => "CS_HIBERNATE",
            Self::Reset => "CS_RESET",
            Self::Hangup => "CS_HANGUP",
            Self::Reporting => "CS_REPORTING",
            Self::Destroy => "CS_DESTROY",
            Self::None => "CS_NONE",
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Self::New => 0,
            Self::Init => 1,
            Self::Routing => 2,
            Self::SoftExecute => 3,
            Self::Execute => 4,
            Self::ExchangeMedia => 5,
            Self::Park => 6,
            Self::ConsumeMedia => 7,
            Self::Hibernate => 8,
            Self::Reset => 9,
            Self::Hangup => 10,
            Self::Reporting => 11,
            Self::Destroy => 12,
            Self::None => 13,
        }
    }
}

/// `switch_channel_callstate_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Down,
    Dialing,
    Ringing,
    Early,
    Active,
    Held,
    RingWait,
    Hangup,
    Unheld,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Down => "DOWN",
            Self::Dialing => "DIALING",
            Self::Ringing => "RINGING",
            Self::Early => "EARLY",
            Self::Active => "ACTIVE",
            Self::Held => "HELD",
            Self::RingWait => "RING_WAIT",
            Self::Hangup => "HANGUP",
            Self::Unheld => "UNHELD",
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Self::Down => 0,
            Self::Dialing => 1,
            Self::Ringing => 2,
            Self::Early => 3,
            Self::Active => 4,
            Self::Held => 5,
            Self::RingWait => 6,
            Self::Hangup => 7,
            Self::Unheld => 8,
        }
    }
}

/// `Call-Direction` / `Caller-Direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// Q.850 hangup causes with FreeSWITCH's names (`switch_channel.c`'s CAUSE_CHART).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HangupCause {
    None,
    UnallocatedNumber,
    NoRouteDestination,
    NormalClearing,
    UserBusy,
    NoUserResponse,
    NoAnswer,
    SubscriberAbsent,
    CallRejected,
    NumberChanged,
    DestinationOutOfOrder,
    InvalidNumberFormat,
    NormalUnspecified,
    NormalCircuitCongestion,
    NetworkOutOfOrder,
    NormalTemporaryFailure,
    ServiceUnavailable,
    IncompatibleDestination,
    RecoveryOnTimerExpire,
    OriginatorCancel,
    ChanNotImplemented,
    SwitchCongestion,
    SystemShutdown,
    LoseRace,
    ManagerRequest,
    AllottedTimeout,
    MediaTimeout,
}

const CAUSES: &[(HangupCause, &str, u16)] = &[
    (HangupCause::None, "NONE", 0),
    (HangupCause::UnallocatedNumber, "UNALLOCATED_NUMBER", 1),
    (HangupCause::NoRouteDestination, "NO_ROUTE_DESTINATION", 3),
    (HangupCause::NormalClearing, "NORMAL_CLEARING", 16),
    (HangupCause::UserBusy, "USER_BUSY", 17),
    (HangupCause::NoUserResponse, "NO_USER_RESPONSE", 18),
    (HangupCause::NoAnswer, "NO_ANSWER", 19),
    (HangupCause::SubscriberAbsent, "SUBSCRIBER_ABSENT", 20),
    (HangupCause::CallRejected, "CALL_REJECTED", 21),
    (HangupCause::NumberChanged, "NUMBER_CHANGED", 22),
    (
        HangupCause::DestinationOutOfOrder,
        "DESTINATION_OUT_OF_ORDER",
        27,
    ),
    (
        HangupCause::InvalidNumberFormat,
        "INVALID_NUMBER_FORMAT",
        28,
    ),
    (HangupCause::NormalUnspecified, "NORMAL_UNSPECIFIED", 31),
    (
        HangupCause::NormalCircuitCongestion,
        "NORMAL_CIRCUIT_CONGESTION",
        34,
    ),
    (HangupCause::NetworkOutOfOrder, "NETWORK_OUT_OF_ORDER", 38),
    (
        HangupCause::NormalTemporaryFailure,
        "NORMAL_TEMPORARY_FAILURE",
        41,
    ),
    (HangupCause::ServiceUnavailable, "SERVICE_UNAVAILABLE", 63),
    (
        HangupCause::IncompatibleDestination,
        "INCOMPATIBLE_DESTINATION",
        88,
    ),
    (
        HangupCause::RecoveryOnTimerExpire,
        "RECOVERY_ON_TIMER_EXPIRE",
        102,
    ),
    (HangupCause::ChanNotImplemented, "CHAN_NOT_IMPLEMENTED", 66),
    (HangupCause::SwitchCongestion, "SWITCH_CONGESTION", 42),
    (HangupCause::OriginatorCancel, "ORIGINATOR_CANCEL", 487),
    (HangupCause::SystemShutdown, "SYSTEM_SHUTDOWN", 501),
    (HangupCause::LoseRace, "LOSE_RACE", 502),
    (HangupCause::ManagerRequest, "MANAGER_REQUEST", 503),
    (HangupCause::AllottedTimeout, "ALLOTTED_TIMEOUT", 602),
    (HangupCause::MediaTimeout, "MEDIA_TIMEOUT", 604),
];

impl HangupCause {
    pub fn as_str(self) -> &'static str {
        CAUSES
            .iter()
            .find(|c| c.0 == self)
            .map(|c| c.1)
            .unwrap_or("NONE")
    }

    /// The Q.850 code (`variable_hangup_cause_q850`).
    pub fn q850(self) -> u16 {
        CAUSES
            .iter()
            .find(|c| c.0 == self)
            .map(|c| c.2)
            .unwrap_or(0)
    }

    /// Parses a cause name or Q.850 number, as `switch_channel_str2cause` does.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u16>() {
            return CAUSES.iter().find(|c| c.2 == n).map(|c| c.0);
        }
        CAUSES
            .iter()
            .find(|c| c.1.eq_ignore_ascii_case(s))
            .map(|c| c.0)
    }

    /// The cause a SIP failure status maps to (`sofia_glue_sip_cause_to_freeswitch`).
    pub fn from_sip(status: u16) -> Self {
        match status {
            401 | 402 | 403 | 405 | 406 | 407 | 603 => Self::CallRejected,
            404 => Self::UnallocatedNumber,
            485 | 604 => Self::NoRouteDestination,
            408 | 504 => Self::RecoveryOnTimerExpire,
            410 => Self::NumberChanged,
            413 | 414 | 416 | 420 | 421 | 423 | 505 | 513 => Self::InvalidNumberFormat,
            480 => Self::NoUserResponse,
            400 | 481 | 500 | 503 => Self::NormalTemporaryFailure,
            486 | 600 => Self::UserBusy,
            484 => Self::InvalidNumberFormat,
            488 | 606 => Self::IncompatibleDestination,
            502 => Self::NetworkOutOfOrder,
            487 => Self::OriginatorCancel,
            _ => Self::NormalUnspecified,
        }
    }

    /// The SIP status a far end would send for this cause (`sip_term_status`).
    pub fn sip_status(self) -> u16 {
        match self {
            Self::UnallocatedNumber => 404,
            Self::NoRouteDestination => 404,
            Self::UserBusy => 486,
            Self::NoUserResponse => 408,
            Self::NoAnswer => 480,
            Self::SubscriberAbsent => 480,
            Self::CallRejected => 603,
            Self::NumberChanged => 410,
            Self::DestinationOutOfOrder => 502,
            Self::InvalidNumberFormat => 484,
            Self::NormalTemporaryFailure => 503,
            Self::ServiceUnavailable => 503,
            Self::IncompatibleDestination => 488,
            Self::RecoveryOnTimerExpire => 408,
            Self::OriginatorCancel => 487,
            Self::NormalCircuitCongestion => 503,
            _ => 200,
        }
    }
}

impl fmt::Display for HangupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Channel variables, in the order they were first set (FreeSWITCH prints
/// `variable_*` headers in insertion order).
#[derive(Debug, Clone, Default)]
pub struct Variables(Vec<(String, String)>);

impl Variables {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a variable, keeping its first position if it existed.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Sets a variable, moving it to the end (as re-adding a header does).
    pub fn set_last(&mut self, name: &str, value: impl Into<String>) {
        self.unset(name);
        self.0.push((name.to_owned(), value.into()));
    }

    pub fn unset(&mut self, name: &str) {
        self.0.retain(|(k, _)| k != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_true(&self, name: &str) -> bool {
        self.get(name).is_some_and(is_true)
    }
}

/// FreeSWITCH's `switch_true`.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "1" | "enabled" | "active" | "allow"
    )
}

/// The caller profile (`Caller-*` headers).
#[derive(Debug, Clone, Default)]
pub struct CallerProfile {
    pub dialplan: String,
    pub caller_id_name: String,
    pub caller_id_number: String,
    pub orig_caller_id_name: String,
    pub orig_caller_id_number: String,
    pub callee_id_name: String,
    pub callee_id_number: String,
    pub ani: String,
    pub destination_number: String,
    pub source: String,
    pub context: String,
    pub created_us: i64,
    /// `Caller-Transfer-Source`: `epoch:uuid:uuid_br:other` after uuid_bridge.
    pub transfer_source: Option<String>,
    /// `Caller-Network-Addr`: the SIP peer's address, once it has answered
    /// anything (empty for loopback).
    pub network_addr: String,
}

/// Where and how a caller profile is written: `Caller-*` for the Channel's
/// own profile, `Other-Leg-*` for the other party of a bridge, as
/// `switch_caller_profile_event_set_data` does with its prefix.
struct ProfileBlock<'a> {
    prefix: &'a str,
    direction: Direction,
    logical_direction: Direction,
    uuid: &'a str,
    channel_name: &'a str,
    times: &'a Times,
    /// `Profile-Index`: only the Channel's own profile has one.
    index: Option<&'a str>,
}

impl CallerProfile {
    fn write_headers(&self, ev: &mut SwitchEvent, b: &ProfileBlock) {
        let mut push = |name: &str, value: &str| ev.push(format!("{}-{name}", b.prefix), value);
        let optional = [
            ("Caller-ID-Name", &self.caller_id_name),
            ("Caller-ID-Number", &self.caller_id_number),
            ("Orig-Caller-ID-Name", &self.orig_caller_id_name),
            ("Orig-Caller-ID-Number", &self.orig_caller_id_number),
            ("Callee-ID-Name", &self.callee_id_name),
            ("Callee-ID-Number", &self.callee_id_number),
            ("Network-Addr", &self.network_addr),
        ];
        push("Direction", b.direction.as_str());
        push("Logical-Direction", b.logical_direction.as_str());
        push("Dialplan", &self.dialplan);
        for (name, value) in optional {
            // Numbers are always written, names and addresses only when set.
            if !value.is_empty() || name.ends_with("Caller-ID-Number") {
                push(name, value);
            }
        }
        push("ANI", &self.ani);
        push("Destination-Number", &self.destination_number);
        push("Unique-ID", b.uuid);
        push("Source", &self.source);
        if let Some(t) = &self.transfer_source {
            push("Transfer-Source", t);
        }
        push("Context", &self.context);
        push("Channel-Name", b.channel_name);
        if let Some(i) = b.index {
            push("Profile-Index", i);
        }
        let t = b.times;
        push("Profile-Created-Time", &self.created_us.to_string());
        for (name, us) in [
            ("Channel-Created-Time", t.created),
            ("Channel-Answered-Time", t.answered),
            ("Channel-Progress-Time", t.progress),
            ("Channel-Progress-Media-Time", t.progress_media),
            ("Channel-Hangup-Time", t.hungup),
            ("Channel-Transfer-Time", t.transferred),
            ("Channel-Resurrect-Time", 0),
            ("Channel-Bridged-Time", t.bridged),
            ("Channel-Last-Hold", 0),
            ("Channel-Hold-Accum", 0),
        ] {
            push(name, &us.to_string());
        }
        push("Screen-Bit", "true");
        push("Privacy-Hide-Name", "false");
        push("Privacy-Hide-Number", "false");
    }
}

/// The other party's profile (`Other-Type` and `Other-Leg-*` headers) from
/// a bridge on: "originatee" on the A side, "originator" on the B side. Like
/// FreeSWITCH's caller profile, it stays after the bridge ends.
#[derive(Debug, Clone)]
pub struct OtherLeg {
    pub kind: &'static str,
    pub uuid: String,
    pub name: String,
    pub direction: Direction,
    pub profile: CallerProfile,
    pub times: Times,
}

/// Timestamps of a channel's milestones, in switch microseconds (0 = not yet).
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub created: i64,
    pub answered: i64,
    pub progress: i64,
    pub progress_media: i64,
    pub hungup: i64,
    pub transferred: i64,
    pub bridged: i64,
}

/// Everything the switch knows about one channel, readable by the api
/// commands while the channel's session task drives it.
#[derive(Debug, Clone)]
pub struct ChannelData {
    pub uuid: String,
    pub name: String,
    pub direction: Direction,
    pub state: ChannelState,
    pub call_state: CallState,
    pub answer_state: &'static str,
    pub hangup_cause: Option<HangupCause>,
    pub profile: CallerProfile,
    pub vars: Variables,
    pub times: Times,
    pub session_id: u64,
    /// The other channel of a bridge, if bridged.
    pub bridged_to: Option<String>,
    /// Whether this Channel is the B side of its bridge (`show calls` lists
    /// a bridged call once, under its A side).
    pub bridge_b: bool,
    pub other_leg: Option<OtherLeg>,
    /// `Channel-HIT-Dialplan`: false for originated legs that never route.
    pub hit_dialplan: bool,
    pub read_codec: &'static str,
    pub rate: u32,
}

impl OtherLeg {
    /// A snapshot of a Channel as the other party of a bridge.
    pub fn of(d: &ChannelData, kind: &'static str) -> Self {
        Self {
            kind,
            uuid: d.uuid.clone(),
            name: d.name.clone(),
            direction: d.direction,
            profile: d.profile.clone(),
            times: d.times,
        }
    }

    fn write_headers(&self, ev: &mut SwitchEvent) {
        ev.push("Other-Type", self.kind);
        self.profile.write_headers(
            ev,
            &ProfileBlock {
                prefix: "Other-Leg",
                direction: self.direction,
                logical_direction: Direction::Inbound,
                uuid: &self.uuid,
                channel_name: &self.name,
                times: &self.times,
                index: None,
            },
        );
    }
}

impl ChannelData {
    /// Appends the channel-data block: `switch_channel_event_set_data` with
    /// variables, `switch_channel_event_set_basic_data` without.
    pub fn write_headers(&self, ev: &mut SwitchEvent, with_variables: bool) {
        ev.push("Channel-State", self.state.as_str());
        ev.push("Channel-Call-State", self.call_state.as_str());
        ev.push("Channel-State-Number", self.state.number().to_string());
        ev.push("Channel-Name", self.name.as_str());
        ev.push("Unique-ID", self.uuid.as_str());
        ev.push("Call-Direction", self.direction.as_str());
        ev.push("Presence-Call-Direction", self.direction.as_str());
        ev.push(
            "Channel-HIT-Dialplan",
            if self.hit_dialplan { "true" } else { "false" },
        );
        ev.push("Channel-Call-UUID", self.uuid.as_str());
        ev.push("Answer-State", self.answer_state);
        if let Some(cause) = self.hangup_cause {
            ev.push("Hangup-Cause", cause.as_str());
        }
        let rate = self.rate.to_string();
        let bit_rate = (self.rate * 16).to_string();
        ev.push("Channel-Read-Codec-Name", self.read_codec);
        ev.push("Channel-Read-Codec-Rate", rate.as_str());
        ev.push("Channel-Read-Codec-Bit-Rate", bit_rate.as_str());
        ev.push("Channel-Write-Codec-Name", self.read_codec);
        ev.push("Channel-Write-Codec-Rate", rate.as_str());
        ev.push("Channel-Write-Codec-Bit-Rate", bit_rate);
        self.profile.write_headers(
            ev,
            &ProfileBlock {
                prefix: "Caller",
                direction: self.direction,
                logical_direction: self.direction,
                uuid: &self.uuid,
                channel_name: &self.name,
                times: &self.times,
                index: Some("1"),
            },
        );
        if let Some(o) = &self.other_leg {
            o.write_headers(ev);
        }
        if with_variables {
            for (k, v) in self.vars.iter() {
                ev.push(format!("variable_{k}"), v);
            }
        }
    }

    /// Sets the CDR variables FreeSWITCH computes at hangup
    /// (`switch_channel_set_timestamps`): stamps, epochs, duration, billsec …
    pub fn set_hangup_variables(&mut self) {
        let t = self.times;
        let cause = self.hangup_cause.unwrap_or(HangupCause::NormalClearing);
        let v = &mut self.vars;
        v.set("hangup_cause", cause.as_str());
        v.set("hangup_cause_q850", cause.q850().to_string());
        v.set("start_stamp", local_stamp(t.created));
        v.set("profile_start_stamp", local_stamp(t.created));
        if t.answered > 0 {
            v.set("answer_stamp", local_stamp(t.answered));
        }
        if t.bridged > 0 {
            v.set("bridge_stamp", local_stamp(t.bridged));
        }
        if t.progress > 0 {
            v.set("progress_stamp", local_stamp(t.progress));
        }
        if t.progress_media > 0 {
            v.set("progress_media_stamp", local_stamp(t.progress_media));
        }
        v.set("end_stamp", local_stamp(t.hungup));
        let pairs = [
            ("start", t.created),
            ("profile_start", t.created),
            ("answer", t.answered),
            ("bridge", t.bridged),
            ("last_hold", 0),
        ];
        for (name, us) in pairs {
            v.set(&format!("{name}_epoch"), (us / 1_000_000).to_string());
            v.set(&format!("{name}_uepoch"), us.to_string());
        }
        v.set("hold_accum_seconds", "0");
        v.set("hold_accum_usec", "0");
        v.set("hold_accum_ms", "0");
        for (name, us) in [
            ("resurrect", 0),
            ("progress", t.progress),
            ("progress_media", t.progress_media),
            ("end", t.hungup),
        ] {
            v.set(&format!("{name}_epoch"), (us / 1_000_000).to_string());
            v.set(&format!("{name}_uepoch"), us.to_string());
        }
        let since = |from: i64, to: i64| if from > 0 && to >= from { to - from } else { 0 };
        let duration = since(t.created, t.hungup);
        let bill = since(t.answered, t.hungup);
        let progress = since(t.created, t.progress);
        let answer = since(t.created, t.answered);
        let progress_media = since(t.created, t.progress_media);
        let flow = duration;
        let groups = [
            ("duration", "mduration", "uduration", duration),
            ("billsec", "billmsec", "billusec", bill),
            ("progresssec", "progressmsec", "progressusec", progress),
            ("answersec", "answermsec", "answerusec", answer),
            ("waitsec", "waitmsec", "waitusec", 0),
            (
                "progress_mediasec",
                "progress_mediamsec",
                "progress_mediausec",
                progress_media,
            ),
            ("flow_billsec", "flow_billmsec", "flow_billusec", flow),
        ];
        for (s, _, _, us) in groups {
            v.set(s, (us / 1_000_000).to_string());
        }
        for (_, ms, _, us) in groups {
            v.set(ms, (us / 1_000).to_string());
        }
        for (_, _, u, us) in groups {
            v.set(u, us.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_parse_by_name_or_q850_number() {
        assert_eq!(HangupCause::parse("USER_BUSY"), Some(HangupCause::UserBusy));
        assert_eq!(HangupCause::parse("17"), Some(HangupCause::UserBusy));
        assert_eq!(
            HangupCause::parse("call_rejected"),
            Some(HangupCause::CallRejected)
        );
        assert_eq!(HangupCause::parse("NOT_A_CAUSE"), None);
        assert_eq!(HangupCause::NormalClearing.q850(), 16);
    }

    #[test]
    fn sip_failures_map_to_freeswitch_causes() {
        assert_eq!(HangupCause::from_sip(486), HangupCause::UserBusy);
        assert_eq!(HangupCause::from_sip(404), HangupCause::UnallocatedNumber);
        assert_eq!(HangupCause::from_sip(603), HangupCause::CallRejected);
        assert_eq!(
            HangupCause::from_sip(503),
            HangupCause::NormalTemporaryFailure
        );
    }

    #[test]
    fn variables_keep_their_first_position_when_overwritten() {
        let mut v = Variables::default();
        v.set("a", "1");
        v.set("b", "2");
        v.set("a", "3");
        assert_eq!(v.iter().collect::<Vec<_>>(), [("a", "3"), ("b", "2")]);
        v.set_last("a", "4");
        assert_eq!(v.iter().collect::<Vec<_>>(), [("b", "2"), ("a", "4")]);
    }

    #[test]
    fn billsec_counts_from_answer_and_duration_from_creation() {
        let mut data = ChannelData {
            uuid: "u".into(),
            name: "loopback/7100-a".into(),
            direction: Direction::Outbound,
            state: ChannelState::Reporting,
            call_state: CallState::Hangup,
            answer_state: "hangup",
            hangup_cause: Some(HangupCause::NormalClearing),
            profile: CallerProfile::default(),
            vars: Variables::default(),
            times: Times {
                created: 1_000_000,
                answered: 2_020_000,
                hungup: 4_880_000,
                ..Times::default()
            },
            session_id: 1,
            bridged_to: None,
            bridge_b: false,
            other_leg: None,
            hit_dialplan: true,
            read_codec: "L16",
            rate: 8000,
        };
        data.set_hangup_variables();
        assert_eq!(data.vars.get("duration"), Some("3"));
        assert_eq!(data.vars.get("billsec"), Some("2"));
        assert_eq!(data.vars.get("billmsec"), Some("2860"));
        assert_eq!(data.vars.get("hangup_cause_q850"), Some("16"));
    }
}
