//! Typed attribute values: how each kind of TwiML attribute is read from its
//! text, checked against what Twilio accepts, and written back.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

/// An attribute value on its way out: typed so the JSON form can use
/// numbers and booleans where a developer would write them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Text(Cow<'a, str>),
    Int(u32),
    Bool(bool),
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(text) => f.write_str(text),
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A type an attribute can hold. `parse` returns, on failure, a short
/// description of what Twilio accepts, used in the error message.
pub(crate) trait AttrValue: Sized {
    fn parse(raw: &str) -> Result<Self, &'static str>;
    fn to_scalar(&self) -> Scalar<'_>;
}

impl AttrValue for String {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        Ok(raw.to_owned())
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Text(Cow::Borrowed(self))
    }
}

impl AttrValue for u32 {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        raw.trim()
            .parse()
            .map_err(|_| "a whole number of 0 or more")
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Int(*self)
    }
}

impl AttrValue for NonZeroU32 {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        raw.trim().parse().map_err(|_| "a positive whole number")
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Int(self.get())
    }
}

impl AttrValue for bool {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if raw.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err("true or false")
        }
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Bool(*self)
    }
}

/// A single keyword of a closed set (an enum attribute value).
pub(crate) trait Keyword: Sized + 'static {
    const EXPECTED_LIST: &'static str;
    fn from_keyword(raw: &str) -> Option<Self>;
    fn keyword(&self) -> &'static str;
    #[cfg(test)]
    fn all() -> &'static [Self];
}

/// Space-separated keyword lists such as `statusCallbackEvent="initiated answered"`.
impl<T: Keyword> AttrValue for Vec<T> {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        // Helper libraries join lists with spaces; commas are accepted too
        // because hand-written TwiML often uses them.
        let list = raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| T::from_keyword(s).ok_or(T::EXPECTED_LIST))
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(T::EXPECTED_LIST);
        }
        Ok(list)
    }
    fn to_scalar(&self) -> Scalar<'_> {
        let words: Vec<&str> = self.iter().map(Keyword::keyword).collect();
        Scalar::Text(Cow::Owned(words.join(" ")))
    }
}

macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident expected $expected:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in Twilio's documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The keyword as written in TwiML.
            pub fn as_str(&self) -> &'static str {
                match self { $( $name::$variant => $word, )+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Keyword for $name {
            const EXPECTED_LIST: &'static str = concat!("one or more of ", $expected);
            fn from_keyword(raw: &str) -> Option<Self> {
                let raw = raw.trim();
                $(
                    if raw.eq_ignore_ascii_case($word) $(|| raw.eq_ignore_ascii_case($alias))* {
                        return Some($name::$variant);
                    }
                )+
                None
            }
            fn keyword(&self) -> &'static str {
                self.as_str()
            }
            #[cfg(test)]
            fn all() -> &'static [Self] {
                Self::ALL
            }
        }

        impl AttrValue for $name {
            fn parse(raw: &str) -> Result<Self, &'static str> {
                <$name as Keyword>::from_keyword(raw).ok_or($expected)
            }
            fn to_scalar(&self) -> Scalar<'_> {
                Scalar::Text(Cow::Borrowed(self.as_str()))
            }
        }
    };
}

keyword_enum! {
    /// HTTP method for a callback or action URL.
    pub enum Method expected "GET or POST" {
        Get = "GET",
        Post = "POST",
    }
}

keyword_enum! {
    /// What `<Gather input>` listens for.
    pub enum GatherInput expected "dtmf, speech or dtmf speech" {
        Dtmf = "dtmf",
        Speech = "speech",
    }
}

keyword_enum! {
    /// `<Reject reason>`: the signal played to the caller.
    pub enum RejectReason expected "rejected or busy" {
        Rejected = "rejected",
        Busy = "busy",
    }
}

keyword_enum! {
    /// `<Dial record>`. The legacy values `true` and `false` read as
    /// `record-from-answer` and `do-not-record`.
    pub enum DialRecord expected "do-not-record, record-from-answer, record-from-ringing, record-from-answer-dual or record-from-ringing-dual" {
        DoNotRecord = "do-not-record" | "false",
        RecordFromAnswer = "record-from-answer" | "true",
        RecordFromRinging = "record-from-ringing",
        RecordFromAnswerDual = "record-from-answer-dual",
        RecordFromRingingDual = "record-from-ringing-dual",
    }
}

