//! The inbound client: connects to FreeSWITCH's event socket (port 8021),
//! authenticates, subscribes, and keeps the connection alive: liveness from
//! `HEARTBEAT` (any traffic counts), reconnection with exponential backoff,
//! re-authentication and re-subscription after a reconnect.
//!
//! ```no_run
//! # async fn demo() -> esl::Result<()> {
//! use esl::{Client, ClientConfig, EventFormat, Incoming};
//!
//! let mut cfg = ClientConfig::new("127.0.0.1:8021", "ClueCon");
//! cfg.format = EventFormat::Plain;
//! cfg.events = vec!["CHANNEL_ANSWER".into(), "CHANNEL_HANGUP_COMPLETE".into()];
//! let (client, mut events) = Client::connect(cfg).await?;
//!
//! let status = client.api("status").await?;
//! let job = client.bgapi("originate loopback/7100 &park()").await?;
//! tokio::spawn(async move {
//!     while let Some(item) = events.recv().await {
//!         if let Incoming::Event(ev) = item {
//!             println!("{:?} {:?}", ev.event_name(), ev.unique_id());
//!         }
//!     }
//! });
//! let done = job.await?; // the BACKGROUND_JOB event; the output is its body
//! println!("{status}\n{:?}", done.body_str());
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use crate::codec::{ClientCodec, Limits};
use crate::command::Command;
use crate::conn::READ_BUFFER;
use crate::conn::{
    self, BackgroundJob, Counters, DeliverFilter, End, EventStream, Execution, Handle, Incoming,
    Overflow, RunConfig, Stats,
};
use crate::error::{Error, Result};
use crate::event::{Event, EventFormat};
use crate::frame::{ContentType, Frame};

/// Events the client always subscribes to for its own needs: `bgapi` results,
/// `sendmsg` completions and liveness. They reach the event channel only if the
/// application subscribed to them (or to `ALL`) too.
pub const INTERNAL_EVENTS: [&str; 3] = ["BACKGROUND_JOB", "CHANNEL_EXECUTE_COMPLETE", "HEARTBEAT"];

/// Exponential backoff between reconnection attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth factor per failed attempt.
    pub factor: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            factor: 2,
        }
    }
}

impl Backoff {
    /// The delay before attempt number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut d = self.initial;
        for _ in 0..attempt.min(64) {
            d = d.saturating_mul(self.factor.max(1));
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }
}

/// How to reach and use FreeSWITCH.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `host:port` of the event socket.
    pub addr: String,
    /// Password (`auth`), or the user's password with [`ClientConfig::user`].
    pub password: String,
    /// `userauth` user (`name@domain`) instead of `auth`.
    pub user: Option<String>,
    /// Event format to subscribe with.
    pub format: EventFormat,
    /// Events to subscribe to at connect (and after every reconnect).
    pub events: Vec<String>,
    /// `filter` header/value pairs applied at connect (and after every reconnect).
    pub filters: Vec<(String, String)>,
    /// Capacity of the event channel.
    pub event_capacity: usize,
    /// What to do when it is full.
    pub overflow: Overflow,
    /// Limit on TCP connect plus the handshake.
    pub connect_timeout: Duration,
    /// Limit on waiting for a command's reply (`None`: wait as long as the connection
    /// lives).
    pub command_timeout: Option<Duration>,
    /// Drop and re-establish the connection when nothing (not even a `HEARTBEAT`,
    /// sent every 20 s by default) arrived for this long.
    pub liveness_timeout: Option<Duration>,
    /// Reconnect after losing the connection (`None`: the client ends instead).
    pub reconnect: Option<Backoff>,
    /// Decoder limits.
    pub limits: Limits,
}

