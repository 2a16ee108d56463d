//! Getting a call's instructions: request the application's URL (falling back
//! to its FallbackUrl), read the answer as TwiML XML or JSON, refuse what
//! Switchboard does not execute, and run the verbs in order.

use twiml::{Format, Response};

use super::session::{Interrupt, Session};
use super::verbs::{self, Next};
use super::Instructions;
use crate::webhook::{self, WebhookError};

/// Runs `instructions` and every document they lead to, until the verbs run
/// out (the call is then hung up) or something interrupts.
pub async fn run(session: &mut Session, instructions: Instructions) -> Result<(), Interrupt> {
    run_to_end(session, instructions).await.map(|_| ())
}

/// How a run of documents ended without an interruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The last document ran out of verbs.
    RanOut,
    /// A verb ended the call (`<Hangup>`, `<Reject>`, or a refused document).
    Ended,
}

/// As [`run`], saying how the documents ended.
pub async fn run_to_end(
    session: &mut Session,
    mut instructions: Instructions,
) -> Result<Ended, Interrupt> {
    loop {
        let Some(response) = Box::pin(load(session, &instructions)).await? else {
            return Ok(Ended::Ended);
        };
        let mut next = None;
        for verb in &response.verbs {
            match Box::pin(verbs::execute(session, verb)).await? {
                Next::Continue => {}
                Next::Goto(instructions) => {
                    next = Some(instructions);
                    break;
                }
                Next::End => return Ok(Ended::Ended),
            }
        }
        match next {
            Some(following) => instructions = following,
            // Twilio hangs up when a document runs out of verbs.
            None => return Ok(Ended::RanOut),
        }
    }
}

/// The document `instructions` name, or `None` when the call must end (the
/// failure is recorded as a notification).
pub(super) async fn load(
    session: &mut Session,
    instructions: &Instructions,
) -> Result<Option<Response>, Interrupt> {
    let (body, format, request) = match instructions {
        Instructions::Inline(twiml) => {
            session.document_url = None;
            (twiml.clone(), Format::Xml, None)
        }
        Instructions::Fetch {
            url,
            method,
            fallback,
            extra,
        } => {
            let mut params = session.params();
            params.extend(extra.iter().cloned());
            let request = webhook::Request {
                url: url.clone(),
                method: *method,
                params,
            };
            let answer = match fetch(session, &request).await? {
                Ok(answer) => Ok((answer, request)),
                Err(()) => match fallback {
                    Some((fallback_url, fallback_method)) => {
                        let mut params = session.params();
                        params.push(("ErrorCode".into(), "11200".into()));
                        params.push(("ErrorUrl".into(), url.clone()));
                        let request = webhook::Request {
                            url: fallback_url.clone(),
                            method: *fallback_method,
                            params,
                        };
                        fetch(session, &request)
                            .await?
                            .map(|answer| (answer, request))
                    }
                    None => Err(()),
                },
            };
            let Ok((answer, request)) = answer else {
                return Ok(None);
            };
            let Some(format) = Format::from_content_type(&answer.content_type) else {
                session
                    .notify(
                        12300,
                        &format!(
                            "Invalid Content-Type {:?}: TwiML must be XML or JSON",
                            answer.content_type
                        ),
                        Some(&request),
                        Some(&answer.body),
                        false,
                    )
                    .await;
                return Ok(None);
            };
            session.document_url = Some(request.url.clone());
            (answer.body, format, Some(request))
        }
    };
    let parsed = match twiml::parse(&body, format) {
        Ok(parsed) => parsed,
        Err(e) => {
            session
                .notify(
                    e.code(),
                    &e.to_string(),
                    request.as_ref(),
                    Some(&body),
                    false,
                )
                .await;
            return Ok(None);
        }
    };
    for warning in &parsed.warnings {
        session
            .notify(
                warning.code(),
                &warning.to_string(),
                request.as_ref(),
                None,
                true,
            )
            .await;
    }
    if let Some(feature) = parsed.response.first_unsupported(verbs::supported) {
        session
            .notify(
                12200,
                &format!("{feature} is not supported by Switchboard yet"),
                request.as_ref(),
                Some(&body),
                false,
            )
            .await;
        return Ok(None);
    }
    Ok(Some(parsed.response))
}

/// Requests a document; a failure is recorded with Twilio's code.
async fn fetch(
    session: &mut Session,
    request: &webhook::Request,
) -> Result<Result<webhook::Answer, ()>, Interrupt> {
    let webhooks = session.router.webhooks.clone();
    let token = session.auth_token.clone();
    let sent = session
        .wait(async move { webhooks.send(request, &token).await })
        .await?;
    // The application's own latency is not Switchboard's reaction time.
    session.woken = None;
    match sent {
        Ok(answer) => Ok(Ok(answer)),
        Err(error) => {
            let (code, body) = match &error {
                WebhookError::Status { body, .. } => (11200, Some(body.as_str())),
                WebhookError::TooLarge { .. } => (11750, None),
                WebhookError::BadUrl { .. } => (11100, None),
                WebhookError::Unreachable { .. } | WebhookError::Timeout { .. } => (11205, None),
            };
            session
                .notify(code, &error.to_string(), Some(request), body, false)
                .await;
            Ok(Err(()))
        }
    }
}