keyword_enum! {
    /// Which audio of a dialled call is recorded.
    pub enum RecordingTrack expected "both, inbound or outbound" {
        Both = "both",
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

keyword_enum! {
    /// Whether silence is trimmed from a recording.
    pub enum Trim expected "trim-silence or do-not-trim" {
        TrimSilence = "trim-silence",
        DoNotTrim = "do-not-trim",
    }
}

keyword_enum! {
    /// Call progress events for `statusCallbackEvent` on Number, Sip and Client.
    pub enum CallProgressEvent expected "initiated, ringing, answered or completed" {
        Initiated = "initiated",
        Ringing = "ringing",
        Answered = "answered",
        Completed = "completed",
    }
}

keyword_enum! {
    /// `machineDetection` on a dialled Number or Sip: answering machine detection.
    pub enum MachineDetection expected "Enable or DetectMessageEnd" {
        Enable = "Enable",
        DetectMessageEnd = "DetectMessageEnd",
    }
}

keyword_enum! {
    /// Recording status events for `recordingStatusCallbackEvent`.
    pub enum RecordingEvent expected "in-progress, completed or absent" {
        InProgress = "in-progress",
        Completed = "completed",
        Absent = "absent",
    }
}

keyword_enum! {
    /// Conference events for `<Conference statusCallbackEvent>`.
    pub enum ConferenceEvent expected "start, end, join, leave, mute, hold, modify, speaker or announcement" {
        Start = "start",
        End = "end",
        Join = "join",
        Leave = "leave",
        Mute = "mute",
        Hold = "hold",
        Modify = "modify",
        Speaker = "speaker",
        Announcement = "announcement",
    }
}

keyword_enum! {
    /// `<Conference beep>`: when the entry/exit beep plays.
    pub enum ConferenceBeep expected "true, false, onEnter or onExit" {
        True = "true",
        False = "false",
        OnEnter = "onEnter",
        OnExit = "onExit",
    }
}

keyword_enum! {
    /// `<Conference record>`.
    pub enum ConferenceRecord expected "do-not-record or record-from-start" {
        DoNotRecord = "do-not-record",
        RecordFromStart = "record-from-start",
    }
}

keyword_enum! {
    /// `<Conference jitterBufferSize>`.
    pub enum JitterBufferSize expected "off, small, medium or large" {
        Off = "off",
        Small = "small",
        Medium = "medium",
        Large = "large",
    }
}

keyword_enum! {
    /// `<Stream track>`: which audio is forked to the WebSocket.
    pub enum StreamTrack expected "inbound_track, outbound_track or both_tracks" {
        InboundTrack = "inbound_track",
        OutboundTrack = "outbound_track",
        BothTracks = "both_tracks",
    }
}

/// `finishOnKey`: the keys that end input; each of `0123456789#*`, or
/// empty to disable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FinishOnKey(pub String);

impl FinishOnKey {
    /// Whether pressing `key` ends the input.
    pub fn contains(&self, key: char) -> bool {
        self.0.contains(key)
    }
}

impl AttrValue for FinishOnKey {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw
            .chars()
            .all(|c| c.is_ascii_digit() || c == '#' || c == '*')
        {
            Ok(FinishOnKey(raw.to_owned()))
        } else {
            Err("keys from 0123456789#* or the empty string")
        }
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Text(Cow::Borrowed(&self.0))
    }
}

/// DTMF to send (`<Play digits>`, `<Number sendDigits>`): `0-9`, `*`, `#`
/// and `w` (a half-second wait).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DtmfSequence(pub String);

impl AttrValue for DtmfSequence {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        let ok = !raw.is_empty()
            && raw
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '#' | '*' | 'w' | 'W'));
        if ok {
            Ok(DtmfSequence(raw.to_owned()))
        } else {
            Err("digits 0-9, *, # and w (wait)")
        }
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Text(Cow::Borrowed(&self.0))
    }
}

/// `<Gather speechTimeout>`: seconds of silence, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeechTimeout {
    /// Stop recognising speech when a pause is detected.
    Auto,
    /// Stop after this many seconds of silence.
    Seconds(u32),
}

impl AttrValue for SpeechTimeout {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("auto") {
            return Ok(SpeechTimeout::Auto);
        }
        raw.parse()
            .map(SpeechTimeout::Seconds)
            .map_err(|_| "a whole number of seconds or auto")
    }
    fn to_scalar(&self) -> Scalar<'_> {
        match self {
            SpeechTimeout::Auto => Scalar::Text(Cow::Borrowed("auto")),
            SpeechTimeout::Seconds(n) => Scalar::Int(*n),
        }
    }
}

