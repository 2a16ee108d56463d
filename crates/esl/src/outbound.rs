//! The outbound server: FreeSWITCH's `socket` dialplan application connects to us,
//! one TCP connection per call.
//!
//! ```no_run
//! # async fn demo() -> esl::Result<()> {
//! use esl::{EventFormat, OutboundServer};
//!
//! let server = OutboundServer::bind("127.0.0.1:8084").await?;
//! loop {
//!     let (session, mut events) = server.accept().await?;
//!     tokio::spawn(async move {
//!         println!("call {:?}", session.uuid());
//!         session.myevents(None).await?;
//!         session.linger(None).await?;
//!         session.execute("answer", None).await?.await?; // waits for EXECUTE_COMPLETE
//!         session.execute("playback", Some("tone_stream://%(1000,0,440)")).await?.await?;
//!         session.hangup("NORMAL_CLEARING").await?;
//!         while let Some(item) = events.recv().await { /* events, notices */ let _ = item; }
//!         Ok::<(), esl::Error>(())
//!     });
//! }
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use crate::codec::{ClientCodec, Limits};
use crate::command::Command;
use crate::conn::READ_BUFFER;
use crate::conn::{
    self, BackgroundJob, Counters, EventStream, Execution, Handle, Overflow, RunConfig, Stats,
};
use crate::error::{Error, Result};
use crate::event::{Event, EventFormat};
use crate::frame::{ContentType, Frame};

/// Settings of outbound sessions.
#[derive(Clone, Debug)]
pub struct OutboundConfig {
    /// Capacity of each session's event channel.
    pub event_capacity: usize,
    /// What to do when it is full.
    pub overflow: Overflow,
    /// Limit on the `connect` handshake.
    pub connect_timeout: Duration,
    /// Limit on waiting for a command's reply.
    pub command_timeout: Option<Duration>,
    /// Decoder limits.
    pub limits: Limits,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            event_capacity: 1024,
            overflow: Overflow::Backpressure,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Some(Duration::from_secs(60)),
            limits: Limits::default(),
        }
    }
}

/// Listens for FreeSWITCH's outbound connections.
#[derive(Debug)]
pub struct OutboundServer {
    listener: TcpListener,
    cfg: OutboundConfig,
}

impl OutboundServer {
    /// Binds with the default [`OutboundConfig`].
    pub async fn bind(addr: impl ToSocketAddrs) -> Result<Self> {
        Self::bind_with(addr, OutboundConfig::default()).await
    }

