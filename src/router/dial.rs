//! `<Dial>` to people: Numbers, Sip addresses and Clients, all rung at once.
//!
//! Each party is a child call originated on the caller's node and parked;
//! the first to answer is bridged to the caller (`uuid_bridge`, the caller
//! parked after it so the document goes on), the others are cancelled. The
//! control plane, not the switch, keeps the race, so every party has its own
//! call record and status callbacks, and `hangupOnStar`, `timeLimit` and
//! `sendDigits` work the same on any node.

use std::time::Duration;

use esl::Event;
use tokio::time::Instant;
use twiml::{CallProgressEvent, DialRecord, DialTarget, RecordingTrack};

use super::recording::{Kept, Tape};
use super::session::{call_params, Interrupt, Session};
use super::verbs::{self, Next};
use super::{documents, unanswered_status, Instructions};
use crate::events::event as events;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Call, CallStatus};
use crate::webhook::{self, Method};

/// One party being rung: its child call and what the Dial asked for it.
struct Party {
    call: Call,
    uuid: String,
    dial_string: String,
    send_digits: Option<String>,
    /// `url`: a document run on the party's channel before the bridge.
    whisper: Option<(String, Method)>,
    callback: Option<(String, Method, Vec<CallProgressEvent>)>,
    answered_at: Option<i64>,
    /// Its CHANNEL_HANGUP_COMPLETE, once seen.
    hangup: Option<Event>,
    sequence: u32,
}

impl Party {
    fn cause(&self) -> Option<String> {
        self.hangup
            .as_ref()
            .and_then(|e| e.header("Hangup-Cause").map(|c| c.into_owned()))
    }

    fn billsec(&self) -> i64 {
        self.hangup
            .as_ref()
            .and_then(|e| e.variable("billsec"))
            .and_then(|b| b.parse().ok())
            .unwrap_or(0)
    }
}

/// `<Dial>` with Number, Sip and Client nouns.
pub async fn dial(session: &mut Session, dial: &twiml::Dial) -> Result<Next, Interrupt> {
    if !dial.answer_on_bridge() {
        session.answer().await?;
    }
    let mut parties = Vec::new();
    for target in &dial.targets {
        match party(session, dial, target) {
            Some(party) => parties.push(party),
            None => {
                let message = "Dial: a Conference or Queue cannot be dialled with other nouns";
                session.notify(12200, message, None, None, false).await;
                return Ok(Next::End);
            }
        }
    }
    if parties.is_empty() {
        session
            .notify(12200, "Dial: nobody to dial", None, None, false)
            .await;
        return Ok(Next::End);
    }
    // The caller stays when the dialled party hangs up: the document goes on.
    session
        .api(&format!(
            "uuid_setvar {} park_after_bridge true",
            session.uuid
        ))
        .await;
    let mut taping = Taping::prepare(session, dial).await;
    let outcome = Box::pin(connect(session, dial, &mut parties, &mut taping)).await;
    let (kept, interrupted) = match taping {
        Some(taping) => taping.stop(session).await,
        None => (None, None),
    };
    let outcome = match (outcome, interrupted) {
        (Ok(_), Some(interrupt)) => Err(interrupt),
        (outcome, _) => outcome,
    };
    // Whatever happened, no party outlives the Dial.
    for party in &parties {
        if party.hangup.is_none() {
            let cause = if party.answered_at.is_some() {
                "NORMAL_CLEARING"
            } else {
                "ORIGINATOR_CANCEL"
            };
            session
                .api(&format!("uuid_kill {} {cause}", party.uuid))
                .await;
        }
    }
    settle(session, &mut parties).await;
    let winner = match outcome {
        Ok(winner) => winner,
        Err(interrupt) => {
            finish_parties(session, &mut parties, None, true).await;
            publish_completed(session, &parties, None).await;
            if let (Interrupt::HungUp, Some(action)) = (
                &interrupt,
                action_request(session, dial, &parties, None, kept.as_ref()),
            ) {
                verbs::report_action(session, action).await;
            }
            return Err(interrupt);
        }
    };
    finish_parties(session, &mut parties, winner, false).await;
    publish_completed(session, &parties, winner).await;
    match dial.action() {
        Some(action) => match action_request(session, dial, &parties, winner, kept.as_ref()) {
            Some(request) => Ok(verbs::goto(request)),
            None => verbs::bad_url(session, "Dial action", action).await,
        },
        None => Ok(Next::Continue),
    }
}

