//! The engine shared by the inbound [`crate::Client`] and the outbound
//! [`crate::OutboundSession`]: one task owns the socket, writes commands, matches
//! replies to them strictly in order, correlates `BACKGROUND_JOB` and
//! `CHANNEL_EXECUTE_COMPLETE` events to their futures, and hands everything else to a
//! bounded channel.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::Framed;

use crate::codec::ClientCodec;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::frame::{ContentType, Frame};

/// Read buffer of a connection: FreeSWITCH events are 1–10 KiB and arrive in
/// bursts, so read in large gulps (up to this much per `read`).
pub(crate) const READ_BUFFER: usize = 128 * 1024;

/// A read into less free space than this first moves to a fresh buffer of
/// [`READ_BUFFER`] (decoded frames keep sharing the old one), so every read can carry
/// many events.
const READ_MIN: usize = READ_BUFFER / 4;

/// What the event channel carries.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// An event (any format, already parsed).
    Event(Event),
    /// A `log/data` frame (after `log <level>`).
    Log(Frame),
    /// A `text/disconnect-notice`: `Content-Disposition: linger` (outbound, the channel
    /// hung up but the socket stays for `Linger-Time`) or a final `disconnect`.
    Disconnect(Frame),
    /// The inbound client lost its connection; it will reconnect if configured to.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The inbound client connected again, authenticated and re-subscribed. Events in
    /// between were missed.
    Reconnected,
}

/// What to do with an event when the event channel is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Stop reading the socket until there is room (lossless: TCP pushes back to
    /// FreeSWITCH). Each such wait is counted in [`Stats::backpressure_waits`]. Replies
    /// queued behind the waiting event wait too, so the consumer must keep draining
    /// events while it awaits commands.
    #[default]
    Backpressure,
    /// Drop the event and count it in [`Stats::events_dropped`].
    DropNewest,
}

/// Counters of one client or session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Event frames received (parsed or not).
    pub events_received: u64,
    /// Events (and log frames) handed to the event channel.
    pub events_delivered: u64,
    /// Events dropped: channel full under [`Overflow::DropNewest`], or the receiver gone.
    pub events_dropped: u64,
    /// Times the reader waited for room in the channel under [`Overflow::Backpressure`].
    pub backpressure_waits: u64,
    /// Event bodies that failed to parse (counted and skipped).
    pub parse_errors: u64,
    /// Replies that arrived with no command waiting for them.
    pub unexpected_replies: u64,
    /// Successful reconnections (inbound client).
    pub reconnects: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) events_received: AtomicU64,
    pub(crate) events_delivered: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) backpressure_waits: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) unexpected_replies: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    /// Set when `exit` was sent: the end of the connection is expected.
    pub(crate) exiting: AtomicBool,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            events_received: g(&self.events_received),
            events_delivered: g(&self.events_delivered),
            events_dropped: g(&self.events_dropped),
            backpressure_waits: g(&self.backpressure_waits),
            parse_errors: g(&self.parse_errors),
            unexpected_replies: g(&self.unexpected_replies),
            reconnects: g(&self.reconnects),
        }
    }

    fn bump(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }
}

type Waiter<T> = oneshot::Sender<Result<T>>;

pub(crate) struct Request {
    pub(crate) cmd: Command,
    pub(crate) reply: Waiter<Frame>,
    pub(crate) job: Option<(String, Waiter<Event>)>,
    pub(crate) exec: Option<(String, Waiter<Event>)>,
}

/// Settings of one engine run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunConfig {
    pub(crate) overflow: Overflow,
    /// Close the connection when nothing arrives for this long.
    pub(crate) liveness: Option<Duration>,
}

/// Why a run ended.
#[derive(Debug)]
pub(crate) enum End {
    /// Every handle was dropped.
    Shutdown,
    /// The connection ended (EOF after `exit`, an I/O or protocol error, liveness).
    Closed(Error),
}

/// Decides which events reach the channel (the client hides the events it only
/// subscribed to for its own bookkeeping).
pub(crate) type DeliverFilter = Arc<dyn Fn(&Event) -> bool + Send + Sync>;

