//! The switch core: the Channel registry, channel creation for originate,
//! `bridge` B-legs and injected inbound calls, and the shared services
//! (event bus, dialplan, media, conferences, clock).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::Bus;
use crate::channel::{
    CallState, CallerProfile, ChannelData, ChannelState, Direction, HangupCause, Times, Variables,
};
use crate::clock::Clock;
use crate::conference::Conferences;
use crate::config::Config;
use crate::dialplan::{Dialplan, DialplanError, DEFAULT_DIALPLAN};
use crate::event::EventSource;
use crate::farend::{FarEnd, ScriptError};
use crate::media::Media;
use crate::originate::{DialString, Endpoint, Target};
use crate::session::{AppCall, ChannelHandle, Command, Role, Session, COMMAND_QUEUE};

/// Why the switch could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Dialplan(#[from] DialplanError),
    #[error("listener: {0}")]
    Io(std::io::Error),
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        key: &'static str,
        reason: &'static str,
    },
}

/// Why an inbound call could not be injected.
#[derive(Debug, Error)]
pub enum InjectError {
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error("too many channels (max-sessions {0})")]
    Congestion(usize),
}

/// An inbound call to inject: it enters the dialplan like a call from the
/// network (by default the `switchboard` context, which parks it).
#[derive(Debug, Clone, Default)]
pub struct InboundCall {
    pub from: String,
    pub to: String,
    /// The caller's far-end script (`hangup=30s;dtmf=1@5s`, see [`crate::farend`]).
    pub script: Option<String>,
    pub caller_name: Option<String>,
    /// Overrides the configured inbound context.
    pub context: Option<String>,
    /// Extra channel variables.
    pub variables: Vec<(String, String)>,
}

/// The virtual switch.
#[derive(Debug)]
pub struct Switch {
    pub config: Config,
    pub events: EventSource,
    pub bus: Bus,
    pub media: Media,
    pub dialplan: Dialplan,
    pub conferences: Conferences,
    pub(crate) token: CancellationToken,
    pub(crate) tracker: TaskTracker,
    channels: Mutex<HashMap<String, ChannelHandle>>,
    session_ids: AtomicU64,
    peak: AtomicUsize,
    pub(crate) started: Instant,
}

impl Switch {
    /// Builds a switch from its configuration; `token` stops every session.
    pub fn new(
        config: Config,
        token: CancellationToken,
        tracker: TaskTracker,
    ) -> Result<Arc<Self>, StartError> {
        config.validate()?;
        let dialplan = Dialplan::parse(config.dialplan_xml.as_deref().unwrap_or(DEFAULT_DIALPLAN))?;
        if !dialplan.has_context(&config.inbound_context) {
            return Err(StartError::Config {
                key: "inbound_context",
                reason: "the dialplan has no such context",
            });
        }
        let clock = Clock::new(config.speed);
        let core_uuid = config
            .core_uuid
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let events = EventSource::new(
            core_uuid,
            config.hostname.clone(),
            config.hostname.clone(),
            config.ipv4.clone(),
            config.ipv6.clone(),
            clock,
        );
        Ok(Arc::new(Self {
            media: Media::new(config.sounds_dir.clone()),
            config,
            events,
            bus: Bus::default(),
            dialplan,
            conferences: Conferences::default(),
            token,
            tracker,
            channels: Mutex::new(HashMap::new()),
            session_ids: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
            started: Instant::now(),
        }))
    }

