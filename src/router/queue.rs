//! Call queues (`<Enqueue>`, `<Dial><Queue>`, `<Leave>`): callers wait in
//! line hearing the queue's wait document until another call dequeues them
//! and is bridged to them, the REST API sends them elsewhere, or they leave.
//!
//! The line is live state of this instance; the queue itself (its name and
//! size) is a stored resource of the account.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;

use super::documents;
use super::hold::{self, Ended, Hold};
use super::session::{Interrupt, Session};
use super::verbs::{self, Next};
use super::Instructions;
use crate::events::event as events;
use crate::store::{now_millis, Queue, DEFAULT_QUEUE_SIZE};

/// The lines of every queue with callers in it, by queue SID.
#[derive(Default)]
pub struct Queues {
    lines: Mutex<HashMap<String, Line>>,
}

#[derive(Default)]
struct Line {
    waiting: VecDeque<Waiter>,
    /// Callers who left the line so far, and their total wait: the average.
    served: i64,
    waited_ms: i64,
    /// Wakes dequeuers waiting for someone to join.
    joined: Arc<Notify>,
}

struct Waiter {
    call_sid: String,
    node: String,
    enqueued_at: i64,
    exit: oneshot::Sender<Exit>,
    /// Cancelled once `exit` is sent: the hold music stops.
    released: CancellationToken,
}

/// How a waiting caller is taken out of the line.
#[derive(Debug)]
pub enum Exit {
    /// Another call dequeued them: bridge to it, and say when the bridge ends.
    Bridge {
        call_sid: String,
        uuid: String,
        /// The Queue noun's `url` (and method): run for them first.
        announcement: Option<(String, crate::webhook::Method)>,
        done: oneshot::Sender<()>,
    },
    /// The REST API sends them to new instructions.
    Redirect(Instructions),
}

/// A caller in line, as the REST API shows them.
#[derive(Debug, Clone)]
pub struct Member {
    pub call_sid: String,
    pub enqueued_at: i64,
    /// 1 is the front.
    pub position: usize,
}