/// A party for a Number, Sip or Client noun; `None` for a Conference or Queue.
fn party(session: &Session, dial: &twiml::Dial, target: &DialTarget) -> Option<Party> {
    let router = &session.router;
    let callback = |url: Option<&String>, method: twiml::Method, events: Vec<CallProgressEvent>| {
        url.and_then(|u| session.resolve(u.trim()))
            .map(|u| (u, verbs::method(method), events))
    };
    let whisper = |url: Option<&String>, method: twiml::Method| {
        url.and_then(|u| session.resolve(u.trim()))
            .map(|u| (u, verbs::method(method)))
    };
    let (to, dial_string, send_digits, callback, whisper) = match target {
        DialTarget::Number(n) => {
            let to = n.number.trim().to_owned();
            let dial_string = router.dial_string(&to);
            let digits = n.send_digits().map(|d| d.0.clone());
            let cb = callback(
                n.status_callback(),
                n.status_callback_method(),
                n.status_callback_event(),
            );
            (to, dial_string, digits, cb, whisper(n.url(), n.method()))
        }
        DialTarget::Sip(sip) => {
            let uri = sip.uri.trim().to_owned();
            let address = uri
                .trim_start_matches("sips:")
                .trim_start_matches("sip:")
                .split('?')
                .next()
                .unwrap_or("")
                .to_owned();
            let cb = callback(
                sip.status_callback(),
                sip.status_callback_method(),
                sip.status_callback_event(),
            );
            let whisper = whisper(sip.url(), sip.method());
            (uri, format!("sofia/external/{address}"), None, cb, whisper)
        }
        DialTarget::Client(client) => {
            let identity = client.identity.trim().to_owned();
            let cb = callback(
                client.status_callback(),
                client.status_callback_method(),
                client.status_callback_event(),
            );
            // A client registers as a directory user of the node's domain.
            let dial_string = format!("user/{identity}");
            let whisper = whisper(client.url(), client.method());
            (format!("client:{identity}"), dial_string, None, cb, whisper)
        }
        DialTarget::Conference(_) | DialTarget::Queue(_) => return None,
    };
    let parent = &session.call;
    let now = now_millis();
    let uuid = uuid::Uuid::new_v4().to_string();
    let call = Call {
        sid: Sid::new(Kind::Call).to_string(),
        account_sid: parent.account_sid.clone(),
        parent_call_sid: Some(parent.sid.clone()),
        direction: "outbound-dial".into(),
        from: dial
            .caller_id()
            .cloned()
            .unwrap_or_else(|| parent.from.clone()),
        to,
        caller_name: None,
        forwarded_from: None,
        status: CallStatus::Queued,
        answered_by: None,
        phone_number_sid: None,
        application_sid: None,
        url: None,
        method: "POST".into(),
        fallback_url: None,
        fallback_method: "POST".into(),
        twiml: None,
        status_callback: callback.as_ref().map(|(u, _, _)| u.clone()),
        status_callback_method: callback
            .as_ref()
            .map_or("POST", |(_, m, _)| m.as_str())
            .into(),
        status_callback_events: callback
            .as_ref()
            .map(|(_, _, events)| {
                events
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        timeout_secs: dial.timeout().into(),
        node: Some(session.node.name.clone()),
        channel_uuid: Some(uuid.clone()),
        start_time: None,
        end_time: None,
        duration: None,
        date_created: now,
        date_updated: now,
        send_digits: None,
        record: None,
        time_limit_secs: None,
    };
    Some(Party {
        call,
        uuid,
        dial_string,
        send_digits,
        whisper,
        callback,
        answered_at: None,
        hangup: None,
        sequence: 0,
    })
}

/// Rings every party, bridges the first to answer, and follows the bridge to
/// its end; the index of the party that answered, if one did.
async fn connect(
    session: &mut Session,
    dial: &twiml::Dial,
    parties: &mut [Party],
    taping: &mut Option<Taping>,
) -> Result<Option<usize>, Interrupt> {
    for party in parties.iter_mut() {
        if let Err(e) = session.router.store.insert_call(&party.call).await {
            tracing::error!(call = %party.call.sid, error = %e, "cannot record a dialled call");
        }
        session.node.claim_into(&party.uuid, session.events.clone());
        let vars = [
            format!("origination_uuid={}", party.uuid),
            format!("sb_call_sid={}", party.call.sid),
            format!("sb_account_sid={}", party.call.account_sid),
            format!("sb_parent_call_sid={}", session.call.sid),
            format!("origination_caller_id_number={}", party.call.from),
            format!("originate_timeout={}", dial.timeout()),
            "ignore_early_media=true".into(),
        ];
        let command = format!(
            "originate {{{}}}{} &park()",
            vars.join(","),
            party.dial_string
        );
        // The job's answer comes as the party's own events; only a refusal matters here.
        if let Err(e) = session.node.client.bgapi(&command).await {
            tracing::warn!(call = %party.call.sid, error = %e, "originate not accepted");
        }
        progress(session, party, CallStatus::Queued, "initiated").await;
    }
    if let Some(taping) = taping.as_mut().filter(|t| t.from_ringing) {
        taping.start(session).await;
    }
    // The caller hears ringing meanwhile, as on Twilio: as early media when
    // the call is answered only on bridge.
    if dial.answer_on_bridge() {
        session
            .api(&format!("uuid_pre_answer {}", session.uuid))
            .await;
    }
    let tone = ringback(dial.ring_tone(), &session.call);
    session
        .api(&format!(
            "uuid_broadcast {} tone_stream://{tone};loops=-1 aleg",
            session.uuid
        ))
        .await;
    let rung = first_to_answer(session, dial, parties).await;
    // The others lose the race; the one who answered hears its whisper.
    let whispered = match rung {
        Ok(Some(winner)) => {
            for (i, party) in parties.iter().enumerate() {
                if i != winner && party.hangup.is_none() {
                    session
                        .api(&format!("uuid_kill {} LOSE_RACE", party.uuid))
                        .await;
                }
            }
            Box::pin(whisper(session, &mut parties[winner]))
                .await
                .map(|connect| Some((winner, connect)))
        }
        other => other.map(|_| None),
    };
    session
        .api(&format!("uuid_break {} all", session.uuid))
        .await;
    let Some((winner, connect)) = whispered? else {
        return Ok(None);
    };
    if !connect {
        return Ok(Some(winner));
    }
    if dial.answer_on_bridge() {
        session.answer().await?;
    }
    let b = parties[winner].uuid.clone();
    if let Some(digits) = parties[winner].send_digits.clone() {
        session.api(&format!("uuid_send_dtmf {b} {digits}")).await;
    }
    let reply = session
        .api(&format!("uuid_bridge {} {b}", session.uuid))
        .await
        .unwrap_or_default();
    if !reply.starts_with("+OK") {
        tracing::warn!(call = %session.call.sid, %reply, "uuid_bridge refused");
        return Ok(Some(winner));
    }
    session.dtmf.clear();
    let patience = tokio::time::sleep(Duration::from_secs(5));
    if session.follow(patience, |s| s.bridged).await?.is_some() {
        tracing::warn!(call = %session.call.sid, "uuid_bridge accepted but no bridge began");
        return Ok(Some(winner));
    }
    if let Some(taping) = taping.as_mut().filter(|t| !t.from_ringing) {
        taping.start(session).await;
    }
    // Bridged until either side leaves, the time limit, or `*` with hangupOnStar.
    let limit = tokio::time::sleep(Duration::from_secs(dial.time_limit().into()));
    let ended = if dial.hangup_on_star() {
        session
            .follow(limit, |s| !s.bridged || s.dtmf.contains(&'*'))
            .await?
    } else {
        session.follow(limit, |s| !s.bridged).await?
    };
    let cause = match ended {
        Some(()) => Some("ALLOTTED_TIMEOUT"),
        None if session.bridged => Some("NORMAL_CLEARING"), // the caller pressed *
        None => None,
    };
    if let Some(cause) = cause {
        session.api(&format!("uuid_kill {b} {cause}")).await;
        session.dtmf.retain(|d| *d != '*');
    }
    Ok(Some(winner))
}

/// The party's `url` document, run on its own channel before the bridge (a
/// whisper, or call screening): whether to connect it, which is when the
/// document runs out of verbs with the party still there (not after a
/// `<Hangup>`). The party's call takes API controls meanwhile.
async fn whisper(session: &mut Session, party: &mut Party) -> Result<bool, Interrupt> {
    let Some((url, method)) = party.whisper.clone() else {
        return Ok(true);
    };
    let router = session.router.clone();
    let control = router.register(&party.call.sid);
    let mut whisperer = Session::new(
        router.clone(),
        party.call.clone(),
        session.auth_token.clone(),
        session.node.clone(),
        party.uuid.clone(),
        control,
    );
    whisperer.answered_at = party.answered_at;
    let instructions = Instructions::Fetch {
        url,
        method,
        fallback: None,
        extra: Vec::new(),
    };
    // The caller's own events still count meanwhile: its hangup ends the Dial.
    let ran = {
        let document = documents::run_to_end(&mut whisperer, instructions);
        session.wait(document).await
    };
    router.unregister(&party.call.sid);
    // The party's events are the Dial's again.
    session.node.claim_into(&party.uuid, session.events.clone());
    party.hangup = whisperer.hangup.take();
    let connect = matches!(ran?, Ok(documents::Ended::RanOut)) && party.hangup.is_none();
    Ok(connect)
}

/// Rings until one party answers (its index), all fail, or the Dial times out.
async fn first_to_answer(
    session: &mut Session,
    dial: &twiml::Dial,
    parties: &mut [Party],
) -> Result<Option<usize>, Interrupt> {
    let deadline = Instant::now() + Duration::from_secs(u64::from(dial.timeout()) + 2);
    loop {
        if parties.iter().all(|p| p.hangup.is_some()) {
            return Ok(None);
        }
        let Some(event) = session.next_leg_event(deadline).await? else {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            continue;
        };
        if let Some(answered) = take(session, parties, event).await {
            return Ok(Some(answered));
        }
    }
}

/// The ringback a caller hears while a Dial rings, as a FreeSWITCH tone:
/// `ringTone`'s country, else the country of the number the caller called
/// (or called from, for an API call). Cadences are FreeSWITCH's own
/// (`vars.xml`); a country it has none for hears 425 Hz, 1 s on and 4 s
/// off, the most common cadence of ITU-T E.180.
fn ringback(ring_tone: Option<&twiml::RingTone>, call: &Call) -> &'static str {
    let country = match ring_tone {
        Some(tone) => tone.0.as_str(),
        None => country_of(if call.direction == "inbound" {
            &call.to
        } else {
            &call.from
        }),
    };
    match country {
        "us" | "us-old" => "%(2000,4000,440,480)",
        "uk" => "%(400,200,400,450);%(400,2000,400,450)",
        "be" => "%(1000,3000,425)",
        "cn" => "%(1000,4000,450)",
        "es" => "%(1500,3000,425)",
        "fr" => "%(1500,3500,440)",
        "hu" => "%(1250,3750,425)",
        "il" => "%(1000,3000,400)",
        "in" => "%(400,200,425,375);%(400,2000,425,375)",
        "jp" => "%(1000,2000,420,380)",
        "pt" => "%(1000,5000,400)",
        "ru" => "%(800,3200,425)",
        _ => "%(1000,4000,425)",
    }
}

/// The ringTone country of an E.164 number, by its calling code, as far as
/// ringbacks differ; North America for a number that is not E.164.
fn country_of(number: &str) -> &'static str {
    const CODES: &[(&str, &str)] = &[
        ("+1", "us"),
        ("+44", "uk"),
        ("+32", "be"),
        ("+86", "cn"),
        ("+34", "es"),
        ("+33", "fr"),
        ("+36", "hu"),
        ("+972", "il"),
        ("+91", "in"),
        ("+81", "jp"),
        ("+351", "pt"),
        ("+7", "ru"),
        ("+", "other"),
    ];
    CODES
        .iter()
        .find(|(code, _)| number.starts_with(code))
        .map_or("us", |(_, country)| country)
}

