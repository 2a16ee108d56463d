//! Scripted far ends: what the other side of a call does, written in the
//! dialled destination (or in the `--script` of an injected inbound call).
//!
//! A script is a list of steps separated by `;`, for example
//! `ring=2s;answer;dtmf=1234@3s;hangup=10s`. Durations take `ms`/`s` suffixes
//! (bare numbers are seconds). Steps:
//!
//! | step | meaning |
//! |---|---|
//! | `ring=D` | ring (180) for D before the outcome (default 1s) |
//! | `early=D` | send early media (183) for D before the outcome |
//! | `answer` | answer (the default outcome) |
//! | `busy` | refuse with USER_BUSY |
//! | `noanswer` | ring until the caller gives up (NO_ANSWER) |
//! | `reject=CAUSE` | refuse with a hangup cause (name or Q.850 number) |
//! | `dtmf=DIGITS@T` | press DIGITS T after answer (repeatable) |
//! | `hangup=T` | hang up (NORMAL_CLEARING) T after answer |
//! | `speak=D` | talk for D at the start of every recording of this leg |
//! | `cancel=T` | (inbound callers) give up T after the call starts, if unanswered |
//!
//! Destinations that are not scripts go through the numbering plan
//! ([`FarEnd::for_destination`]); anything else answers after a short ring
//! and stays up until hung up.

use std::time::Duration;

use thiserror::Error;

use crate::channel::HangupCause;

/// How a far end ends its ringing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answer,
    Refuse(HangupCause),
    NoAnswer,
}

/// A parsed far-end script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarEnd {
    pub ring: Duration,
    pub early: Option<Duration>,
    pub outcome: Outcome,
    /// Digits pressed, with their offset from answer.
    pub dtmf: Vec<(Duration, String)>,
    pub hangup_after: Option<Duration>,
    pub speak: Option<Duration>,
    pub cancel_after: Option<Duration>,
}

impl Default for FarEnd {
    fn default() -> Self {
        Self {
            ring: Duration::from_secs(1),
            early: None,
            outcome: Outcome::Answer,
            dtmf: Vec::new(),
            hangup_after: None,
            speak: None,
            cancel_after: None,
        }
    }
}

/// A script that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("unknown far-end step `{0}`")]
    UnknownStep(String),
    #[error("bad duration `{0}` in far-end step")]
    BadDuration(String),
    #[error("unknown hangup cause `{0}`")]
    BadCause(String),
    #[error("dtmf step `{0}` needs DIGITS@TIME")]
    BadDtmf(String),
}

/// The magic numbers: `+1500555` followed by four digits.
pub const NUMBERING_PLAN: &[(&str, &str, &str)] = &[
    (
        "+15005550000",
        "ring=1s;answer",
        "answers after 1 s and stays up",
    ),
    (
        "+15005550001",
        "reject=UNALLOCATED_NUMBER",
        "invalid number",
    ),
    (
        "+15005550002",
        "reject=NO_ROUTE_DESTINATION",
        "cannot route",
    ),
    ("+15005550003", "ring=1s;busy", "busy"),
    (
        "+15005550004",
        "noanswer",
        "rings until the caller gives up (NO_ANSWER)",
    ),
    (
        "+15005550005",
        "ring=1s;reject=CALL_REJECTED",
        "rejects the call",
    ),
    (
        "+15005550006",
        "ring=1s;answer",
        "valid number: answers after 1 s",
    ),
    (
        "+15005550007",
        "ring=1s;answer;hangup=5s",
        "answers, hangs up after 5 s",
    ),
    (
        "+15005550008",
        "ring=1s;answer;dtmf=1234#@2s",
        "answers, presses 1234# after 2 s",
    ),
    (
        "+15005550009",
        "ring=1s;answer;speak=3s;hangup=20s",
        "answers, talks 3 s into each recording, hangs up after 20 s",
    ),
    (
        "+15005550010",
        "ring=1s;early=2s;answer",
        "early media for 2 s, then answers",
    ),
    (
        "+15005550011",
        "ring=1s;reject=NORMAL_TEMPORARY_FAILURE",
        "network failure",
    ),
];

impl FarEnd {
    /// The far end for a dialled user part: a script, a magic number, or the
    /// default (answer after a short ring).
    pub fn for_destination(user: &str) -> Result<Self, ScriptError> {
        if let Some((_, script, _)) = NUMBERING_PLAN
            .iter()
            .find(|(n, _, _)| *n == user || n.trim_start_matches('+') == user)
        {
            return Self::parse(script);
        }
        if looks_like_script(user) {
            return Self::parse(user);
        }
        Ok(Self::default())
    }