pub(crate) async fn run<S>(
    framed: &mut Framed<S, ClientCodec>,
    requests: &mut mpsc::Receiver<Request>,
    events: &mpsc::Sender<Incoming>,
    counters: &Counters,
    cfg: RunConfig,
    deliver: Option<&DeliverFilter>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut pending: VecDeque<Waiter<Frame>> = VecDeque::new();
    let mut jobs: HashMap<String, Waiter<Event>> = HashMap::new();
    let mut execs: HashMap<String, Waiter<Event>> = HashMap::new();
    let mut queued: Option<Incoming> = None;
    let far = Duration::from_secs(86400 * 365);
    let liveness = cfg.liveness.unwrap_or(far);
    let sleep = tokio::time::sleep(liveness);
    tokio::pin!(sleep);
    // Re-arming a timer per frame is costly; remember when the last frame came and
    // check when the timer fires.
    let mut last_rx = Instant::now();
    // Whether the read buffer holds no whole frame (the handshake may have left some).
    let mut drained = false;

    let end = loop {
        tokio::select! {
            biased;
            req = requests.recv() => {
                let Some(req) = req else { break End::Shutdown };
                if matches!(req.cmd, Command::Exit) {
                    counters.exiting.store(true, Ordering::Relaxed);
                }
                if let Err(e) = framed.send(&req.cmd).await {
                    let _ = req.reply.send(Err(Error::Closed));
                    break End::Closed(e);
                }
                pending.push_back(req.reply);
                if let Some((id, w)) = req.job {
                    jobs.insert(id, w);
                }
                if let Some((id, w)) = req.exec {
                    execs.insert(id, w);
                }
            }
            permit = events.reserve(), if queued.is_some() => {
                match (permit, queued.take()) {
                    (Ok(p), Some(item)) => {
                        p.send(item);
                        Counters::bump(&counters.events_delivered);
                    }
                    _ => Counters::bump(&counters.events_dropped),
                }
            }
            read = read_more(framed, !drained), if queued.is_none() => {
                match read {
                    Ok(0) => {
                        // EOF: what is left must be whole frames (none are: everything
                        // decodable was decoded before reading).
                        break End::Closed(match next_buffered_eof(framed) {
                            Err(e) => e,
                            Ok(_) => Error::Closed,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => break End::Closed(e.into()),
                }
                if cfg.liveness.is_some() {
                    last_rx = Instant::now();
                }
                drained = true;
                // Handle every frame now buffered, without going back through
                // `select!` for each.
                let delivered_before = counters.events_delivered.load(Ordering::Relaxed);
                let mut ended = None;
                let mut frame = match next_buffered(framed) {
                    Ok(Some(f)) => f,
                    Ok(None) => continue,
                    Err(e) => break End::Closed(e),
                };
                loop {
                    let mut st = State {
                        pending: &mut pending,
                        jobs: &mut jobs,
                        execs: &mut execs,
                        queued: &mut queued,
                    };
                    if let Err(end) = on_frame(frame, &mut st, events, counters, cfg, deliver) {
                        ended = Some(end);
                        break;
                    }
                    if queued.is_some() {
                        // More whole frames may be buffered: decode them before
                        // reading again.
                        drained = false;
                        break;
                    }
                    frame = match next_buffered(framed) {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(e) => {
                            ended = Some(End::Closed(e));
                            break;
                        }
                    };
                }
                if let Some(end) = ended {
                    break end;
                }
                if delivered_before != counters.events_delivered.load(Ordering::Relaxed) {
                    // Let the consumer take what this read produced before reading
                    // more: when it keeps up (the usual case, and always when it
                    // shares this thread), events are consumed while their bytes are
                    // still in cache instead of piling up to the channel's capacity.
                    // The capacity still bounds a slow consumer as before.
                    tokio::task::yield_now().await;
                }
            }
            () = &mut sleep => {
                let deadline = last_rx + liveness;
                if deadline > Instant::now() {
                    sleep.as_mut().reset(deadline);
                } else {
                    break End::Closed(Error::Timeout);
                }
            }
        }
    };
    if let Some(item) = queued.take() {
        // Deliver what was read before the end, if there is room.
        if events.try_send(item).is_err() {
            Counters::bump(&counters.events_dropped);
        }
    }
    for w in pending {
        let _ = w.send(Err(Error::Closed));
    }
    for (_, w) in jobs.into_iter().chain(execs) {
        let _ = w.send(Err(Error::Closed));
    }
    end
}

struct State<'a> {
    pending: &'a mut VecDeque<Waiter<Frame>>,
    jobs: &'a mut HashMap<String, Waiter<Event>>,
    execs: &'a mut HashMap<String, Waiter<Event>>,
    queued: &'a mut Option<Incoming>,
}

/// Decodes the next frame already in the read buffer, if a whole one is there.
fn next_buffered<S>(framed: &mut Framed<S, ClientCodec>) -> Result<Option<Frame>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = std::mem::take(framed.read_buffer_mut());
    let r = tokio_util::codec::Decoder::decode(framed.codec_mut(), &mut buf);
    *framed.read_buffer_mut() = buf;
    r
}

/// Reads more bytes into the read buffer (into a fresh one of [`READ_BUFFER`] if
/// little room is left); with `skip`, returns at once so the buffer gets decoded first.
async fn read_more<S>(framed: &mut Framed<S, ClientCodec>, skip: bool) -> std::io::Result<usize>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if skip {
        return Ok(usize::MAX);
    }
    std::future::poll_fn(|cx| {
        // Taken out and put back within one poll, so a cancelled read loses nothing.
        let mut buf = std::mem::take(framed.read_buffer_mut());
        if buf.capacity() - buf.len() < READ_MIN {
            buf.reserve(READ_BUFFER);
        }
        let r = {
            let read = tokio::io::AsyncReadExt::read_buf(framed.get_mut(), &mut buf);
            std::pin::pin!(read).poll(cx)
        };
        *framed.read_buffer_mut() = buf;
        r
    })
    .await
}