/// Takes a leg event into its party; the party's index when it answered.
async fn take(session: &mut Session, parties: &mut [Party], event: Event) -> Option<usize> {
    let uuid = event.unique_id()?.into_owned();
    let at = parties.iter().position(|p| p.uuid == uuid)?;
    let name = event.event_name().map(|n| n.into_owned());
    match name.as_deref() {
        Some("CHANNEL_PROGRESS" | "CHANNEL_PROGRESS_MEDIA")
            if parties[at].call.status == CallStatus::Queued =>
        {
            progress(session, &mut parties[at], CallStatus::Ringing, "ringing").await;
            None
        }
        Some("CHANNEL_ANSWER") if parties[at].answered_at.is_none() => {
            parties[at].answered_at = Some(now_millis());
            progress(
                session,
                &mut parties[at],
                CallStatus::InProgress,
                "answered",
            )
            .await;
            Some(at)
        }
        Some("CHANNEL_HANGUP_COMPLETE") => {
            parties[at].hangup = Some(event);
            None
        }
        _ => None,
    }
}

/// Records a party's new status and sends its callback if it asked for it.
async fn progress(session: &mut Session, party: &mut Party, status: CallStatus, event: &str) {
    if status != party.call.status {
        party.call.status = status;
        let start = (status == CallStatus::InProgress).then(now_millis);
        if let Err(e) = session
            .router
            .store
            .set_call_status(&party.call.sid, status, start, None, None)
            .await
        {
            tracing::error!(call = %party.call.sid, error = %e, "cannot record a dialled call's status");
        }
    }
    let Some((url, method, events)) = &party.callback else {
        return;
    };
    if !events.iter().any(|e| e.as_str() == event) {
        return;
    }
    let mut params = call_params(&party.call);
    if event == "initiated" {
        for (name, value) in &mut params {
            if name == "CallStatus" {
                *value = "initiated".into();
            }
        }
    }
    params.push(("CallbackSource".into(), "call-progress-events".into()));
    params.push(("Timestamp".into(), crate::api::rfc2822(now_millis())));
    params.push(("SequenceNumber".into(), party.sequence.to_string()));
    party.sequence += 1;
    if party.call.status.is_final() {
        params.push(("CallDuration".into(), party.billsec().to_string()));
    }
    session
        .report(webhook::Request {
            url: url.clone(),
            method: *method,
            params,
        })
        .await;
}