    pub fn clock(&self) -> Clock {
        self.events.clock
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, ChannelHandle>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A live Channel by UUID.
    pub fn channel(&self, uuid: &str) -> Option<ChannelHandle> {
        self.registry().get(uuid).cloned()
    }

    /// Every live Channel, oldest first.
    pub fn channels(&self) -> Vec<ChannelHandle> {
        let mut all: Vec<ChannelHandle> = self.registry().values().cloned().collect();
        all.sort_by_key(|h| h.with(|d| (d.times.created, d.session_id)));
        all
    }

    pub fn channel_count(&self) -> usize {
        self.registry().len()
    }

    /// Sessions created since start.
    pub fn sessions_since_start(&self) -> u64 {
        self.session_ids.load(Ordering::Relaxed)
    }

    pub fn peak_sessions(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub(crate) fn remove_channel(&self, uuid: &str) {
        self.registry().remove(uuid);
    }

    /// Where a recording path lands: relative paths go under the recordings dir.
    pub fn recording_path(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        if p.is_absolute() {
            p
        } else {
            self.config.recordings_dir.join(p)
        }
    }

    /// Creates and registers a Channel; the caller spawns its session.
    fn create_channel(
        self: &Arc<Self>,
        uuid: String,
        name: String,
        direction: Direction,
        profile: CallerProfile,
        vars: Variables,
    ) -> Result<(ChannelHandle, mpsc::Receiver<Box<Command>>), HangupCause> {
        let now = self.events.clock.now_us();
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let session_id = self.session_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let mut vars = vars;
        let mut base = Variables::default();
        base.set("direction", direction.as_str());
        if direction == Direction::Outbound {
            base.set("is_outbound", "true");
        }
        base.set("uuid", uuid.as_str());
        base.set("session_id", session_id.to_string());
        base.set("channel_name", name.as_str());
        base.set("read_codec", "L16");
        base.set("read_rate", "8000");
        base.set("write_codec", "L16");
        base.set("write_rate", "8000");
        for (k, v) in vars.iter() {
            base.set(k, v);
        }
        vars = base;
        vars.set("call_uuid", uuid.as_str());
        let data = ChannelData {
            uuid: uuid.clone(),
            name,
            direction,
            state: ChannelState::New,
            call_state: CallState::Down,
            answer_state: "ringing",
            hangup_cause: None,
            profile: CallerProfile {
                created_us: now,
                ..profile
            },
            vars,
            times: Times {
                created: now,
                ..Times::default()
            },
            session_id,
            bridged_to: None,
            bridge_b: false,
            other_leg: None,
            hit_dialplan: true,
            read_codec: "L16",
            rate: 8000,
        };
        let handle = ChannelHandle {
            data: Arc::new(Mutex::new(data)),
            tx,
        };
        {
            let mut reg = self.registry();
            if reg.len() >= self.config.max_sessions {
                return Err(HangupCause::SwitchCongestion);
            }
            if reg.contains_key(&uuid) {
                return Err(HangupCause::NormalTemporaryFailure);
            }
            reg.insert(uuid, handle.clone());
            self.peak.fetch_max(reg.len(), Ordering::Relaxed);
        }
        Ok((handle, rx))
    }

    fn spawn(self: &Arc<Self>, session: Session, role: Role) {
        self.tracker.spawn(session.run(role));
    }

    /// Creates the outbound leg(s) for one dial string. For `loopback/` the
    /// other leg runs the dialplan; other endpoints get a scripted far end.
    fn start_outbound(
        self: &Arc<Self>,
        dial: &DialString,
        role: Role,
        cid: (&str, &str),
    ) -> Result<ChannelHandle, HangupCause> {
        let uuid = dial
            .var("origination_uuid")
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let cid_name = dial
            .var("origination_caller_id_name")
            .unwrap_or(cid.0)
            .to_owned();
        let cid_number = dial
            .var("origination_caller_id_number")
            .unwrap_or(cid.1)
            .to_owned();
        let mut vars = Variables::default();
        for (k, v) in &dial.vars {
            vars.set(k, v.as_str());
        }
        match &dial.endpoint {
            Endpoint::Error(cause) => Err(*cause),
            Endpoint::Unsupported(_) => Err(HangupCause::ChanNotImplemented),
            Endpoint::Loopback { exten, context } => {
                let b_uuid = uuid::Uuid::new_v4().to_string();
                vars.set(
                    "originate_early_media",
                    if dial.ignore_early_media() {
                        "false"
                    } else {
                        "true"
                    },
                );
                vars.set("originate_endpoint", "loopback");
                let mut a_vars = vars.clone();
                a_vars.set("other_loopback_leg_uuid", b_uuid.as_str());
                a_vars.set("loopback_leg", "A");
                a_vars.set("is_loopback", "1");
                let profile = |cname: &str, cnum: &str| CallerProfile {
                    dialplan: "xml".into(),
                    caller_id_name: cname.into(),
                    caller_id_number: cnum.into(),
                    orig_caller_id_name: cname.into(),
                    orig_caller_id_number: cnum.into(),
                    callee_id_name: "Outbound Call".into(),
                    callee_id_number: context.clone(),
                    ani: cnum.into(),
                    destination_number: exten.clone(),
                    source: "mod_loopback".into(),
                    context: context.clone(),
                    created_us: 0,
                    transfer_source: None,
                    network_addr: String::new(),
                };
                let (a, a_rx) = self.create_channel(
                    uuid.clone(),
                    format!("loopback/{exten}-a"),
                    Direction::Outbound,
                    profile(&cid_name, &cid_number),
                    a_vars,
                )?;
                let mut b_vars = vars;
                b_vars.set("other_loopback_leg_uuid", uuid.as_str());
                b_vars.set("loopback_leg", "B");
                let b_cid = if cid_number.is_empty() {
                    "0000000000"
                } else {
                    cid_number.as_str()
                };
                let (b, b_rx) = match self.create_channel(
                    b_uuid,
                    format!("loopback/{exten}-b"),
                    Direction::Inbound,
                    profile(&cid_name, b_cid),
                    b_vars,
                ) {
                    Ok(b) => b,
                    Err(cause) => {
                        self.remove_channel(&uuid);
                        return Err(cause);
                    }
                };
                let mut a_session = Session::new(self.clone(), a.clone(), a_rx, None);
                a_session.partner = Some(b.clone());
                a_session.is_loopback = true;
                let mut b_session = Session::new(self.clone(), b.clone(), b_rx, None);
                b_session.partner = Some(a.clone());
                b_session.is_loopback = true;
                self.spawn(a_session, role);
                self.spawn(b_session, Role::Inbound);
                Ok(a)
            }
            Endpoint::FarEnd { name, user, host } => {
                // `vswitch_far_end` scripts a far end behind a real-looking
                // destination; otherwise the user part picks it.
                let far = match dial.var("vswitch_far_end") {
                    Some(script) => FarEnd::parse(script),
                    None => FarEnd::for_destination(user),
                };
                let far = far.map_err(|e| {
                    tracing::warn!(error = %e, "bad far-end script");
                    HangupCause::InvalidNumberFormat
                })?;
                vars.set(
                    "originate_endpoint",
                    name.split('/').next().unwrap_or("sofia"),
                );
                let profile = CallerProfile {
                    dialplan: "xml".into(),
                    caller_id_name: cid_name.clone(),
                    caller_id_number: cid_number.clone(),
                    orig_caller_id_name: cid_name,
                    orig_caller_id_number: cid_number.clone(),
                    callee_id_name: "Outbound Call".into(),
                    callee_id_number: user.clone(),
                    ani: cid_number,
                    destination_number: user.clone(),
                    source: "mod_sofia".into(),
                    context: "default".into(),
                    created_us: 0,
                    transfer_source: None,
                    network_addr: String::new(),
                };
                let (a, a_rx) =
                    self.create_channel(uuid, name.clone(), Direction::Outbound, profile, vars)?;
                a.update(|d| d.hit_dialplan = false);
                let mut session = Session::new(self.clone(), a.clone(), a_rx, Some(far));
                session.peer_addr = host.clone().unwrap_or_else(|| self.config.ipv4.clone());
                self.spawn(session, role);
                Ok(a)
            }
        }
    }

    /// `originate`: creates the call and waits until it is answered (or has
    /// early media, unless `ignore_early_media`), then runs the target on it.
    /// Returns the originated Channel's UUID, or the cause it failed with.
    pub async fn originate(
        self: &Arc<Self>,
        dial: &DialString,
        target: Target,
        timeout: Option<Duration>,
    ) -> Result<String, HangupCause> {
        let timeout = dial
            .var("originate_timeout")
            .or_else(|| dial.var("call_timeout"))
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs)
            .or(timeout)
            .unwrap_or(Duration::from_secs(60));
        let then = match target {
            Target::App { name, arg } => vec![AppCall::new(name, arg)],
            // An extension target transfers the answered leg into the dialplan.
            Target::Extension { exten, context } => {
                vec![AppCall::new("transfer", format!("{exten} XML {context}"))]
            }
        };
        let ignore_early_media = dial.ignore_early_media();
        let (tx, rx) = oneshot::channel();
        let handle = self.start_outbound(
            dial,
            Role::Outbound {
                then,
                report: tx,
                timeout,
                ignore_early_media,
            },
            ("", "0000000000"),
        )?;
        match rx.await {
            Ok(Ok(())) => Ok(handle.uuid()),
            Ok(Err(cause)) => Err(cause),
            Err(_) => Err(HangupCause::NormalTemporaryFailure),
        }
    }

    /// Starts the B-leg of a `bridge`: it reports when it answers or fails.
    pub(crate) fn start_bridge_leg(
        self: &Arc<Self>,
        dial_string: &str,
        cid_name: &str,
        cid_number: &str,
        timeout: Duration,
        report: oneshot::Sender<Result<(), HangupCause>>,
        originator: ChannelHandle,
    ) -> Result<ChannelHandle, HangupCause> {
        let dial = DialString::parse(dial_string);
        self.start_outbound(
            &dial,
            Role::BridgeB {
                report,
                timeout,
                originator,
            },
            (cid_name, cid_number),
        )
    }

    /// Injects an inbound call: a Channel from the network that enters the
    /// dialplan (the `switchboard` context parks it). Returns its UUID.
    pub fn inject(self: &Arc<Self>, call: InboundCall) -> Result<String, InjectError> {
        let far = match &call.script {
            Some(s) => FarEnd::parse(s)?,
            None => FarEnd {
                outcome: crate::farend::Outcome::Answer,
                ..FarEnd::default()
            },
        };
        let uuid = uuid::Uuid::new_v4().to_string();
        let name = format!("sofia/external/{}@{}", call.from, self.config.domain);
        let cid_name = call
            .caller_name
            .clone()
            .unwrap_or_else(|| call.from.clone());
        let profile = CallerProfile {
            dialplan: "XML".into(),
            caller_id_name: cid_name.clone(),
            caller_id_number: call.from.clone(),
            orig_caller_id_name: cid_name,
            orig_caller_id_number: call.from.clone(),
            callee_id_name: String::new(),
            callee_id_number: String::new(),
            ani: call.from.clone(),
            destination_number: call.to.clone(),
            source: "mod_sofia".into(),
            context: call
                .context
                .clone()
                .unwrap_or_else(|| self.config.inbound_context.clone()),
            created_us: 0,
            transfer_source: None,
            network_addr: self.config.domain.clone(),
        };
        let mut vars = Variables::default();
        vars.set("sip_from_user", call.from.as_str());
        vars.set("sip_from_host", self.config.domain.as_str());
        vars.set("sip_to_user", call.to.as_str());
        vars.set("sip_to_host", self.config.domain.as_str());
        vars.set("sip_req_user", call.to.as_str());
        vars.set("sip_call_id", format!("{}@vswitch", uuid::Uuid::new_v4()));
        for (k, v) in &call.variables {
            vars.set(k, v.as_str());
        }
        let (handle, rx) = self
            .create_channel(uuid.clone(), name, Direction::Inbound, profile, vars)
            .map_err(|_| InjectError::Congestion(self.config.max_sessions))?;
        let session = Session::new(self.clone(), handle, rx, Some(far));
        self.spawn(session, Role::Inbound);
        Ok(uuid)
    }

    /// Sends a command to a live Channel; false if there is none.
    pub async fn command(&self, uuid: &str, cmd: Command) -> bool {
        match self.channel(uuid) {
            Some(h) => h.tx.send(Box::new(cmd)).await.is_ok(),
            None => false,
        }
    }
}
