//! Each TwiML verb, executed on the caller's channel over ESL.

use std::time::Duration;

use twiml::{DialTarget, Feature, GatherInput, GatherPrompt, RejectReason, Verb};

use super::recording::Tape;
use super::session::{Interrupt, Session};
use super::Instructions;
use crate::events::event as events;
use crate::media::{self, MediaRequest};
use crate::store::CallStatus;
use crate::webhook::{self, Method};

/// What follows a verb.
#[derive(Debug)]
pub enum Next {
    Continue,
    /// A new document replaces the rest of this one.
    Goto(Instructions),
    /// The call ends.
    End,
}

/// What Switchboard executes today; anything else in a document is refused
/// with a notification naming it, never silently ignored.
pub fn supported(feature: &Feature) -> bool {
    let attribute = feature.attribute;
    match feature.element {
        "Response" | "Hangup" => attribute.is_none(),
        "Say" => matches!(attribute, None | Some("voice" | "language" | "loop")),
        "Play" => matches!(attribute, None | Some("loop" | "digits")),
        "Pause" => matches!(attribute, None | Some("length")),
        "Gather" => matches!(
            attribute,
            None | Some(
                "action"
                    | "method"
                    | "timeout"
                    | "finishOnKey"
                    | "numDigits"
                    | "actionOnEmptyResult"
                    | "input"
            )
        ),
        "Record" => matches!(
            attribute,
            None | Some(
                "action"
                    | "method"
                    | "timeout"
                    | "finishOnKey"
                    | "maxLength"
                    | "playBeep"
                    | "trim"
                    | "recordingStatusCallback"
                    | "recordingStatusCallbackMethod"
                    | "recordingStatusCallbackEvent"
            )
        ),
        "Reject" => matches!(attribute, None | Some("reason")),
        "Redirect" => matches!(attribute, None | Some("method")),
        "Dial" => matches!(
            attribute,
            None | Some(
                "action"
                    | "method"
                    | "timeout"
                    | "callerId"
                    | "timeLimit"
                    | "answerOnBridge"
                    | "hangupOnStar"
                    | "record"
                    | "ringTone"
                    | "trim"
                    | "recordingStatusCallback"
                    | "recordingStatusCallbackMethod"
                    | "recordingStatusCallbackEvent"
                    | "recordingTrack"
            )
        ),
        "Number" => matches!(
            attribute,
            None | Some(
                "sendDigits"
                    | "url"
                    | "method"
                    | "statusCallback"
                    | "statusCallbackEvent"
                    | "statusCallbackMethod"
            )
        ),
        "Sip" | "Client" => matches!(
            attribute,
            None | Some(
                "url"
                    | "method"
                    | "statusCallback"
                    | "statusCallbackEvent"
                    | "statusCallbackMethod"
            )
        ),
        "Identity" | "Leave" => attribute.is_none(),
        "Queue" => matches!(attribute, None | Some("url" | "method")),
        "Enqueue" => matches!(
            attribute,
            None | Some("action" | "method" | "waitUrl" | "waitUrlMethod" | "maxQueueSize")
        ),
        "Conference" => matches!(
            attribute,
            None | Some(
                "muted"
                    | "beep"
                    | "startConferenceOnEnter"
                    | "endConferenceOnExit"
                    | "waitUrl"
                    | "waitMethod"
                    | "maxParticipants"
                    | "statusCallback"
                    | "statusCallbackEvent"
                    | "statusCallbackMethod"
                    | "participantLabel"
                    | "region"
            )
        ),
        _ => false,
    }
}