impl Queues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Line>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a caller at the back of the line, unless it is full.
    fn join(&self, queue: &Queue, waiter: Waiter) -> bool {
        let mut lines = self.lock();
        let line = lines.entry(queue.sid.clone()).or_default();
        if line.waiting.len() as i64 >= queue.max_size {
            return false;
        }
        line.waiting.push_back(waiter);
        line.joined.notify_waiters();
        true
    }

    /// Takes a caller out of the line (if still in it), counting their wait.
    fn remove(&self, queue_sid: &str, call_sid: &str) -> Option<Waiter> {
        let mut lines = self.lock();
        let line = lines.get_mut(queue_sid)?;
        let at = line.waiting.iter().position(|w| w.call_sid == call_sid)?;
        let waiter = line.waiting.remove(at)?;
        line.served += 1;
        line.waited_ms += now_millis() - waiter.enqueued_at;
        Some(waiter)
    }

    /// The first caller on `node`, taken out of the line; or what to await
    /// for someone to join.
    fn front(&self, queue_sid: &str, node: &str) -> Result<Waiter, Arc<Notify>> {
        let mut lines = self.lock();
        let line = lines.entry(queue_sid.to_owned()).or_default();
        match line.waiting.iter().position(|w| w.node == node) {
            Some(at) => {
                let waiter = line
                    .waiting
                    .remove(at)
                    .expect("the position is in the line");
                line.served += 1;
                line.waited_ms += now_millis() - waiter.enqueued_at;
                Ok(waiter)
            }
            None => Err(line.joined.clone()),
        }
    }

    /// Who is in line now, front first.
    pub fn members(&self, queue_sid: &str) -> Vec<Member> {
        self.lock()
            .get(queue_sid)
            .map(|line| {
                line.waiting
                    .iter()
                    .enumerate()
                    .map(|(i, w)| Member {
                        call_sid: w.call_sid.clone(),
                        enqueued_at: w.enqueued_at,
                        position: i + 1,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The average wait, in seconds, of the callers who left the line.
    pub fn average_wait_secs(&self, queue_sid: &str) -> i64 {
        self.lock()
            .get(queue_sid)
            .filter(|line| line.served > 0)
            .map_or(0, |line| line.waited_ms / line.served / 1000)
    }

    /// Sends a caller in line (`None`: the front one) to new instructions;
    /// the caller dequeued, if there was one.
    pub fn redirect(
        &self,
        queue_sid: &str,
        call_sid: Option<&str>,
        instructions: Instructions,
    ) -> Option<Member> {
        let member = match call_sid {
            Some(call) => self
                .members(queue_sid)
                .into_iter()
                .find(|m| m.call_sid == call)?,
            None => self.members(queue_sid).into_iter().next()?,
        };
        let waiter = self.remove(queue_sid, &member.call_sid)?;
        let _ = waiter.exit.send(Exit::Redirect(instructions));
        waiter.released.cancel();
        Some(member)
    }

    /// Forgets a queue's line once nobody waits in it.
    fn tidy(&self, queue_sid: &str) {
        let mut lines = self.lock();
        if lines
            .get(queue_sid)
            .is_some_and(|l| l.waiting.is_empty() && Arc::strong_count(&l.joined) == 1)
        {
            lines.remove(queue_sid);
        }
    }
}

/// `<Enqueue>`: the caller waits in line until dequeued, redirected, or the
/// wait document says `<Leave>`; then the `action` hears how it went.
pub async fn enqueue(session: &mut Session, enqueue: &twiml::Enqueue) -> Result<Next, Interrupt> {
    let name = enqueue.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        let message = format!("Enqueue: {name:?} is not a queue name (1 to 64 characters)");
        session.notify(12200, &message, None, None, false).await;
        return Ok(Next::End);
    }
    session.answer().await?;
    let router = session.router.clone();
    let size = enqueue
        .max_queue_size()
        .map_or(DEFAULT_QUEUE_SIZE, |s| i64::from(*s));
    let queue = match router
        .store
        .queue_named(&session.call.account_sid, name, size)
        .await
    {
        Ok(queue) => queue,
        Err(e) => {
            tracing::error!(call = %session.call.sid, error = %e, "cannot find or create a queue");
            return result(session, enqueue, "system-error", None, 0, None).await;
        }
    };
    let enqueued_at = now_millis();
    let (exit_tx, mut exit) = oneshot::channel();
    let released = CancellationToken::new();
    let waiter = Waiter {
        call_sid: session.call.sid.clone(),
        node: session.node.name.clone(),
        enqueued_at,
        exit: exit_tx,
        released: released.clone(),
    };
    if !router.queues.join(&queue, waiter) {
        return result(session, enqueue, "queue-full", Some(&queue), 0, None).await;
    }
    let call_sid = session.call.sid.clone();
    let member = |reason: Option<&str>, waited: Option<i64>| {
        serde_json::json!({
            "queue_sid": queue.sid,
            "queue_name": name,
            "call_sid": call_sid,
            "reason": reason,
            "wait_time": waited,
        })
    };
    let data = member(None, None);
    session.publish(events::QUEUE_MEMBER_JOINED, data).await;
    let url = enqueue
        .wait_url()
        .map(|u| session.resolve(u.trim()).unwrap_or_default());
    let params = {
        let router = router.clone();
        let queue = queue.clone();
        let call_sid = session.call.sid.clone();
        move || {
            let members = router.queues.members(&queue.sid);
            let position = members
                .iter()
                .find(|m| m.call_sid == call_sid)
                .map_or(0, |m| m.position);
            let waited = (now_millis() - enqueued_at) / 1000;
            vec![
                ("QueuePosition".to_owned(), position.to_string()),
                ("QueueSid".into(), queue.sid.clone()),
                ("QueueTime".into(), waited.to_string()),
                (
                    "AvgQueueTime".into(),
                    router.queues.average_wait_secs(&queue.sid).to_string(),
                ),
                ("CurrentQueueSize".into(), members.len().to_string()),
                ("MaxQueueSize".into(), queue.max_size.to_string()),
            ]
        }
    };
    let music = Hold {
        url,
        method: verbs::method(enqueue.wait_url_method()),
        what: "Enqueue waitUrl",
        params: &params,
        released: &released,
        may_leave: true,
    };
    let ended = hold::hold(session, music).await;
    // Out of the line whatever happened; a dequeue took the caller out already.
    router.queues.remove(&queue.sid, &session.call.sid);
    router.queues.tidy(&queue.sid);
    let waited = (now_millis() - enqueued_at) / 1000;
    let reason = match &ended {
        Ok(Ended::Released) => "dequeued",
        Ok(Ended::Leave) => "leave",
        Ok(Ended::Hangup) | Err(Interrupt::HungUp) => "hangup",
        Err(_) => "redirected",
    };
    let data = member(Some(reason), Some(waited));
    session.publish(events::QUEUE_MEMBER_LEFT, data).await;
    let ended = match ended {
        Ok(ended) => ended,
        Err(Interrupt::HungUp) => {
            if let Some(action) = enqueue_action(session, enqueue, "hangup", &queue, waited, None) {
                verbs::report_action(session, action).await;
            }
            return Err(Interrupt::HungUp);
        }
        Err(other) => return Err(other),
    };
    session
        .api(&format!("uuid_break {} all", session.uuid))
        .await;
    match ended {
        Ended::Leave => result(session, enqueue, "leave", Some(&queue), waited, None).await,
        Ended::Hangup => {
            if let Some(action) = enqueue_action(session, enqueue, "hangup", &queue, waited, None) {
                verbs::report_action(session, action).await;
            }
            Ok(Next::End)
        }
        Ended::Released => match exit.try_recv() {
            Ok(Exit::Redirect(instructions)) => Ok(Next::Goto(instructions)),
            Ok(Exit::Bridge {
                call_sid,
                uuid,
                announcement,
                done,
            }) => {
                let announced = match announcement {
                    Some((url, method)) => {
                        let extra = vec![
                            ("QueueSid".to_owned(), queue.sid.clone()),
                            ("QueueTime".into(), waited.to_string()),
                            ("DequeingCallSid".into(), call_sid.clone()),
                        ];
                        announce(session, url, method, extra).await
                    }
                    None => Ok(true),
                };
                // The announcement may screen the caller out (`<Hangup>`).
                let (outcome, ended) = match announced {
                    Ok(true) => ("bridged", bridge(session, &uuid).await.err()),
                    Ok(false) => ("hangup", None),
                    Err(interrupt) => ("hangup", Some(interrupt)),
                };
                let _ = done.send(());
                if ended.is_some() || outcome == "hangup" {
                    // Over: Twilio still reports the result, ignoring the answer.
                    let dequeued_by = Some(call_sid.as_str());
                    let action =
                        enqueue_action(session, enqueue, outcome, &queue, waited, dequeued_by);
                    if let Some(action) = action {
                        verbs::report_action(session, action).await;
                    }
                    return ended.map_or(Ok(Next::End), Err);
                }
                result(
                    session,
                    enqueue,
                    "bridged",
                    Some(&queue),
                    waited,
                    Some(&call_sid),
                )
                .await
            }
            Err(_) => result(session, enqueue, "system-error", Some(&queue), waited, None).await,
        },
    }
}

/// Runs the Queue noun's `url` document for the dequeued caller before the
/// bridge (Twilio's announcement); whether to connect them after it, which
/// is when it runs out of verbs (not after a `<Hangup>` or a failure).
async fn announce(
    session: &mut Session,
    url: String,
    method: crate::webhook::Method,
    extra: Vec<(String, String)>,
) -> Result<bool, Interrupt> {
    let instructions = Instructions::Fetch {
        url,
        method,
        fallback: None,
        extra,
    };
    let ended = documents::run_to_end(session, instructions).await?;
    Ok(ended == documents::Ended::RanOut && session.hangup.is_none())
}

/// Bridges the caller's channel to another (both stay parked after), and
/// follows it until the bridge ends.
async fn bridge(session: &mut Session, other: &str) -> Result<(), Interrupt> {
    for uuid in [session.uuid.clone(), other.to_owned()] {
        session
            .api(&format!("uuid_setvar {uuid} park_after_bridge true"))
            .await;
    }
    let reply = session
        .api(&format!("uuid_bridge {} {other}", session.uuid))
        .await
        .unwrap_or_default();
    if !reply.starts_with("+OK") {
        tracing::warn!(call = %session.call.sid, %reply, "uuid_bridge refused");
        return Ok(());
    }
    if session.through_bridge().await? {
        tracing::debug!(call = %session.call.sid, %other, "bridge ended");
    } else {
        tracing::warn!(call = %session.call.sid, %other, "uuid_bridge accepted but no bridge began");
    }
    session
        .api(&format!(
            "uuid_setvar {} park_after_bridge false",
            session.uuid
        ))
        .await;
    Ok(())
}

/// The Enqueue `action` request for a result.
fn enqueue_action(
    session: &Session,
    enqueue: &twiml::Enqueue,
    outcome: &str,
    queue: &Queue,
    waited: i64,
    dequeued_by: Option<&str>,
) -> Option<verbs::Action> {
    enqueue.action()?;
    let mut extra = vec![
        ("QueueResult".to_owned(), outcome.to_owned()),
        ("QueueSid".into(), queue.sid.clone()),
        ("QueueTime".into(), waited.to_string()),
    ];
    if let Some(by) = dequeued_by {
        extra.push(("DequeingCallSid".into(), by.to_owned()));
    }
    verbs::action_request(session, enqueue.action(), enqueue.method(), extra)
}

/// Goes on after the queue: to the `action` with the result, else the next verb.
async fn result(
    session: &mut Session,
    enqueue: &twiml::Enqueue,
    outcome: &str,
    queue: Option<&Queue>,
    waited: i64,
    dequeued_by: Option<&str>,
) -> Result<Next, Interrupt> {
    let Some(queue) = queue else {
        return Ok(Next::Continue);
    };
    match enqueue_action(session, enqueue, outcome, queue, waited, dequeued_by) {
        Some(action) => Ok(verbs::goto(action)),
        None if enqueue.action().is_some() => {
            let action = enqueue.action().map_or("", |a| a.as_str());
            verbs::bad_url(session, "Enqueue action", action).await
        }
        None => Ok(Next::Continue),
    }
}

/// `<Dial><Queue>`: connects the caller to the first caller in line on the
/// same node, waiting up to the Dial timeout for one to join.
pub async fn dial(
    session: &mut Session,
    dial: &twiml::Dial,
    target: &twiml::Queue,
) -> Result<Next, Interrupt> {
    session.answer().await?;
    let router = session.router.clone();
    let name = target.name.trim();
    let queue = match router
        .store
        .find_queue(&session.call.account_sid, name)
        .await
    {
        Ok(Some(queue)) => queue,
        Ok(None) => return dial_result(session, dial, "failed", None, None).await,
        Err(e) => {
            tracing::error!(call = %session.call.sid, error = %e, "cannot read a queue");
            return dial_result(session, dial, "failed", None, None).await;
        }
    };
    let announcement = target
        .url()
        .and_then(|url| session.resolve(url.trim()))
        .map(|url| (url, verbs::method(target.method())));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(dial.timeout().into());
    let member = loop {
        match router.queues.front(&queue.sid, &session.node.name) {
            Ok(waiter) => {
                let (done_tx, done) = oneshot::channel();
                let exit = Exit::Bridge {
                    call_sid: session.call.sid.clone(),
                    uuid: session.uuid.clone(),
                    announcement: announcement.clone(),
                    done: done_tx,
                };
                if waiter.exit.send(exit).is_err() {
                    continue; // that caller just left: the next one
                }
                waiter.released.cancel();
                break Some((waiter.call_sid, waiter.enqueued_at, done));
            }
            Err(joined) => {
                let notified = joined.notified();
                let wait = tokio::time::timeout_at(deadline, notified);
                if session.wait(wait).await?.is_err() {
                    break None;
                }
            }
        }
    };
    router.queues.tidy(&queue.sid);
    let Some((member, enqueued_at, done)) = member else {
        return dial_result(session, dial, "no-answer", Some(&queue), None).await;
    };
    tracing::debug!(call = %session.call.sid, %member, queue = %queue.sid, "dequeued");
    let waited = (now_millis() - enqueued_at) / 1000;
    let bridged_at = now_millis();
    // The dequeued caller bridges the two and says when it ends.
    let _ = session.wait(done).await?;
    let talked = (now_millis() - bridged_at) / 1000;
    let bridged = Bridged {
        member: &member,
        waited,
        talked,
    };
    dial_result(session, dial, "completed", Some(&queue), Some(bridged)).await
}

/// The caller a Dial took out of a queue: how long they waited and talked.
struct Bridged<'a> {
    member: &'a str,
    waited: i64,
    talked: i64,
}

/// Goes on after a Dial to a queue: its `action` with the outcome, else the next verb.
async fn dial_result(
    session: &mut Session,
    dial: &twiml::Dial,
    status: &str,
    queue: Option<&Queue>,
    bridged: Option<Bridged<'_>>,
) -> Result<Next, Interrupt> {
    let Some(action) = dial.action() else {
        return Ok(Next::Continue);
    };
    let mut extra = vec![("DialCallStatus".to_owned(), status.to_owned())];
    if let Some(bridged) = bridged {
        extra.push(("DialCallSid".into(), bridged.member.to_owned()));
        extra.push(("DialCallDuration".into(), bridged.talked.to_string()));
        extra.push(("QueueTime".into(), bridged.waited.to_string()));
    }
    if let Some(queue) = queue {
        extra.push(("QueueSid".into(), queue.sid.clone()));
    }
    match verbs::action_request(session, Some(action), dial.method(), extra) {
        Some(request) => Ok(verbs::goto(request)),
        None => verbs::bad_url(session, "Dial action", action).await,
    }
}