/// Waits briefly for every party's hangup, which carries its billsec.
async fn settle(session: &mut Session, parties: &mut [Party]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while parties.iter().any(|p| p.hangup.is_none()) && Instant::now() < deadline {
        match session.next_leg_event(deadline).await {
            Ok(Some(event)) => {
                take(session, parties, event).await;
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
    for party in parties.iter() {
        session.node.release(&party.uuid);
    }
}

/// Records how each party's call ended.
async fn finish_parties(
    session: &mut Session,
    parties: &mut [Party],
    winner: Option<usize>,
    caller_gone: bool,
) {
    for party in parties.iter_mut() {
        let status = if party.answered_at.is_some() || party.billsec() > 0 {
            CallStatus::Completed
        } else {
            match party.cause().as_deref() {
                // Switchboard ended it: another party answered, or the caller left.
                Some("LOSE_RACE" | "ORIGINATOR_CANCEL") => CallStatus::Canceled,
                Some(cause) => unanswered_status(cause),
                None if caller_gone || winner.is_some() => CallStatus::Canceled,
                None => CallStatus::NoAnswer,
            }
        };
        let end = now_millis();
        let billsec = party.billsec();
        if let Err(e) = session
            .router
            .store
            .set_call_status(&party.call.sid, status, None, Some(end), Some(billsec))
            .await
        {
            tracing::error!(call = %party.call.sid, error = %e, "cannot record a dialled call's status");
        }
        party.call.status = status;
        progress(session, party, status, "completed").await;
    }
}

/// The Dial's status (DialCallStatus) and the party it reports: the
/// connected one, or the only one.
fn outcome(parties: &[Party], winner: Option<usize>) -> (CallStatus, Option<usize>) {
    let reported = winner.or((parties.len() == 1).then_some(0));
    let status = match (winner, reported) {
        (Some(_), _) => CallStatus::Completed,
        (None, Some(only)) => parties[only].call.status,
        (None, None) => CallStatus::NoAnswer,
    };
    let status = match status {
        CallStatus::Canceled if winner.is_none() => CallStatus::NoAnswer,
        s => s,
    };
    (status, reported)
}

/// Publishes `dial.completed`, with what the action would be told.
async fn publish_completed(session: &Session, parties: &[Party], winner: Option<usize>) {
    let (status, reported) = outcome(parties, winner);
    let party = reported.map(|i| &parties[i]);
    let data = serde_json::json!({
        "dial_call_status": status.as_str(),
        "dial_call_sid": party.map(|p| p.call.sid.clone()),
        "dial_call_duration": winner.map(|i| parties[i].billsec()),
        "to": party.map(|p| p.call.to.clone()),
    });
    session.publish(events::DIAL_COMPLETED, data).await;
}

/// The Dial action's request: DialCallStatus, and the connected (or only) party's call.
fn action_request(
    session: &Session,
    dial: &twiml::Dial,
    parties: &[Party],
    winner: Option<usize>,
    kept: Option<&Kept>,
) -> Option<verbs::Action> {
    dial.action()?;
    let (status, reported) = outcome(parties, winner);
    let mut extra = vec![("DialCallStatus".to_owned(), status.as_str().to_owned())];
    if let Some(i) = reported {
        extra.push(("DialCallSid".into(), parties[i].call.sid.clone()));
    }
    if let Some(i) = winner {
        extra.push(("DialCallDuration".into(), parties[i].billsec().to_string()));
    }
    if let Some(kept) = kept {
        extra.extend(kept.action_params());
    }
    verbs::action_request(session, dial.action(), dial.method(), extra)
}

/// `<Dial record>`: the caller's channel recorded, from the parties ringing
/// or from the bridge, until the Dial ends; both legs mixed, or each on its
/// own channel (`-dual`, FreeSWITCH's `RECORD_STEREO`).
struct Taping {
    tape: Tape,
    from_ringing: bool,
    dual: bool,
    track: RecordingTrack,
}

impl Taping {
    async fn prepare(session: &mut Session, dial: &twiml::Dial) -> Option<Taping> {
        let (from_ringing, dual) = match dial.record() {
            DialRecord::DoNotRecord => return None,
            DialRecord::RecordFromAnswer => (false, false),
            DialRecord::RecordFromRinging => (true, false),
            DialRecord::RecordFromAnswerDual => (false, true),
            DialRecord::RecordFromRingingDual => (true, true),
        };
        let tape = Tape::new(
            session,
            "DialVerb",
            dial.trim(),
            dial.recording_status_callback().map(|url| {
                (
                    url,
                    dial.recording_status_callback_method(),
                    dial.recording_status_callback_event(),
                )
            }),
        );
        Some(Taping {
            tape,
            from_ringing,
            dual,
            track: dial.recording_track(),
        })
    }

    async fn start(&mut self, session: &mut Session) {
        self.tape.start(session, self.dual, self.track).await;
    }

    /// Stops the recording (the switch has already, if the caller hung up)
    /// and keeps it as a Recording of the call; with what interrupted the
    /// wait for the file, if something did.
    async fn stop(self, session: &mut Session) -> (Option<Kept>, Option<Interrupt>) {
        if !self.tape.is_started() {
            return (None, None);
        }
        let path = self.tape.path.display().to_string();
        let mut interrupted = None;
        if session.hangup.is_none() {
            session.stopped_recordings.clear();
            session
                .api(&format!("uuid_record {} stop {path}", session.uuid))
                .await;
            // The file is complete once the switch reports its RECORD_STOP.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !session.stopped_recordings.contains(&path) && Instant::now() < deadline {
                session.stopped_recordings.clear();
                let until = tokio::time::sleep_until(deadline);
                if let Err(interrupt) = session.follow(until, recording_stopped).await {
                    // A hangup closes the file too; an API control waits its turn.
                    interrupted = Some(interrupt);
                    break;
                }
            }
        }
        session.stopped_recordings.retain(|p| *p != path);
        let kept = self.tape.keep(session).await;
        (kept, interrupted)
    }
}

/// Whether the switch has reported a recording finished since the list was emptied.
fn recording_stopped(session: &Session) -> bool {
    !session.stopped_recordings.is_empty()
}