/// `<Dial ringTone>`: a two-letter country code (plus `us-old`) naming the
/// ringback tone played while the dialled party rings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RingTone(pub String);

impl RingTone {
    /// The tones Twilio documents.
    pub const ALL: &'static [&'static str] = &[
        "at", "au", "bg", "br", "be", "ch", "cl", "cn", "cz", "de", "dk", "ee", "es", "fi", "fr",
        "gr", "hu", "il", "in", "it", "lt", "jp", "mx", "my", "nl", "no", "nz", "ph", "pl", "pt",
        "ru", "se", "sg", "th", "uk", "us", "us-old", "tw", "ve", "za",
    ];
}

impl AttrValue for RingTone {
    fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        RingTone::ALL
            .iter()
            .find(|tone| tone.eq_ignore_ascii_case(raw))
            .map(|tone| RingTone((*tone).to_owned()))
            .ok_or("a country code such as us, uk, de or fr")
    }
    fn to_scalar(&self) -> Scalar<'_> {
        Scalar::Text(Cow::Borrowed(&self.0))
    }
}

#[cfg(test)]
pub(crate) mod arbitrary {
    //! Strategies producing valid attribute values, for round-trip tests.
    use super::*;
    use proptest::prelude::*;

    pub(crate) trait Arbitrary: Sized {
        fn strategy() -> BoxedStrategy<Self>;
    }

    /// Text as a developer writes it: printable, XML-special characters
    /// included, no surrounding whitespace (the parser trims text).
    pub(crate) fn text() -> BoxedStrategy<String> {
        "[a-zA-Z0-9&<>\"'/:?=._+ é-]{0,16}"
            .prop_map(|s| s.trim().to_owned())
            .boxed()
    }

    pub(crate) fn non_empty_text() -> BoxedStrategy<String> {
        "[a-zA-Z0-9&<>\"'/:?=._+é-][a-zA-Z0-9&<>\"'/:?=._+ é-]{0,12}[a-zA-Z0-9&<>/:._+é-]"
            .prop_map(|s| s.to_owned())
            .boxed()
    }

    impl Arbitrary for String {
        fn strategy() -> BoxedStrategy<Self> {
            text()
        }
    }
    impl Arbitrary for u32 {
        fn strategy() -> BoxedStrategy<Self> {
            any::<u32>().boxed()
        }
    }
    impl Arbitrary for NonZeroU32 {
        fn strategy() -> BoxedStrategy<Self> {
            (1..=u32::MAX)
                .prop_map(|n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
                .boxed()
        }
    }
    impl Arbitrary for bool {
        fn strategy() -> BoxedStrategy<Self> {
            any::<bool>().boxed()
        }
    }
    impl<T: Keyword + Clone + std::fmt::Debug> Arbitrary for Vec<T> {
        fn strategy() -> BoxedStrategy<Self> {
            let all: Vec<T> = T::all().to_vec();
            proptest::sample::subsequence(all.clone(), 1..=all.len()).boxed()
        }
    }
    impl Arbitrary for FinishOnKey {
        fn strategy() -> BoxedStrategy<Self> {
            "[0-9#*]{0,4}".prop_map(FinishOnKey).boxed()
        }
    }
    impl Arbitrary for DtmfSequence {
        fn strategy() -> BoxedStrategy<Self> {
            "[0-9#*w]{1,8}".prop_map(DtmfSequence).boxed()
        }
    }
    impl Arbitrary for SpeechTimeout {
        fn strategy() -> BoxedStrategy<Self> {
            prop_oneof![
                Just(SpeechTimeout::Auto),
                any::<u32>().prop_map(SpeechTimeout::Seconds)
            ]
            .boxed()
        }
    }
    impl Arbitrary for RingTone {
        fn strategy() -> BoxedStrategy<Self> {
            proptest::sample::select(RingTone::ALL)
                .prop_map(|t| RingTone(t.to_owned()))
                .boxed()
        }
    }
    macro_rules! arbitrary_keyword {
        ($($name:ident),*) => {$(
            impl Arbitrary for $name {
                fn strategy() -> BoxedStrategy<Self> {
                    proptest::sample::select($name::ALL).boxed()
                }
            }
        )*};
    }
    arbitrary_keyword!(
        Method,
        MachineDetection,
        RejectReason,
        DialRecord,
        RecordingTrack,
        Trim,
        ConferenceBeep,
        ConferenceRecord,
        JitterBufferSize,
        StreamTrack
    );
}