    /// Parses a script (see the module docs).
    pub fn parse(script: &str) -> Result<Self, ScriptError> {
        let mut far = Self::default();
        for step in script
            .split([';', '+'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (name, value) = step.split_once('=').map_or((step, ""), |(n, v)| (n, v));
            match name.to_ascii_lowercase().as_str() {
                "ring" => far.ring = duration(value)?,
                "early" => far.early = Some(duration(value)?),
                "answer" => far.outcome = Outcome::Answer,
                "busy" => far.outcome = Outcome::Refuse(HangupCause::UserBusy),
                "noanswer" => far.outcome = Outcome::NoAnswer,
                "reject" | "fail" => {
                    let cause = HangupCause::parse(value)
                        .ok_or_else(|| ScriptError::BadCause(value.to_owned()))?;
                    far.outcome = Outcome::Refuse(cause);
                }
                "dtmf" => {
                    let (digits, at) = value
                        .split_once('@')
                        .ok_or_else(|| ScriptError::BadDtmf(step.to_owned()))?;
                    if digits.is_empty() || !digits.chars().all(is_dtmf) {
                        return Err(ScriptError::BadDtmf(step.to_owned()));
                    }
                    far.dtmf.push((duration(at)?, digits.to_owned()));
                }
                "hangup" => far.hangup_after = Some(duration(value)?),
                "speak" => far.speak = Some(duration(value)?),
                "cancel" => far.cancel_after = Some(duration(value)?),
                _ => return Err(ScriptError::UnknownStep(step.to_owned())),
            }
        }
        far.dtmf.sort_by_key(|(at, _)| *at);
        Ok(far)
    }
}

/// A DTMF digit FreeSWITCH accepts.
pub fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || matches!(c.to_ascii_uppercase(), '*' | '#' | 'A' | 'B' | 'C' | 'D')
}

fn looks_like_script(user: &str) -> bool {
    const STEPS: [&str; 10] = [
        "ring", "early", "answer", "busy", "noanswer", "reject", "fail", "dtmf", "hangup", "speak",
    ];
    let first = user.split([';', '+', '=']).next().unwrap_or("");
    STEPS.contains(&first.to_ascii_lowercase().as_str())
}

/// `2s`, `500ms`, `1.5` (seconds).
pub fn duration(s: &str) -> Result<Duration, ScriptError> {
    let bad = || ScriptError::BadDuration(s.to_owned());
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(v * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_script_parses_every_step() {
        let far =
            FarEnd::parse("ring=2s;early=500ms;answer;dtmf=12#@3s;dtmf=9@1;hangup=10;speak=4s")
                .unwrap();
        assert_eq!(far.ring, Duration::from_secs(2));
        assert_eq!(far.early, Some(Duration::from_millis(500)));
        assert_eq!(far.outcome, Outcome::Answer);
        assert_eq!(
            far.dtmf,
            vec![
                (Duration::from_secs(1), "9".to_owned()),
                (Duration::from_secs(3), "12#".to_owned())
            ]
        );
        assert_eq!(far.hangup_after, Some(Duration::from_secs(10)));
        assert_eq!(far.speak, Some(Duration::from_secs(4)));
    }

    #[test]
    fn refusals_carry_their_cause() {
        assert_eq!(
            FarEnd::parse("busy").unwrap().outcome,
            Outcome::Refuse(HangupCause::UserBusy)
        );
        assert_eq!(
            FarEnd::parse("reject=21").unwrap().outcome,
            Outcome::Refuse(HangupCause::CallRejected)
        );
        assert_eq!(
            FarEnd::parse("noanswer").unwrap().outcome,
            Outcome::NoAnswer
        );
        assert_eq!(
            FarEnd::parse("reject=SOMETHING"),
            Err(ScriptError::BadCause("SOMETHING".into()))
        );
    }

    #[test]
    fn destinations_use_the_numbering_plan_then_scripts_then_the_default() {
        assert_eq!(
            FarEnd::for_destination("+15005550003").unwrap().outcome,
            Outcome::Refuse(HangupCause::UserBusy)
        );
        assert_eq!(
            FarEnd::for_destination("15005550004").unwrap().outcome,
            Outcome::NoAnswer
        );
        assert_eq!(
            FarEnd::for_destination("busy").unwrap().outcome,
            Outcome::Refuse(HangupCause::UserBusy)
        );
        assert_eq!(
            FarEnd::for_destination("+14155550100").unwrap(),
            FarEnd::default()
        );
        assert!(FarEnd::for_destination("dtmf=12").is_err());
    }

    #[test]
    fn every_magic_number_parses() {
        for (number, script, _) in NUMBERING_PLAN {
            assert!(FarEnd::parse(script).is_ok(), "{number}: {script}");
        }
    }
}