impl ClientConfig {
    /// Defaults: plain events, no subscriptions beyond [`INTERNAL_EVENTS`], a channel
    /// of 4096 with back-pressure, 60 s liveness, reconnection with default backoff.
    pub fn new(addr: impl Into<String>, password: impl Into<String>) -> Self {
        ClientConfig {
            addr: addr.into(),
            password: password.into(),
            user: None,
            format: EventFormat::Plain,
            events: Vec::new(),
            filters: Vec::new(),
            event_capacity: 4096,
            overflow: Overflow::Backpressure,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Some(Duration::from_secs(60)),
            liveness_timeout: Some(Duration::from_secs(60)),
            reconnect: Some(Backoff::default()),
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Subscriptions {
    events: Vec<String>,
    filters: Vec<(String, String)>,
}

impl Subscriptions {
    fn wants(&self, name: &str) -> bool {
        self.events
            .iter()
            .any(|e| e.eq_ignore_ascii_case("ALL") || e.eq_ignore_ascii_case(name))
    }
}

/// A connected inbound client. Cheap to clone; every clone drives the same
/// connection. The connection closes when every clone is dropped (or after
/// [`Client::exit`]).
#[derive(Clone, Debug)]
pub struct Client {
    handle: Handle,
    subs: Arc<Mutex<Subscriptions>>,
    format: EventFormat,
}

type Conn = Framed<TcpStream, ClientCodec>;

impl Client {
    /// Connects, authenticates and subscribes. Fails if any of that fails; after that,
    /// connection losses are handled in the background as configured.
    pub async fn connect(cfg: ClientConfig) -> Result<(Client, EventStream)> {
        let subs = Arc::new(Mutex::new(Subscriptions {
            events: cfg.events.clone(),
            filters: cfg.filters.clone(),
        }));
        let (framed, early) = open(&cfg, &subs).await?;
        let (req_tx, req_rx) = mpsc::channel(1024);
        let (ev_tx, ev_rx) = mpsc::channel(cfg.event_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let client = Client {
            handle: Handle {
                tx: req_tx,
                counters: counters.clone(),
                timeout: cfg.command_timeout,
            },
            subs: subs.clone(),
            format: cfg.format,
        };
        tokio::spawn(supervise(framed, early, cfg, req_rx, ev_tx, counters, subs));
        Ok((client, EventStream { rx: ev_rx }))
    }

    /// `api <command>`: the command's output. API errors are output too (`-ERR …`,
    /// `-USAGE: …`); see [`Client::api_ok`].
    pub async fn api(&self, command: &str) -> Result<String> {
        self.handle.api(command).await
    }

    /// `api <command>`, turning output that starts with `-ERR`/`-USAGE` into
    /// [`Error::CommandFailed`].
    pub async fn api_ok(&self, command: &str) -> Result<String> {
        let out = self.api(command).await?;
        if out.starts_with("-ERR") || out.starts_with("-USAGE") {
            Err(Error::CommandFailed(out.trim_end().to_owned()))
        } else {
            Ok(out)
        }
    }

    /// `bgapi <command>` with a client-chosen `Job-UUID`. Resolves once FreeSWITCH
    /// accepted the job; await the returned [`BackgroundJob`] for its `BACKGROUND_JOB`
    /// event.
    pub async fn bgapi(&self, command: &str) -> Result<BackgroundJob> {
        self.handle.bgapi(command).await
    }

    /// `sendmsg <uuid>` with the headers of `msg` (a [`Command::SendMsg`], e.g. from
    /// [`Command::execute`]) and an `Event-UUID` of ours (unless `msg` has one).
    /// Await the [`Execution`] for the matching `CHANNEL_EXECUTE_COMPLETE`.
    pub async fn sendmsg(&self, uuid: &str, mut msg: Command) -> Result<Execution> {
        if let Command::SendMsg { uuid: u, .. } = &mut msg {
            *u = Some(uuid.to_owned());
        }
        self.handle.sendmsg(msg).await
    }

    /// `sendmsg <uuid>` executing `app` with `arg`.
    pub async fn execute(&self, uuid: &str, app: &str, arg: Option<&str>) -> Result<Execution> {
        self.handle
            .sendmsg(Command::execute(Some(uuid), app, arg))
            .await
    }

    /// `event <format> <names…>`: subscribes to more events (kept across reconnects).
    pub async fn subscribe(&self, events: &[&str]) -> Result<()> {
        self.handle
            .command(Command::event(self.format, events.iter().copied()))
            .await?;
        let mut s = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            if !s.events.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                s.events.push((*e).to_owned());
            }
        }
        Ok(())
    }

    /// `nixevent <names…>`. The client's own [`INTERNAL_EVENTS`] stay subscribed on the
    /// wire but stop reaching the channel.
    pub async fn unsubscribe(&self, events: &[&str]) -> Result<()> {
        let wire: Vec<&str> = events
            .iter()
            .copied()
            .filter(|e| !INTERNAL_EVENTS.iter().any(|i| i.eq_ignore_ascii_case(e)))
            .collect();
        if !wire.is_empty() {
            self.handle
                .command(Command::NixEvent {
                    events: wire.iter().map(|s| (*s).to_owned()).collect(),
                })
                .await?;
        }
        let mut s = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        s.events
            .retain(|x| !events.iter().any(|e| x.eq_ignore_ascii_case(e)));
        Ok(())
    }

    /// `noevents`, then the client's own [`INTERNAL_EVENTS`] again.
    pub async fn noevents(&self) -> Result<()> {
        self.handle.command(Command::NoEvents).await?;
        self.handle
            .command(Command::event(self.format, INTERNAL_EVENTS))
            .await?;
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .clear();
        Ok(())
    }

    /// `filter <header> <value>` (kept across reconnects). With the first filter the
    /// client also adds `Event-Name` filters for its [`INTERNAL_EVENTS`], so `bgapi`,
    /// `sendmsg` and liveness keep working.
    pub async fn filter(&self, header: &str, value: &str) -> Result<()> {
        let first = self
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .filters
            .is_empty();
        if first {
            for name in INTERNAL_EVENTS {
                self.handle
                    .command(Command::Filter {
                        header: "Event-Name".into(),
                        value: name.into(),
                    })
                    .await?;
            }
        }
        self.handle
            .command(Command::Filter {
                header: header.into(),
                value: value.into(),
            })
            .await?;
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .filters
            .push((header.into(), value.into()));
        Ok(())
    }

    /// `filter delete <header> [<value>]`.
    pub async fn filter_delete(&self, header: &str, value: Option<&str>) -> Result<()> {
        self.handle
            .command(Command::FilterDelete {
                header: header.into(),
                value: value.map(Into::into),
            })
            .await?;
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .filters
            .retain(|(h, v)| !(h.eq_ignore_ascii_case(header) && value.is_none_or(|x| x == v)));
        Ok(())
    }

    /// Sends any command and returns its reply frame as is.
    pub async fn send(&self, cmd: Command) -> Result<Frame> {
        self.handle.send(cmd).await
    }

    /// `exit`: FreeSWITCH answers `+OK bye` and closes; the client does not reconnect.
    pub async fn exit(&self) -> Result<()> {
        self.handle.command(Command::Exit).await.map(|_| ())
    }

    /// Counters: events received, delivered, dropped, back-pressure waits, reconnects.
    pub fn stats(&self) -> Stats {
        self.handle.counters.snapshot()
    }
}

/// Connects, authenticates and subscribes; returns the connection and any event
/// frames that arrived during the handshake.
async fn open(cfg: &ClientConfig, subs: &Mutex<Subscriptions>) -> Result<(Conn, Vec<Frame>)> {
    let fut = async {
        let tcp = TcpStream::connect(&cfg.addr).await?;
        let _ = tcp.set_nodelay(true);
        let mut framed =
            Framed::with_capacity(tcp, ClientCodec::with_limits(cfg.limits), READ_BUFFER);
        let first = framed.next().await.ok_or(Error::Closed)??;
        match first.kind() {
            ContentType::AuthRequest => {}
            ContentType::RudeRejection => {
                return Err(Error::Protocol(format!(
                    "rude rejection: {}",
                    first.body_str().unwrap_or("").trim_end()
                )))
            }
            _ => {
                return Err(Error::Protocol(format!(
                    "expected auth/request, got {:?}",
                    first.content_type()
                )))
            }
        }
        let mut early = Vec::new();
        let auth = match &cfg.user {
            Some(user) => Command::UserAuth {
                user: user.clone(),
                password: cfg.password.clone(),
            },
            None => Command::Auth {
                password: cfg.password.clone(),
            },
        };
        let reply = request(&mut framed, &auth, &mut early).await?;
        match reply.reply() {
            Some(Ok(_)) => {}
            Some(Err(text)) => return Err(Error::AuthFailed(text)),
            None => return Err(Error::Protocol("unexpected reply to auth".into())),
        }
        let (events, filters) = {
            let s = subs.lock().unwrap_or_else(|p| p.into_inner());
            (s.events.clone(), s.filters.clone())
        };
        let mut names: Vec<String> = INTERNAL_EVENTS.iter().map(|s| (*s).to_owned()).collect();
        for e in events {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&e)) {
                names.push(e);
            }
        }
        let r = request(&mut framed, &Command::event(cfg.format, names), &mut early).await?;
        conn::reply_ok(&r)?;
        if !filters.is_empty() {
            for name in INTERNAL_EVENTS {
                let c = Command::Filter {
                    header: "Event-Name".into(),
                    value: name.into(),
                };
                conn::reply_ok(&request(&mut framed, &c, &mut early).await?)?;
            }
            for (h, v) in filters {
                let c = Command::Filter {
                    header: h,
                    value: v,
                };
                conn::reply_ok(&request(&mut framed, &c, &mut early).await?)?;
            }
        }
        Ok((framed, early))
    };
    tokio::time::timeout(cfg.connect_timeout, fut)
        .await
        .map_err(|_| Error::Timeout)?
}