pub async fn execute(session: &mut Session, verb: &Verb) -> Result<Next, Interrupt> {
    tracing::debug!(call = %session.call.sid, verb = verb.name(), "verb");
    match verb {
        Verb::Say(say) => {
            session.answer().await?;
            let Some(file) = speech(session, say).await? else {
                return Ok(Next::Continue);
            };
            for _ in 0..repetitions(say.loop_count()) {
                session.execute("playback", Some(&file)).await?;
            }
            Ok(Next::Continue)
        }
        Verb::Play(play) => {
            session.answer().await?;
            if let Some(digits) = play.digits() {
                let command = format!("uuid_send_dtmf {} {}", session.uuid, digits.0);
                session.api(&command).await;
            }
            if !play.url.trim().is_empty() {
                let Some(file) = audio(session, &play.url).await? else {
                    return Ok(Next::Continue);
                };
                for _ in 0..repetitions(play.loop_count()) {
                    session.execute("playback", Some(&file)).await?;
                }
            }
            Ok(Next::Continue)
        }
        Verb::Pause(pause) => {
            session.answer().await?;
            session
                .sleep(Duration::from_secs(pause.length().into()))
                .await?;
            Ok(Next::Continue)
        }
        Verb::Gather(gather) => Box::pin(gather_digits(session, gather)).await,
        Verb::Record(record) => Box::pin(record_caller(session, record)).await,
        Verb::Hangup(_) => Ok(Next::End),
        Verb::Reject(reject) => {
            if session.answered_at.is_some() {
                return Ok(Next::End);
            }
            let (cause, status) = match reject.reason() {
                RejectReason::Busy => ("USER_BUSY", CallStatus::Busy),
                RejectReason::Rejected => ("CALL_REJECTED", CallStatus::NoAnswer),
            };
            session
                .api(&format!("uuid_kill {} {cause}", session.uuid))
                .await;
            Err(Interrupt::End(status))
        }
        Verb::Redirect(redirect) => match session.resolve(redirect.url.trim()) {
            Some(url) => Ok(Next::Goto(Instructions::Fetch {
                url,
                method: method(redirect.method()),
                fallback: None,
                extra: Vec::new(),
            })),
            None => bad_url(session, "Redirect", &redirect.url).await,
        },
        Verb::Enqueue(enqueue) => Box::pin(super::queue::enqueue(session, enqueue)).await,
        // Outside a queue's wait document there is no queue to leave.
        Verb::Leave(_) => Ok(Next::Continue),
        Verb::Dial(dial) => match dial.targets.as_slice() {
            [DialTarget::Conference(_) | DialTarget::Queue(_)]
                if dial.record() != twiml::DialRecord::DoNotRecord =>
            {
                let message = "Dial: record is not supported with a Conference or Queue yet";
                session.notify(12200, message, None, None, false).await;
                Ok(Next::End)
            }
            [DialTarget::Conference(conference)] => {
                Box::pin(super::conference::join(session, dial, conference)).await
            }
            [DialTarget::Queue(queue)] => Box::pin(super::queue::dial(session, dial, queue)).await,
            _ => Box::pin(super::dial::dial(session, dial)).await,
        },
        other => {
            // `supported` keeps these out; say so if one slips through.
            let message = format!("{} is not supported by Switchboard yet", other.name());
            session.notify(12200, &message, None, None, false).await;
            Ok(Next::End)
        }
    }
}

pub(super) fn method(m: twiml::Method) -> Method {
    match m {
        twiml::Method::Get => Method::Get,
        twiml::Method::Post => Method::Post,
    }
}

/// `loop="0"` repeats until the call ends; bound it so a task always ends.
pub(super) fn repetitions(count: u32) -> u32 {
    if count == 0 {
        10_000
    } else {
        count
    }
}

/// The media layer's file for a `<Say>`, as the node plays it; a failure is
/// a notification and the verb is skipped.
pub(super) async fn speech(
    session: &mut Session,
    say: &twiml::Say,
) -> Result<Option<String>, Interrupt> {
    let request = MediaRequest::say(say.text.trim(), &say.voice(), &say.language());
    Box::pin(resolve_media(session, request, "Say")).await
}

/// The media layer's transcoded copy of a `<Play>` URL, as the node plays it.
pub(super) async fn audio(session: &mut Session, url: &str) -> Result<Option<String>, Interrupt> {
    let Some(absolute) = session.resolve(url.trim()) else {
        let message =
            format!("Play: {url:?} is not a valid URL (relative URLs need a document URL)");
        session.notify(11100, &message, None, None, false).await;
        return Ok(None);
    };
    Box::pin(resolve_media(session, MediaRequest::play(absolute), "Play")).await
}

