//! A virtual FreeSWITCH node: speaks the real Event Socket (ESL) protocol,
//! runs Channels through FreeSWITCH's state machine with scripted far ends,
//! and fires FreeSWITCH's events with their header sets.
//!
//! Start one with [`start`] (or [`run`] as a plain future), connect to it
//! with any ESL client, and inject inbound calls with [`VSwitch::inject`] or
//! `api vswitch_inbound <from> <to> [script]`.

pub mod api;
mod apps;
pub mod bus;
pub mod channel;
pub mod clock;
pub mod conference;
pub mod config;
pub mod dialplan;
pub mod event;
pub mod farend;
pub mod media;
pub mod originate;
mod server;
pub mod session;
pub mod switch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use channel::HangupCause;
pub use config::Config;
pub use farend::{FarEnd, NUMBERING_PLAN};
pub use server::to_esl;
pub use switch::{InboundCall, InjectError, StartError, Switch};

/// A running virtual switch.
#[derive(Debug)]
pub struct VSwitch {
    switch: Arc<Switch>,
    addr: SocketAddr,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl VSwitch {
    /// The ESL address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The switch core (channels, APIs, event bus).
    pub fn switch(&self) -> &Arc<Switch> {
        &self.switch
    }

    /// Injects an inbound call; returns the new Channel's UUID.
    pub fn inject(&self, call: InboundCall) -> Result<String, InjectError> {
        self.switch.inject(call)
    }

    /// Runs an API command as `api <command> <args>` would.
    pub async fn api(&self, command: &str, args: &str) -> String {
        self.switch.api(command, args).await
    }

    /// Stops accepting, hangs up every Channel (SYSTEM_SHUTDOWN), closes
    /// every connection, and waits for all of it to finish.
    pub async fn shutdown(self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// A switch whose handle is dropped stops: its tasks end on their own
/// (without waiting for them, which [`VSwitch::shutdown`] does).
impl Drop for VSwitch {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts a virtual switch serving ESL on `listener`.
pub fn start(listener: TcpListener, config: Config) -> Result<VSwitch, StartError> {
    let addr = listener.local_addr().map_err(StartError::Io)?;
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let switch = Switch::new(config, token.clone(), tracker.clone())?;
    tracker.spawn(server::accept_loop(switch.clone(), listener));
    tracker.spawn(heartbeat(switch.clone()));
    Ok(VSwitch {
        switch,
        addr,
        token,
        tracker,
    })
}

/// Runs a virtual switch on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future,
) -> Result<(), StartError> {
    let vswitch = start(listener, config)?;
    shutdown.await;
    vswitch.shutdown().await;
    Ok(())
}

/// Fires HEARTBEAT every `heartbeat_secs` of switch time, as the core's
/// scheduler does.
async fn heartbeat(sw: Arc<Switch>) {
    let every = Duration::from_secs(sw.config.heartbeat_secs.max(1));
    let clock = sw.clock();
    loop {
        tokio::select! {
            _ = sw.token.cancelled() => return,
            _ = clock.sleep(every) => {}
        }
        if !sw.bus.wants("HEARTBEAT", None) {
            continue;
        }
        let up = sw.started.elapsed();
        let mut ev = sw.events.event(
            "HEARTBEAT",
            None,
            event::origin("switch_core.c", "send_heartbeat", 95),
        );
        ev.push("Event-Info", "System Ready");
        ev.push(
            "Up-Time",
            format!(
                "0 years, {} days, {} hours, {} minutes, {} seconds, {} milliseconds, {} microseconds",
                up.as_secs() / 86_400,
                up.as_secs() / 3600 % 24,
                up.as_secs() / 60 % 60,
                up.as_secs() % 60,
                up.subsec_millis(),
                up.subsec_micros() % 1000
            ),
        );
        ev.push("FreeSWITCH-Version", "1.10.12-release~64bit");
        ev.push("Uptime-msec", up.as_millis().to_string());
        ev.push("Session-Count", sw.channel_count().to_string());
        ev.push("Max-Sessions", sw.config.max_sessions.to_string());
        ev.push("Session-Per-Sec", "30");
        ev.push(
            "Session-Since-Startup",
            sw.sessions_since_start().to_string(),
        );
        ev.push("Session-Peak-Max", sw.peak_sessions().to_string());
        ev.push("Idle-CPU", "100.000000");
        sw.bus.publish(ev);
    }
}