/// At EOF: the frame left in the read buffer, or the error for a truncated one.
fn next_buffered_eof<S>(framed: &mut Framed<S, ClientCodec>) -> Result<Option<Frame>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = std::mem::take(framed.read_buffer_mut());
    let r = tokio_util::codec::Decoder::decode_eof(framed.codec_mut(), &mut buf);
    *framed.read_buffer_mut() = buf;
    r
}

/// Routes one frame: replies to their waiter (strictly in order), events through
/// correlation and the delivery filter into the channel.
fn on_frame(
    frame: Frame,
    st: &mut State<'_>,
    events: &mpsc::Sender<Incoming>,
    counters: &Counters,
    cfg: RunConfig,
    deliver: Option<&DeliverFilter>,
) -> std::result::Result<(), End> {
    let item = match frame.kind() {
        ContentType::CommandReply | ContentType::ApiResponse => {
            match st.pending.pop_front() {
                Some(w) => {
                    let _ = w.send(Ok(frame));
                }
                None => Counters::bump(&counters.unexpected_replies),
            }
            return Ok(());
        }
        kind @ (ContentType::EventPlain | ContentType::EventJson | ContentType::EventXml) => {
            Counters::bump(&counters.events_received);
            // `Frame::to_event` without looking the content type up again.
            let body = frame.body().cloned().unwrap_or_default();
            let ev = match kind.event_format().map(|f| Event::parse(f, body)) {
                Some(Ok(ev)) => ev,
                _ => {
                    Counters::bump(&counters.parse_errors);
                    return Ok(());
                }
            };
            correlate(&ev, st.jobs, st.execs);
            if let Some(f) = deliver {
                if !f(&ev) {
                    return Ok(());
                }
            }
            Incoming::Event(ev)
        }
        ContentType::LogData => Incoming::Log(frame),
        ContentType::DisconnectNotice => Incoming::Disconnect(frame),
        ContentType::RudeRejection => {
            return Err(End::Closed(Error::Protocol(format!(
                "rude rejection: {}",
                frame.body_str().unwrap_or("").trim_end()
            ))));
        }
        _ => return Ok(()),
    };
    match events.try_send(item) {
        Ok(()) => Counters::bump(&counters.events_delivered),
        Err(mpsc::error::TrySendError::Full(item)) => match cfg.overflow {
            Overflow::Backpressure => {
                Counters::bump(&counters.backpressure_waits);
                *st.queued = Some(item);
            }
            Overflow::DropNewest => Counters::bump(&counters.events_dropped),
        },
        Err(mpsc::error::TrySendError::Closed(_)) => Counters::bump(&counters.events_dropped),
    }
    Ok(())
}

fn correlate(
    ev: &Event,
    jobs: &mut HashMap<String, Waiter<Event>>,
    execs: &mut HashMap<String, Waiter<Event>>,
) {
    if !jobs.is_empty() {
        if let Some(id) = ev.job_uuid() {
            if ev.event_name().as_deref() == Some("BACKGROUND_JOB") {
                if let Some(w) = jobs.remove(&*id) {
                    let _ = w.send(Ok(ev.clone()));
                }
            }
        }
    }
    if !execs.is_empty() {
        if let Some(id) = ev.application_uuid() {
            if ev.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE") {
                if let Some(w) = execs.remove(&*id) {
                    let _ = w.send(Ok(ev.clone()));
                }
            }
        }
    }
}

/// The cloneable sending side shared by clients and sessions.
#[derive(Clone, Debug)]
pub(crate) struct Handle {
    pub(crate) tx: mpsc::Sender<Request>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) timeout: Option<Duration>,
}

impl Handle {
    async fn submit(
        &self,
        cmd: Command,
        job: Option<(String, Waiter<Event>)>,
        exec: Option<(String, Waiter<Event>)>,
    ) -> Result<Frame> {
        cmd.validate()?;
        let (tx, rx) = oneshot::channel();
        let req = Request {
            cmd,
            reply: tx,
            job,
            exec,
        };
        self.tx.send(req).await.map_err(|_| Error::Closed)?;
        let wait = async { rx.await.map_err(|_| Error::Closed)? };
        match self.timeout {
            Some(t) => tokio::time::timeout(t, wait)
                .await
                .map_err(|_| Error::Timeout)?,
            None => wait.await,
        }
    }