async fn resolve_media(
    session: &mut Session,
    request: MediaRequest,
    verb: &str,
) -> Result<Option<String>, Interrupt> {
    let media = session.router.media.clone();
    let resolved = session
        .wait(async move { media.resolve(request).await })
        .await?;
    // Fetching or synthesising audio is the media layer's time, measured there.
    session.woken = None;
    match resolved {
        Ok(resolved) => Ok(Some(resolved.playback)),
        Err(e) => {
            session
                .notify(e.code(), &format!("{verb}: {e}"), None, None, false)
                .await;
            Ok(None)
        }
    }
}

pub(super) async fn bad_url(
    session: &mut Session,
    verb: &str,
    url: &str,
) -> Result<Next, Interrupt> {
    let message = format!("{verb}: {url:?} is not a valid URL (relative URLs need a document URL)");
    session.notify(11100, &message, None, None, false).await;
    Ok(Next::End)
}

/// The request for a verb's `action` (the current document when it has
/// none): the call's parameters and the verb's results in `extra`.
pub(super) struct Action {
    url: String,
    method: Method,
    extra: Vec<(String, String)>,
}

pub(super) fn action_request(
    session: &Session,
    action: Option<&String>,
    method_: twiml::Method,
    extra: Vec<(String, String)>,
) -> Option<Action> {
    let url = match action {
        Some(action) => session.resolve(action.trim())?,
        None => session.document_url.clone()?,
    };
    Some(Action {
        url,
        method: method(method_),
        extra,
    })
}

/// The action's answer replaces the rest of the document.
pub(super) fn goto(action: Action) -> Next {
    Next::Goto(Instructions::Fetch {
        url: action.url,
        method: action.method,
        fallback: None,
        extra: action.extra,
    })
}

/// Reports to the action after the caller hung up: Twilio requests it and ignores the answer.
pub(super) async fn report_action(session: &mut Session, action: Action) {
    let mut params = session.params();
    params.extend(action.extra);
    session
        .report(webhook::Request {
            url: action.url,
            method: action.method,
            params,
        })
        .await;
}

/// `<Gather>`: plays the prompts until the first digit, then collects digits
/// until `numDigits`, `finishOnKey` or `timeout` seconds without a digit.
async fn gather_digits(session: &mut Session, gather: &twiml::Gather) -> Result<Next, Interrupt> {
    session.answer().await?;
    if gather.input().contains(&GatherInput::Speech) {
        let message =
            "Gather input speech is not supported by Switchboard yet: gathering DTMF only";
        session.notify(12200, message, None, None, true).await;
    }
    session.dtmf.clear();
    let timeout = Duration::from_secs(gather.timeout().into());
    let finish = gather.finish_on_key();
    let wanted = gather.num_digits.map(|n| n.get() as usize);
    'prompts: for prompt in &gather.prompts {
        let heard = match prompt {
            GatherPrompt::Say(say) => match speech(session, say).await? {
                Some(file) => play_prompt(session, "playback", &file, say.loop_count()).await?,
                None => false,
            },
            GatherPrompt::Play(play) => match audio(session, &play.url).await? {
                Some(file) => play_prompt(session, "playback", &file, play.loop_count()).await?,
                None => false,
            },
            GatherPrompt::Pause(pause) => {
                let pause = tokio::time::sleep(Duration::from_secs(pause.length().into()));
                session.wait_or_digit(pause).await?.is_none()
            }
        };
        if heard {
            break 'prompts;
        }
    }
    let mut digits = String::new();
    let mut finished_on_key = None;
    loop {
        let Some(key) = session.next_digit(timeout).await? else {
            break;
        };
        if finish.contains(key) {
            finished_on_key = Some(key);
            break;
        }
        digits.push(key);
        if wanted == Some(digits.len()) {
            break;
        }
    }
    let data = serde_json::json!({
        "digits": digits,
        "finished_on_key": finished_on_key.map(String::from),
    });
    session.publish(events::GATHER_COMPLETED, data).await;
    if digits.is_empty() && !gather.action_on_empty_result() {
        return Ok(Next::Continue);
    }
    let mut extra = vec![("Digits".to_owned(), digits)];
    if let Some(key) = finished_on_key {
        extra.push(("FinishedOnKey".into(), key.to_string()));
    }
    match action_request(session, gather.action(), gather.method(), extra) {
        Some(request) => Ok(goto(request)),
        None => {
            bad_url(
                session,
                "Gather action",
                gather.action().map_or("", |a| a.as_str()),
            )
            .await
        }
    }
}

