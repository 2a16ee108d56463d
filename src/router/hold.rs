//! Hold music: what a waiting caller hears (a conference not started yet, a
//! queue), from a wait document of Play, Say and Pause run in a loop until
//! the caller is released.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use twiml::Verb;

use super::session::{Interrupt, Session};
use super::verbs;
use super::Instructions;
use crate::webhook::Method;

/// Twilio's default wait music is a hosted service; a node has its own.
const LOCAL_HOLD_MUSIC: &str = "local_stream://moh";

/// How the caller waits.
pub struct Hold<'a> {
    /// The wait document; `None` is the node's own hold music, an empty URL silence.
    pub url: Option<String>,
    pub method: Method,
    /// What the wait document is, for notifications (`Enqueue waitUrl` …).
    pub what: &'static str,
    /// Parameters sent with each request for the document, beside the call's own.
    pub params: &'a (dyn Fn() -> Vec<(String, String)> + Send + Sync),
    /// Cancelled when the caller is released.
    pub released: &'a CancellationToken,
    /// Whether the document may end the wait itself (`<Leave>`, `<Hangup>`).
    pub may_leave: bool,
}

/// Why the music stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Released,
    /// The wait document said `<Leave>`.
    Leave,
    /// The wait document said `<Hangup>`.
    Hangup,
}

enum Music {
    /// A file played this many times.
    File(String, u32),
    Pause(u64),
    Stop(Ended),
}

/// Plays the hold music until the caller is released or the wait document
/// ends the wait. The caller's channel may still be playing: break it.
pub async fn hold(session: &mut Session, hold: Hold<'_>) -> Result<Ended, Interrupt> {
    let mut url = hold.url.clone();
    while !hold.released.is_cancelled() {
        let items = match url.clone() {
            None => vec![Music::File(LOCAL_HOLD_MUSIC.into(), 1)],
            Some(u) if u.trim().is_empty() => Vec::new(),
            Some(u) => document(session, &hold, &u, &mut url).await?,
        };
        if items.is_empty() {
            // Silence until released.
            let released = hold.released.clone();
            session
                .wait(async move { released.cancelled().await })
                .await?;
            continue;
        }
        for item in items {
            if hold.released.is_cancelled() {
                break;
            }
            match item {
                Music::File(file, times) => {
                    for _ in 0..times {
                        session.reacted();
                        let execution = match session
                            .node
                            .client
                            .execute(&session.uuid, "playback", Some(&file))
                            .await
                        {
                            Ok(execution) => execution,
                            Err(_) => return Err(Interrupt::HungUp),
                        };
                        match session.wait(unless(execution, hold.released)).await? {
                            Some(Ok(_)) => {}
                            Some(Err(_)) => return Err(Interrupt::HungUp),
                            None => break,
                        }
                    }
                }
                Music::Pause(secs) => {
                    let pause = tokio::time::sleep(Duration::from_secs(secs));
                    session.wait(unless(pause, hold.released)).await?;
                }
                Music::Stop(ended) => return Ok(ended),
            }
        }
    }
    Ok(Ended::Released)
}

/// Awaits `future` unless `released` is cancelled first (`None`).
async fn unless<F: Future>(future: F, released: &CancellationToken) -> Option<F::Output> {
    tokio::select! {
        output = future => Some(output),
        () = released.cancelled() => None,
    }
}

/// The wait document's verbs as music; a `<Redirect>` points `url` elsewhere
/// for the next round.
async fn document(
    session: &mut Session,
    hold: &Hold<'_>,
    wait_url: &str,
    url: &mut Option<String>,
) -> Result<Vec<Music>, Interrupt> {
    // The wait document's relative URLs are its own, not the call's document's.
    let document_url = session.document_url.clone();
    let instructions = Instructions::Fetch {
        url: wait_url.to_owned(),
        method: hold.method,
        fallback: None,
        extra: (hold.params)(),
    };
    let loaded = Box::pin(super::documents::load(session, &instructions)).await;
    let response = match loaded {
        Ok(Some(response)) => response,
        Ok(None) => {
            // The failure is a notification already: wait in silence.
            session.document_url = document_url;
            *url = Some(String::new());
            return Ok(Vec::new());
        }
        Err(interrupt) => {
            session.document_url = document_url;
            return Err(interrupt);
        }
    };
    let mut items = Vec::new();
    for verb in &response.verbs {
        match verb {
            Verb::Play(play) => {
                if let Some(file) = verbs::audio(session, &play.url).await? {
                    items.push(Music::File(file, verbs::repetitions(play.loop_count())));
                }
            }
            Verb::Say(say) => {
                if let Some(file) = verbs::speech(session, say).await? {
                    items.push(Music::File(file, verbs::repetitions(say.loop_count())));
                }
            }
            Verb::Pause(pause) => items.push(Music::Pause(pause.length().into())),
            Verb::Redirect(redirect) => {
                if let Some(next) = session.resolve(redirect.url.trim()) {
                    *url = Some(next);
                }
                break;
            }
            Verb::Leave(_) if hold.may_leave => {
                items.push(Music::Stop(Ended::Leave));
                break;
            }
            Verb::Hangup(_) if hold.may_leave => {
                items.push(Music::Stop(Ended::Hangup));
                break;
            }
            other => {
                let allowed = if hold.may_leave {
                    "Play, Say, Pause, Redirect, Leave, Hangup"
                } else {
                    "Play, Say, Pause, Redirect"
                };
                let message = format!(
                    "{}: {} is not allowed in a wait document ({allowed})",
                    hold.what,
                    other.name()
                );
                session.notify(12200, &message, None, None, true).await;
            }
        }
    }
    session.document_url = document_url;
    Ok(items)
}
