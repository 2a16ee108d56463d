//! Commands for calls and conference rooms another instance runs. The REST
//! API may reach any instance, but only the one following a call's media
//! node (or holding a room) can act on it. With Redis, an instance that does
//! not run the call publishes the command on one channel every instance
//! listens to; the instance that runs it carries it out and answers with the
//! outcome on the asker's own channel. No answer within [`PATIENCE`] means
//! the call or room is live nowhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::{CallRouter, Control, Instructions};
use crate::store::CallStatus;
use crate::webhook::Method;

/// The channel every instance listens to for commands.
const CONTROLS: &str = "switchboard:calls:control";
/// How long an asker waits for the instance running the call (or holding
/// the room) to answer.
const PATIENCE: Duration = Duration::from_secs(2);
/// How long a listener whose connection broke waits before it reconnects.
const RECONNECT: Duration = Duration::from_secs(1);

/// This instance's side of the relay: its publishing connection, its
/// answer channel, and the commands it waits to hear answered.
pub struct Relay {
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
    answers: String,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
}

/// A command on the wire.
#[derive(Serialize, Deserialize)]
struct Ask {
    id: String,
    answer_to: String,
    command: Command,
}

/// What one instance asks of the one that runs a call or holds a room.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// The REST API's redirect or end of a live call.
    Call { call_sid: String, control: Wire },
    /// `Status=completed` on a conference.
    EndConference {
        account_sid: String,
        conference_sid: String,
    },
    /// A participant muted, held, or removed.
    Participant {
        account_sid: String,
        conference_sid: String,
        call_sid: String,
        change: Change,
    },
}

/// What becomes of a conference participant.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Update {
        muted: Option<bool>,
        hold: Option<bool>,
    },
    Kick,
}

/// How a command went, as the instance that carried it out says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// The call is not in the room.
    NotParticipant,
    /// The media node refused: its reason.
    Refused(String),
}

#[derive(Serialize, Deserialize)]
struct Answer {
    id: String,
    outcome: Outcome,
}

/// A call's control on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    End(String),
    Inline(String),
    Fetch {
        url: String,
        method: String,
        fallback: Option<(String, String)>,
        extra: Vec<(String, String)>,
    },
}

impl Relay {
    pub fn new(client: redis::Client, conn: redis::aio::ConnectionManager) -> Relay {
        Relay {
            client,
            conn,
            answers: format!("switchboard:calls:answers:{}", crate::sid::new_secret()),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Hands `command` to the instance that runs its call or holds its
    /// room: the outcome it answers, or `None` when none answers.
    pub async fn ask(&self, command: Command) -> Option<Outcome> {
        let id = crate::sid::new_secret();
        let ask = Ask {
            id: id.clone(),
            answer_to: self.answers.clone(),
            command,
        };
        let ask = serde_json::to_string(&ask).ok()?;
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(id.clone(), tx);
        let listeners: redis::RedisResult<i64> = self.conn.clone().publish(CONTROLS, ask).await;
        // Only this instance listening: nobody else can run it.
        let outcome = match listeners {
            Ok(n) if n > 1 => tokio::time::timeout(PATIENCE, rx)
                .await
                .ok()
                .and_then(Result::ok),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot relay a command to the other instances");
                None
            }
        };
        self.waiting().remove(&id);
        outcome
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Outcome>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Listens for other instances' commands and for answers to this one's,
    /// until the router stops; a broken connection is made again.
    pub async fn listen(self: Arc<Relay>, router: CallRouter) {
        let token = router.inner.token.clone();
        loop {
            match self.subscribe().await {
                Ok(pubsub) => {
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let message = tokio::select! {
                            message = messages.next() => message,
                            () = token.cancelled() => return,
                        };
                        let Some(message) = message else { break };
                        self.receive(&router, &message);
                    }
                    tracing::warn!("the command relay's Redis connection closed; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for relayed commands"),
            }
            tokio::select! {
                () = tokio::time::sleep(RECONNECT) => {}
                () = token.cancelled() => return,
            }
        }
    }

    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(CONTROLS).await?;
        pubsub.subscribe(&self.answers).await?;
        Ok(pubsub)
    }

    fn receive(self: &Arc<Relay>, router: &CallRouter, message: &redis::Msg) {
        let Ok(payload) = message.get_payload::<String>() else {
            return;
        };
        if message.get_channel_name() == self.answers {
            if let Ok(answer) = serde_json::from_str::<Answer>(&payload) {
                if let Some(waiter) = self.waiting().remove(&answer.id) {
                    let _ = waiter.send(answer.outcome);
                }
            }
            return;
        }
        let ask = match serde_json::from_str::<Ask>(&payload) {
            Ok(ask) if ask.answer_to != self.answers => ask,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "a relayed command that cannot be read");
                return;
            }
        };
        // Not on the listener's own time: a call's control queue may be full.
        let (relay, router) = (self.clone(), router.clone());
        router.inner.tracker.clone().spawn(async move {
            let Some(outcome) = router.carry_out_here(ask.command).await else {
                return;
            };
            let answer = Answer {
                id: ask.id,
                outcome,
            };
            let Ok(answer) = serde_json::to_string(&answer) else {
                return;
            };
            let sent: redis::RedisResult<i64> =
                relay.conn.clone().publish(&ask.answer_to, answer).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot answer a relayed command");
            }
        });
    }
}

impl From<&Control> for Wire {
    fn from(control: &Control) -> Wire {
        match control {
            Control::End(status) => Wire::End(status.as_str().to_owned()),
            Control::Redirect(Instructions::Inline(twiml)) => Wire::Inline(twiml.clone()),
            Control::Redirect(Instructions::Fetch {
                url,
                method,
                fallback,
                extra,
            }) => Wire::Fetch {
                url: url.clone(),
                method: method.as_str().to_owned(),
                fallback: fallback
                    .as_ref()
                    .map(|(url, method)| (url.clone(), method.as_str().to_owned())),
                extra: extra.clone(),
            },
        }
    }
}

impl Wire {
    pub fn into_control(self) -> Option<Control> {
        Some(match self {
            Wire::End(status) => Control::End(CallStatus::parse(&status)?),
            Wire::Inline(twiml) => Control::Redirect(Instructions::Inline(twiml)),
            Wire::Fetch {
                url,
                method,
                fallback,
                extra,
            } => Control::Redirect(Instructions::Fetch {
                url,
                method: Method::parse(Some(&method)),
                fallback: fallback.map(|(url, method)| (url, Method::parse(Some(&method)))),
                extra,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_crosses_the_wire_unchanged() {
        let controls = [
            Control::End(CallStatus::Completed),
            Control::End(CallStatus::Canceled),
            Control::Redirect(Instructions::Inline(
                "<Response><Hangup/></Response>".into(),
            )),
            Control::Redirect(Instructions::Fetch {
                url: "https://app.example/next".into(),
                method: Method::Get,
                fallback: Some(("https://app.example/fallback".into(), Method::Post)),
                extra: vec![("Digits".into(), "12".into())],
            }),
        ];
        for control in controls {
            let json = serde_json::to_string(&Wire::from(&control)).unwrap();
            let back = serde_json::from_str::<Wire>(&json)
                .unwrap()
                .into_control()
                .unwrap();
            assert_eq!(format!("{back:?}"), format!("{control:?}"), "{json}");
        }
    }
}