/// Plays one prompt `count` times; true when a digit interrupted it.
async fn play_prompt(
    session: &mut Session,
    app: &str,
    arg: &str,
    count: u32,
) -> Result<bool, Interrupt> {
    for _ in 0..repetitions(count) {
        if !session.dtmf.is_empty() {
            return Ok(true);
        }
        session.reacted();
        let execution = match session
            .node
            .client
            .execute(&session.uuid, app, Some(arg))
            .await
        {
            Ok(execution) => execution,
            Err(_) => return Err(Interrupt::HungUp),
        };
        if session.wait_or_digit(execution).await?.is_none() {
            // Barge-in: stop the prompt where the caller cut in.
            session
                .api(&format!("uuid_break {} all", session.uuid))
                .await;
            return Ok(true);
        }
    }
    Ok(false)
}

/// `<Record>`: records the caller to a WAV file, makes it a Recording, and
/// requests `action` with it.
async fn record_caller(session: &mut Session, record: &twiml::Record) -> Result<Next, Interrupt> {
    session.answer().await?;
    if record.play_beep() {
        session
            .execute("playback", Some("tone_stream://%(500,0,800)"))
            .await?;
    }
    let mut tape = Tape::new(
        session,
        "RecordVerb",
        record.trim(),
        record.recording_status_callback().map(|url| {
            (
                url,
                record.recording_status_callback_method(),
                record.recording_status_callback_event(),
            )
        }),
    );
    let keys = record.finish_on_key().0;
    let terminators = if keys.is_empty() {
        "none".to_owned()
    } else {
        keys
    };
    session
        .api(&format!(
            "uuid_setvar {} playback_terminators {terminators}",
            session.uuid
        ))
        .await;
    let arg = match record.timeout() {
        0 => format!("{} {}", tape.path.display(), record.max_length()),
        silence => format!(
            "{} {} {} {silence}",
            tape.path.display(),
            record.max_length(),
            media::SILENCE_THRESHOLD
        ),
    };
    tape.started(session).await;
    let outcome = session.execute("record", Some(&arg)).await;
    session
        .api(&format!(
            "uuid_setvar {} playback_terminators none",
            session.uuid
        ))
        .await;
    let digits = match &outcome {
        Ok(event) => event
            .variable("playback_terminator_used")
            .map(|d| d.into_owned())
            .unwrap_or_default(),
        Err(Interrupt::HungUp) => "hangup".to_owned(),
        Err(_) => String::new(),
    };
    let Some(kept) = tape.keep(session).await else {
        // Nothing was recorded: Twilio moves on to the next verb.
        return outcome.map(|_| Next::Continue);
    };
    let mut extra = kept.action_params();
    extra.push(("Digits".into(), digits));
    let request = action_request(session, record.action(), record.method(), extra);
    match outcome {
        Ok(_) => match request {
            Some(request) => Ok(goto(request)),
            None => {
                bad_url(
                    session,
                    "Record action",
                    record.action().map_or("", |a| a.as_str()),
                )
                .await
            }
        },
        Err(interrupt) => {
            // The caller hung up: Twilio still reports the recording, ignoring the answer.
            if let (Interrupt::HungUp, Some(action)) = (&interrupt, request) {
                report_action(session, action).await;
            }
            Err(interrupt)
        }
    }
}