    /// Binds with the given settings.
    pub async fn bind_with(addr: impl ToSocketAddrs, cfg: OutboundConfig) -> Result<Self> {
        Ok(OutboundServer {
            listener: TcpListener::bind(addr).await?,
            cfg,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Accepts the next call and performs `connect`. An error concerns that one
    /// connection; keep accepting.
    pub async fn accept(&self) -> Result<(OutboundSession, EventStream)> {
        let (tcp, _) = self.listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        OutboundSession::start(tcp, self.cfg.clone()).await
    }
}

/// One call controlled over an outbound socket. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OutboundSession {
    handle: Handle,
    data: Arc<Event>,
    full: bool,
}

impl OutboundSession {
    /// Runs the session over any byte stream: sends `connect`, reads the channel data,
    /// then drives the connection in a background task.
    pub async fn start<S>(stream: S, cfg: OutboundConfig) -> Result<(OutboundSession, EventStream)>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut framed =
            Framed::with_capacity(stream, ClientCodec::with_limits(cfg.limits), READ_BUFFER);
        let reply: Frame = tokio::time::timeout(cfg.connect_timeout, async {
            framed.send(&Command::Connect).await?;
            loop {
                let f = framed.next().await.ok_or(Error::Closed)??;
                if f.kind() == ContentType::CommandReply {
                    return Ok::<Frame, Error>(f);
                }
            }
        })
        .await
        .map_err(|_| Error::Timeout)??;
        conn::reply_ok(&reply)?;
        let full = reply
            .header("Control")
            .is_some_and(|c| c.eq_ignore_ascii_case("full"));
        let data = Arc::new(Event::from_frame_headers(&reply));
        let (req_tx, mut req_rx) = mpsc::channel(256);
        let (ev_tx, ev_rx) = mpsc::channel(cfg.event_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let rc = RunConfig {
            overflow: cfg.overflow,
            liveness: None,
        };
        let c2 = counters.clone();
        tokio::spawn(async move {
            let end = conn::run(&mut framed, &mut req_rx, &ev_tx, &c2, rc, None).await;
            if let conn::End::Shutdown = end {
                let _ = SinkExt::<&Command>::close(&mut framed).await;
            }
        });
        let session = OutboundSession {
            handle: Handle {
                tx: req_tx,
                counters,
                timeout: cfg.command_timeout,
            },
            data,
            full,
        };
        Ok((session, EventStream { rx: ev_rx }))
    }

    /// The channel data from the `connect` reply (`Unique-ID`, `Channel-*`,
    /// `Caller-*`, `variable_*`, …).
    pub fn channel_data(&self) -> &Event {
        &self.data
    }

    /// The controlled channel's `Unique-ID`.
    pub fn uuid(&self) -> Option<String> {
        self.data.unique_id().map(|c| c.into_owned())
    }

    /// `true` when the dialplan said `socket … async full`, which `api` and `bgapi`
    /// need.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// `myevents [format]`: the controlled channel's events.
    pub async fn myevents(&self, format: Option<EventFormat>) -> Result<()> {
        self.handle
            .command(Command::MyEvents { uuid: None, format })
            .await
            .map(drop)
    }

    /// `event <format> <names…>`.
    pub async fn event(&self, format: EventFormat, events: &[&str]) -> Result<()> {
        self.handle
            .command(Command::event(format, events.iter().copied()))
            .await
            .map(drop)
    }

    /// `filter <header> <value>`.
    pub async fn filter(&self, header: &str, value: &str) -> Result<()> {
        self.handle
            .command(Command::Filter {
                header: header.into(),
                value: value.into(),
            })
            .await
            .map(drop)
    }

    /// `linger [seconds]`: keep the socket after hangup (until `exit`, or `seconds`).
    pub async fn linger(&self, seconds: Option<u32>) -> Result<()> {
        self.handle
            .command(Command::Linger { seconds })
            .await
            .map(drop)
    }

    /// `nolinger`.
    pub async fn nolinger(&self) -> Result<()> {
        self.handle.command(Command::NoLinger).await.map(drop)
    }

    /// `resume`: continue the dialplan when the socket closes.
    pub async fn resume(&self) -> Result<()> {
        self.handle.command(Command::Resume).await.map(drop)
    }

    /// `sendmsg` (to the controlled channel unless `msg` names one) with an
    /// `Event-UUID` of ours; await the [`Execution`] for its
    /// `CHANNEL_EXECUTE_COMPLETE` (needs `myevents` or a matching `event`).
    pub async fn sendmsg(&self, msg: Command) -> Result<Execution> {
        self.handle.sendmsg(msg).await
    }

    /// `sendmsg` executing `app` with `arg`.
    pub async fn execute(&self, app: &str, arg: Option<&str>) -> Result<Execution> {
        self.handle.sendmsg(Command::execute(None, app, arg)).await
    }

    /// `sendmsg` with `call-command: hangup`.
    pub async fn hangup(&self, cause: &str) -> Result<()> {
        self.handle
            .command(Command::hangup(None, cause))
            .await
            .map(drop)
    }

    /// `api <command>` (needs `async full`).
    pub async fn api(&self, command: &str) -> Result<String> {
        self.need_full("api")?;
        self.handle.api(command).await
    }

    /// `bgapi <command>` with our `Job-UUID` (needs `async full`).
    pub async fn bgapi(&self, command: &str) -> Result<BackgroundJob> {
        self.need_full("bgapi")?;
        self.handle.bgapi(command).await
    }

    /// Any command; the reply frame as is.
    pub async fn send(&self, cmd: Command) -> Result<Frame> {
        self.handle.send(cmd).await
    }

    /// `exit`.
    pub async fn exit(&self) -> Result<()> {
        self.handle.command(Command::Exit).await.map(drop)
    }

    /// Counters of this session.
    pub fn stats(&self) -> Stats {
        self.handle.counters.snapshot()
    }

    fn need_full(&self, what: &str) -> Result<()> {
        if self.full {
            Ok(())
        } else {
            Err(Error::Protocol(format!(
                "{what} needs the dialplan's `socket <addr> async full`"
            )))
        }
    }
}