    /// Sends any command and returns its reply frame, whatever it says.
    pub(crate) async fn send(&self, cmd: Command) -> Result<Frame> {
        self.submit(cmd, None, None).await
    }

    /// Sends a command whose `command/reply` must be `+OK`; returns the text after it.
    pub(crate) async fn command(&self, cmd: Command) -> Result<String> {
        let f = self.send(cmd).await?;
        reply_ok(&f)
    }

    pub(crate) async fn api(&self, command: &str) -> Result<String> {
        let f = self.send(Command::api(command)).await?;
        if f.kind() != ContentType::ApiResponse {
            // Outbound sockets without `async full`, or a server that refused the command.
            return Err(Error::CommandFailed(
                f.reply_text()
                    .unwrap_or("unexpected reply to api")
                    .to_owned(),
            ));
        }
        Ok(f.body_str().map(str::to_owned).unwrap_or_else(|| {
            String::from_utf8_lossy(f.body().map_or(&b""[..], |b| &b[..])).into_owned()
        }))
    }

    pub(crate) async fn bgapi(&self, command: &str) -> Result<BackgroundJob> {
        let job_uuid = crate::uuid::new_v4();
        let (tx, rx) = oneshot::channel();
        let f = self
            .submit(
                Command::bgapi(command, job_uuid.clone()),
                Some((job_uuid.clone(), tx)),
                None,
            )
            .await?;
        reply_ok(&f)?;
        Ok(BackgroundJob { job_uuid, rx })
    }

    pub(crate) async fn sendmsg(&self, mut cmd: Command) -> Result<Execution> {
        let Command::SendMsg { headers, .. } = &mut cmd else {
            return Err(Error::Protocol("sendmsg needs a Command::SendMsg".into()));
        };
        let event_uuid = match headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Event-UUID"))
        {
            Some((_, v)) => v.clone(),
            None => {
                let id = crate::uuid::new_v4();
                headers.push(("Event-UUID".to_owned(), id.clone()));
                id
            }
        };
        let (tx, rx) = oneshot::channel();
        let f = self
            .submit(cmd, None, Some((event_uuid.clone(), tx)))
            .await?;
        reply_ok(&f)?;
        Ok(Execution { event_uuid, rx })
    }
}

pub(crate) fn reply_ok(f: &Frame) -> Result<String> {
    match f.reply() {
        Some(Ok(text)) => Ok(text),
        Some(Err(text)) => Err(Error::CommandFailed(text)),
        None => Err(Error::Protocol(format!(
            "expected a command/reply, got {}",
            f.content_type().unwrap_or("no Content-Type")
        ))),
    }
}

/// A `bgapi` job: resolves to its `BACKGROUND_JOB` event (the output is the body).
#[derive(Debug)]
pub struct BackgroundJob {
    job_uuid: String,
    rx: oneshot::Receiver<Result<Event>>,
}

impl BackgroundJob {
    /// The `Job-UUID` this client chose.
    pub fn job_uuid(&self) -> &str {
        &self.job_uuid
    }

    /// Waits at most `t` for the result.
    pub async fn wait_timeout(self, t: Duration) -> Result<Event> {
        tokio::time::timeout(t, self)
            .await
            .map_err(|_| Error::Timeout)?
    }
}

impl Future for BackgroundJob {
    type Output = Result<Event>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// A `sendmsg` with our own `Event-UUID`: resolves to the matching
/// `CHANNEL_EXECUTE_COMPLETE` event (its `Application-UUID`). Only `execute` messages
/// produce one, and only when the connection receives CHANNEL_EXECUTE_COMPLETE events.
#[derive(Debug)]
pub struct Execution {
    event_uuid: String,
    rx: oneshot::Receiver<Result<Event>>,
}

impl Execution {
    /// The `Event-UUID` sent (the `Application-UUID` to expect).
    pub fn event_uuid(&self) -> &str {
        &self.event_uuid
    }
}

impl Future for Execution {
    type Output = Result<Event>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// The receiving side of the bounded event channel.
#[derive(Debug)]
pub struct EventStream {
    pub(crate) rx: mpsc::Receiver<Incoming>,
}

impl EventStream {
    /// The next item; `None` once the connection is gone for good and everything was
    /// read.
    pub async fn recv(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }

    /// The next event, skipping logs and notices.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.rx.recv().await? {
                Incoming::Event(e) => return Some(e),
                _ => continue,
            }
        }
    }

    /// An item if one is ready.
    pub fn try_recv(&mut self) -> Option<Incoming> {
        self.rx.try_recv().ok()
    }
}

impl futures_util::Stream for EventStream {
    type Item = Incoming;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Incoming>> {
        self.rx.poll_recv(cx)
    }
}