/// Sends `cmd` and reads up to its reply, keeping the frames that came first.
async fn request(framed: &mut Conn, cmd: &Command, early: &mut Vec<Frame>) -> Result<Frame> {
    framed.send(cmd).await?;
    loop {
        let f = framed.next().await.ok_or(Error::Closed)??;
        match f.kind() {
            ContentType::CommandReply | ContentType::ApiResponse => return Ok(f),
            ContentType::DisconnectNotice => {
                // Wrong password: -ERR invalid comes first; a notice here means the
                // server is closing.
                return Err(Error::Closed);
            }
            _ => early.push(f),
        }
    }
}

async fn supervise(
    first: Conn,
    early: Vec<Frame>,
    cfg: ClientConfig,
    mut requests: mpsc::Receiver<crate::conn::Request>,
    events: mpsc::Sender<Incoming>,
    counters: Arc<Counters>,
    subs: Arc<Mutex<Subscriptions>>,
) {
    let deliver_subs = subs.clone();
    let deliver: DeliverFilter = Arc::new(move |ev: &Event| {
        let Some(name) = ev.event_name() else {
            return true;
        };
        if !INTERNAL_EVENTS.iter().any(|i| *i == name) {
            return true;
        }
        deliver_subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wants(&name)
    });
    let rc = RunConfig {
        overflow: cfg.overflow,
        liveness: cfg.liveness_timeout,
    };
    let mut conn = Some((first, early));
    let mut attempt: u32 = 0;
    loop {
        if let Some((mut framed, early)) = conn.take() {
            for f in early {
                if let Some(Ok(ev)) = f.to_event() {
                    if deliver(&ev) && events.send(Incoming::Event(ev)).await.is_err() {
                        counters
                            .events_dropped
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            match conn::run(
                &mut framed,
                &mut requests,
                &events,
                &counters,
                rc,
                Some(&deliver),
            )
            .await
            {
                End::Shutdown => {
                    let _ = SinkExt::<&Command>::close(&mut framed).await;
                    return;
                }
                End::Closed(e) => {
                    if counters.exiting.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    tracing::warn!(addr = %cfg.addr, error = %e, "ESL connection lost");
                    let _ = events
                        .send(Incoming::Disconnected {
                            reason: e.to_string(),
                        })
                        .await;
                }
            }
        }
        let Some(backoff) = cfg.reconnect else { return };
        // Wait, refusing commands meanwhile (their callers get Error::Closed now rather
        // than a reply that may never come).
        let sleep = tokio::time::sleep(backoff.delay(attempt));
        tokio::pin!(sleep);
        attempt = attempt.saturating_add(1);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                req = requests.recv() => match req {
                    None => return,
                    Some(r) => { let _ = r.reply.send(Err(Error::Closed)); }
                },
            }
        }
        match open(&cfg, &subs).await {
            Ok(c) => {
                attempt = 0;
                counters
                    .reconnects
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(addr = %cfg.addr, "ESL reconnected");
                if events.send(Incoming::Reconnected).await.is_err() {
                    // Nobody listens for events; commands may still be in use.
                }
                conn = Some(c);
            }
            Err(e) => {
                tracing::debug!(addr = %cfg.addr, error = %e, "ESL reconnect failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            factor: 2,
        };
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(1), Duration::from_millis(200));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(4), Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }
}
