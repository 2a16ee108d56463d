//! A Channel's session: the task that drives one Channel through its state
//! machine, runs its Applications, plays its scripted far end, and fires its
//! events in the order FreeSWITCH 1.10 fires them.
//!
//! Everything that happens to a Channel from outside (`sendmsg`, `uuid_*`
//! APIs, the other leg of a loopback pair or a bridge) arrives as a
//! [`Command`] on its bounded queue; the session is the only writer of its
//! state transitions, so events for one Channel never race each other.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::channel::{CallState, ChannelData, ChannelState, Direction, HangupCause, OtherLeg};
use crate::event::{origin, Origin, SwitchEvent};
use crate::farend::{FarEnd, Outcome};
use crate::switch::Switch;

/// How many Commands may wait for a Channel before senders wait.
pub const COMMAND_QUEUE: usize = 64;

/// One Application call: from the dialplan, `sendmsg execute` or an API.
#[derive(Debug, Clone)]
pub struct AppCall {
    pub name: String,
    pub arg: String,
    /// `Application-UUID`: the `Event-UUID` of the sendmsg, or a fresh one.
    pub uuid: String,
    pub loops: u32,
}

impl AppCall {
    pub fn new(name: impl Into<String>, arg: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            arg: arg.into(),
            uuid: uuid::Uuid::new_v4().to_string(),
            loops: 1,
        }
    }
}

/// Something asked of a Channel from outside its session.
#[derive(Debug)]
pub enum Command {
    Execute(AppCall),
    /// Run this Application before anything else queued (`uuid_broadcast`).
    ExecuteNow(AppCall),
    Hangup(HangupCause),
    /// The other leg of a loopback pair hung up.
    PartnerHangup(HangupCause),
    Answer,
    PreAnswer,
    RingReady,
    /// DTMF arriving on this Channel.
    Dtmf {
        digits: String,
        source: &'static str,
    },
    /// DTMF this Channel sends to its far end (`uuid_send_dtmf`).
    SendDtmf(String),
    Break {
        all: bool,
    },
    Transfer {
        destination: String,
        context: String,
    },
    /// `uuid_bridge`: bridge this Channel (as the A side) to another.
    Bridge(String),
    /// This Channel is now the B side of a bridge with the given Channel.
    Bridged(String),
    /// The other side of this Channel's bridge went away.
    Unbridge,
    RecordStart {
        path: String,
        limit: Option<Duration>,
    },
    RecordStop(String),
    /// A conference kicked this member.
    Kick,
    /// Leave `park` (mod_loopback breaks its other leg out of park when a
    /// bridged leg hangs up).
    Unpark,
}

/// A Channel as the rest of the switch sees it: its data and its queue.
#[derive(Debug, Clone)]
pub struct ChannelHandle {
    pub data: Arc<Mutex<ChannelData>>,
    pub tx: mpsc::Sender<Box<Command>>,
}

impl ChannelHandle {
    pub fn uuid(&self) -> String {
        self.data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .uuid
            .clone()
    }

    /// Reads the Channel's data.
    pub fn with<R>(&self, f: impl FnOnce(&ChannelData) -> R) -> R {
        f(&self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the Channel's data (variables set by APIs).
    pub fn update<R>(&self, f: impl FnOnce(&mut ChannelData) -> R) -> R {
        f(&mut self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sends a command; a Channel that has gone ignores it. Boxed in the
    /// queue: its first block holds 32 whether or not any come.
    pub async fn send(&self, cmd: Command) {
        let _ = self.tx.send(Box::new(cmd)).await;
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    Elapsed,
    Hangup,
    Break,
    Dtmf,
    Queued,
    Answered,
    EarlyMedia,
    Transfer,
    Unbridged,
    Kicked,
}

/// A far-end step (or a `sched_hangup`) due at an instant.
#[derive(Debug, Clone)]
pub(crate) enum FarAction {
    Ring,
    Early,
    Answer,
    Refuse(HangupCause),
    Dtmf(String),
    Hangup,
    /// `sched_hangup`: this side hangs up.
    ScheduledHangup(HangupCause),
}

/// A recording in progress (`uuid_record` or `record`).
#[derive(Debug)]
pub(crate) struct Recording {
    pub path: String,
    pub started_us: i64,
    pub limit: Option<Duration>,
    /// 2 when `RECORD_STEREO` was set as it started: each leg on its own channel.
    pub channels: u16,
}

/// What the session does once it starts.
#[derive(Debug)]
pub enum Role {
    /// An originated (outbound) leg: wait for the far end, report to the
    /// originator, then run `then`.
    Outbound {
        then: Vec<AppCall>,
        report: oneshot::Sender<Result<(), HangupCause>>,
        timeout: Duration,
        ignore_early_media: bool,
    },
    /// An inbound leg: route through the dialplan.
    Inbound,
    /// The B side of a `bridge`: wait for the far end and report, then stay
    /// bridged until either side leaves.
    BridgeB {
        report: oneshot::Sender<Result<(), HangupCause>>,
        timeout: Duration,
        /// The Channel running `bridge`: it hears this leg ring.
        originator: ChannelHandle,
    },
}

pub(crate) struct Session {
    pub sw: Arc<Switch>,
    pub uuid: String,
    pub handle: ChannelHandle,
    rx: mpsc::Receiver<Box<Command>>,
    pub queue: VecDeque<AppCall>,
    pub dtmf: VecDeque<char>,
    pub hung_up: bool,
    pub far: Option<FarEnd>,
    far_timers: Vec<(Instant, FarAction)>,
    /// The other leg of a loopback pair.
    pub partner: Option<ChannelHandle>,
    /// The other side of a bridge.
    pub bridge: Option<ChannelHandle>,
    /// For a `bridge` B-leg, the caller, who hears it ring and get media.
    originator: Option<ChannelHandle>,
    pub recordings: Vec<Recording>,
    pub transfer: Option<(String, String)>,
    /// `uuid_bridge` asked this Channel to bridge to another.
    pub uuid_bridge_to: Option<String>,
    /// The scripted far end's address, shown once it responds.
    pub peer_addr: String,
    pub is_loopback: bool,
}

const CORE_STATE: Origin = origin(
    "switch_channel.c",
    "switch_channel_perform_set_running_state",
    2408,
);
const CALLSTATE: Origin = origin(
    "switch_channel.c",
    "switch_channel_perform_set_callstate",
    301,
);

impl Session {
    pub fn new(
        sw: Arc<Switch>,
        handle: ChannelHandle,
        rx: mpsc::Receiver<Box<Command>>,
        far: Option<FarEnd>,
    ) -> Self {
        Self {
            uuid: handle.uuid(),
            sw,
            handle,
            rx,
            queue: VecDeque::new(),
            dtmf: VecDeque::new(),
            hung_up: false,
            far,
            far_timers: Vec::new(),
            partner: None,
            bridge: None,
            originator: None,
            recordings: Vec::new(),
            transfer: None,
            uuid_bridge_to: None,
            peer_addr: String::new(),
            is_loopback: false,
        }
    }

    pub fn data<R>(&self, f: impl FnOnce(&mut ChannelData) -> R) -> R {
        self.handle.update(f)
    }

    pub fn var(&self, name: &str) -> Option<String> {
        self.handle.with(|d| d.vars.get(name).map(str::to_owned))
    }

    pub fn set_var(&self, name: &str, value: impl Into<String>) {
        let value = value.into();
        self.data(|d| d.vars.set(name, value));
    }

    /// Fires a Channel event if anyone listens: `pre` headers before the
    /// channel data, `post` after it.
    pub fn fire(
        &self,
        name: &str,
        at: Origin,
        pre: &[(&str, &str)],
        post: &[(&str, &str)],
        with_variables: bool,
    ) {
        if !self.sw.bus.wants(name, None) {
            return;
        }
        let mut ev = self.sw.events.event(name, None, at);
        ev.extend(pre.iter().copied());
        self.handle
            .with(|d| d.write_headers(&mut ev, with_variables));
        ev.extend(post.iter().copied());
        self.sw.bus.publish(ev);
    }

    /// Logs a line about this Channel if anyone listens at `level`
    /// (`text_channel` 1 is FreeSWITCH's bare console text, 3 the session log).
    pub fn log(
        &self,
        level: u8,
        text_channel: u8,
        at: Origin,
        text: impl FnOnce(&ChannelData) -> String,
    ) {
        if !self.sw.bus.wants_log(level) {
            return;
        }
        let text = self.handle.with(text);
        let now = self.sw.events.clock.now_us();
        self.sw.bus.publish_log(crate::bus::LogLine::new(
            level,
            text_channel,
            at,
            &self.uuid,
            now,
            &text,
        ));
    }

    fn log_new_channel(&self) {
        let at = origin("switch_channel.c", "switch_channel_set_name", 1142);
        self.log(5, 3, at, |d| format!("New Channel {} [{}]", d.name, d.uuid));
    }

    /// Fires a CUSTOM event built by `build` if anyone listens.
    pub fn fire_custom(
        &self,
        subclass: &str,
        at: Origin,
        build: impl FnOnce(&mut SwitchEvent, &ChannelData),
    ) {
        if !self.sw.bus.wants("CUSTOM", Some(subclass)) {
            return;
        }
        let mut ev = self.sw.events.event("CUSTOM", Some(subclass), at);
        self.handle.with(|d| build(&mut ev, d));
        self.sw.bus.publish(ev);
    }

    pub fn set_state(&self, state: ChannelState) {
        self.data(|d| d.state = state);
        self.fire("CHANNEL_STATE", CORE_STATE, &[], &[], false);
    }

    pub fn set_callstate(&self, cs: CallState) {
        let old = self.data(|d| std::mem::replace(&mut d.call_state, cs));
        if old == cs {
            return;
        }
        let number = cs.number().to_string();
        self.fire(
            "CHANNEL_CALLSTATE",
            CALLSTATE,
            &[
                ("Original-Channel-Call-State", old.as_str()),
                ("Channel-Call-State-Number", &number),
            ],
            &[],
            false,
        );
    }

    fn fire_codec(&self) {
        let at = origin(
            "switch_core_codec.c",
            "switch_core_session_set_read_codec",
            279,
        );
        self.fire("CODEC", at, &[], &[], false);
        let at = origin(
            "switch_core_codec.c",
            "switch_core_session_set_write_codec",
            471,
        );
        self.fire("CODEC", at, &[], &[], false);
    }

    /// Runs the session to its end.
    pub async fn run(mut self, role: Role) {
        match role {
            Role::Inbound => {
                self.start_inbound();
                self.route().await;
                self.execute_queue().await;
            }
            Role::Outbound {
                then,
                report,
                timeout,
                ignore_early_media,
            } => {
                let result = self.originate_leg(timeout, ignore_early_media).await;
                let ok = result.is_ok();
                let _ = report.send(result);
                if ok && !self.hung_up {
                    self.set_state(ChannelState::Execute);
                    self.queue.extend(then);
                    self.execute_queue().await;
                }
            }
            Role::BridgeB {
                report,
                timeout,
                originator,
            } => {
                self.originator = Some(originator);
                let result = self.originate_leg(timeout, true).await;
                let ok = result.is_ok();
                let _ = report.send(result);
                if ok && !self.hung_up {
                    self.stay_bridged_b(false).await;
                    // A B-leg transferred out of its bridge runs the dialplan.
                    self.execute_queue().await;
                }
            }
        }
        if !self.hung_up {
            self.hangup(HangupCause::NormalClearing);
        }
        self.finish().await;
    }

    fn start_inbound(&mut self) {
        self.log_new_channel();
        if self.is_loopback {
            self.fire_codec();
        }
        self.set_state(ChannelState::Init);
        self.fire(
            "CHANNEL_CREATE",
            origin(
                "switch_core_state_machine.c",
                "switch_core_session_run",
                626,
            ),
            &[],
            &[],
            true,
        );
        self.set_callstate(CallState::Ringing);
        self.schedule_far_start();
    }

    /// Hunts the dialplan for the Channel's destination and queues the
    /// Applications found; no match hangs up with NO_ROUTE_DESTINATION.
    pub async fn route(&mut self) {
        self.set_state(ChannelState::Routing);
        self.log(
            6,
            3,
            origin("mod_dialplan_xml.c", "dialplan_hunt", 639),
            |d| {
                let p = &d.profile;
                format!(
                    "Processing {} <{}>->{} in context {}",
                    p.caller_id_name, p.caller_id_number, p.destination_number, p.context
                )
            },
        );
        let (context, apps) = self.handle.with(|d| {
            let field = |name: &str| -> Option<String> {
                let p = &d.profile;
                Some(match name {
                    "destination_number" => p.destination_number.clone(),
                    "caller_id_number" => p.caller_id_number.clone(),
                    "caller_id_name" => p.caller_id_name.clone(),
                    "ani" => p.ani.clone(),
                    "context" => p.context.clone(),
                    "uuid" => d.uuid.clone(),
                    "chan_name" => d.name.clone(),
                    "source" => p.source.clone(),
                    other => {
                        let var = other.strip_prefix("${")?.strip_suffix('}')?;
                        d.vars.get(var)?.to_owned()
                    }
                })
            };
            (
                d.profile.context.clone(),
                self.sw.dialplan.hunt(&d.profile.context, &field),
            )
        });
        match apps {
            Some(apps) => {
                self.set_state(ChannelState::Execute);
                self.queue.extend(
                    apps.into_iter()
                        .map(|a| AppCall::new(a.application, a.data)),
                );
            }
            None => {
                tracing::info!(uuid = %self.uuid, %context, "no route, hanging up");
                self.hangup(HangupCause::NoRouteDestination);
            }
        }
    }

    /// Runs queued Applications until none are left or the Channel hangs up.
    pub async fn execute_queue(&mut self) {
        loop {
            if self.hung_up {
                return;
            }
            if let Some((destination, context)) = self.transfer.take() {
                self.queue.clear();
                let now = self.sw.events.clock.now_us();
                self.data(|d| {
                    d.profile.destination_number = destination;
                    d.profile.context = context;
                    d.times.transferred = now;
                });
                self.route().await;
                continue;
            }
            if let Some(other) = self.uuid_bridge_to.take() {
                self.uuid_bridge(&other).await;
                continue;
            }
            if self.bridge.is_some() {
                // `uuid_bridge` made this Channel the B side of a bridge.
                self.stay_bridged_b(true).await;
                if !self.hung_up && self.parks_after_bridge() {
                    Box::pin(self.park()).await;
                }
                continue;
            }
            match self.queue.pop_front() {
                Some(app) => self.execute(app).await,
                None => return,
            }
        }
    }

    /// Waits until `deadline` (forever if `None`), handling Commands and
    /// far-end steps. Returns early for hangup, break, transfer, bridge
    /// changes, kicks, and, when `interrupt_on` says so, DTMF, new queued
    /// Applications and answer signals.
    pub async fn wait(&mut self, deadline: Option<Instant>, interrupt_on: Interrupts) -> Wake {
        loop {
            if self.hung_up {
                return Wake::Hangup;
            }
            let next_far = self.far_timers.first().map(|(at, _)| *at);
            tokio::select! {
                biased;
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { return Wake::Hangup };
                    if let Some(wake) = self.handle_command(*cmd, interrupt_on).await {
                        return wake;
                    }
                }
                _ = self.sw.token.cancelled() => {
                    self.hangup(HangupCause::SystemShutdown);
                    return Wake::Hangup;
                }
                _ = sleep_until(next_far), if next_far.is_some() => {
                    let (_, action) = self.far_timers.remove(0);
                    if let Some(wake) = self.far_step(action, interrupt_on).await {
                        return wake;
                    }
                }
                _ = sleep_until(deadline), if deadline.is_some() => return Wake::Elapsed,
            }
        }
    }

    async fn handle_command(&mut self, cmd: Command, on: Interrupts) -> Option<Wake> {
        match cmd {
            Command::Execute(app) => {
                self.queue.push_back(app);
                on.queued.then_some(Wake::Queued)
            }
            Command::ExecuteNow(app) => {
                self.queue.push_front(app);
                on.queued.then_some(Wake::Queued)
            }
            Command::Hangup(cause) => {
                self.hangup_from(cause, origin("switch_ivr.c", "switch_ivr_kill_uuid", 4412));
                Some(Wake::Hangup)
            }
            Command::PartnerHangup(cause) => {
                self.hangup_from(cause, origin("mod_loopback.c", "channel_on_hangup", 585));
                Some(Wake::Hangup)
            }
            Command::Answer => {
                if self.partner.is_some() {
                    let at = origin("mod_loopback.c", "channel_receive_message", 1021);
                    self.answer_from(at).await;
                } else {
                    self.answer().await;
                }
                on.answer.then_some(Wake::Answered)
            }
            Command::PreAnswer => {
                self.pre_answer().await;
                on.answer.then_some(Wake::EarlyMedia)
            }
            Command::RingReady => {
                self.ring_ready().await;
                None
            }
            Command::Dtmf { digits, source } => {
                self.receive_dtmf(&digits, source);
                on.dtmf.then_some(Wake::Dtmf)
            }
            Command::SendDtmf(digits) => {
                // The other side of a loopback pair hears it; a scripted far
                // end has no ears.
                if let Some(p) = &self.partner {
                    p.send(Command::Dtmf {
                        digits,
                        source: "UNKNOWN",
                    })
                    .await;
                } else if let Some(b) = &self.bridge {
                    b.send(Command::Dtmf {
                        digits,
                        source: "RTP",
                    })
                    .await;
                }
                None
            }
            Command::Break { all } => {
                if all {
                    self.queue.clear();
                }
                Some(Wake::Break)
            }
            Command::Transfer {
                destination,
                context,
            } => {
                self.transfer = Some((destination, context));
                Some(Wake::Transfer)
            }
            Command::Bridge(other) => {
                // uuid_bridge transfers both Channels before their current
                // Applications unwind, so those already report the new party.
                if let Some(b) = self.sw.channel(&other) {
                    let secs = self.sw.events.clock.now_us() / 1_000_000;
                    let me = self.uuid.clone();
                    let originatee = b.with(|d| OtherLeg::of(d, "originatee"));
                    let originator = self.handle.with(|d| OtherLeg::of(d, "originator"));
                    self.data(|d| {
                        d.profile.transfer_source =
                            Some(format!("{secs}:{}:uuid_br:{other}", uuid::Uuid::new_v4()));
                        d.other_leg = Some(originatee);
                    });
                    b.update(|d| {
                        d.profile.transfer_source =
                            Some(format!("{secs}:{}:uuid_br:{me}", uuid::Uuid::new_v4()));
                        d.other_leg = Some(originator);
                    });
                }
                self.uuid_bridge_to = Some(other);
                Some(Wake::Transfer)
            }
            Command::Bridged(other) => {
                self.bridge = self.sw.channel(&other);
                self.data(|d| {
                    d.bridged_to = Some(other);
                    d.bridge_b = true;
                });
                Some(Wake::Transfer)
            }
            Command::Unbridge => {
                self.bridge = None;
                self.data(|d| {
                    d.bridged_to = None;
                    d.bridge_b = false;
                });
                Some(Wake::Unbridged)
            }
            Command::RecordStart { path, limit } => {
                self.record_start(path, limit);
                None
            }
            Command::RecordStop(path) => {
                self.record_stop(&path, "success-maxtime").await;
                None
            }
            Command::Kick | Command::Unpark => Some(Wake::Kicked),
        }
    }

    async fn far_step(&mut self, action: FarAction, on: Interrupts) -> Option<Wake> {
        if !self.peer_addr.is_empty() {
            let addr = self.peer_addr.clone();
            self.data(|d| {
                if d.profile.network_addr.is_empty() {
                    d.profile.network_addr = addr;
                }
            });
        }
        match action {
            FarAction::Ring => {
                self.ring_ready().await;
                None
            }
            FarAction::Early => {
                self.pre_answer().await;
                on.answer.then_some(Wake::EarlyMedia)
            }
            FarAction::Answer => {
                self.answer().await;
                on.answer.then_some(Wake::Answered)
            }
            FarAction::Refuse(cause) => {
                self.set_var("sip_term_status", cause.sip_status().to_string());
                self.set_var(
                    "proto_specific_hangup_cause",
                    format!("sip:{}", cause.sip_status()),
                );
                self.set_var("sip_hangup_disposition", "recv_refuse");
                self.hangup(cause);
                Some(Wake::Hangup)
            }
            FarAction::Dtmf(digits) => {
                self.receive_dtmf(&digits, "RTP");
                on.dtmf.then_some(Wake::Dtmf)
            }
            FarAction::Hangup => {
                self.set_var("sip_hangup_disposition", "recv_bye");
                self.hangup(HangupCause::NormalClearing);
                Some(Wake::Hangup)
            }
            FarAction::ScheduledHangup(cause) => {
                self.hangup(cause);
                Some(Wake::Hangup)
            }
        }
    }

    pub(crate) fn schedule(&mut self, after: Duration, action: FarAction) {
        let at = self.sw.events.clock.deadline(after);
        let pos = self.far_timers.partition_point(|(t, _)| *t <= at);
        self.far_timers.insert(pos, (at, action));
    }

    /// Schedules what a far end does before answer: for an outbound leg its
    /// ringing and outcome, for an inbound caller giving up.
    fn schedule_far_start(&mut self) {
        let Some(far) = self.far.clone() else { return };
        let direction = self.handle.with(|d| d.direction);
        if direction == Direction::Inbound {
            if let Some(after) = far.cancel_after {
                self.schedule(after, FarAction::Refuse(HangupCause::OriginatorCancel));
            }
            return;
        }
        // A far end that answers or refuses at once never sends 180 Ringing.
        if !far.ring.is_zero() {
            self.schedule(Duration::ZERO, FarAction::Ring);
        }
        let mut at = far.ring;
        if let Some(early) = far.early {
            self.schedule(at, FarAction::Early);
            at += early;
        }
        match far.outcome {
            Outcome::Answer => self.schedule(at, FarAction::Answer),
            Outcome::Refuse(cause) => self.schedule(at, FarAction::Refuse(cause)),
            Outcome::NoAnswer => {}
        }
    }

    /// Schedules what a far end does once the call is up.
    fn schedule_far_answered(&mut self) {
        let Some(far) = self.far.clone() else { return };
        self.far_timers.retain(|(_, a)| {
            matches!(
                a,
                FarAction::Dtmf(_) | FarAction::Hangup | FarAction::ScheduledHangup(_)
            )
        });
        for (at, digits) in far.dtmf {
            self.schedule(at, FarAction::Dtmf(digits));
        }
        if let Some(after) = far.hangup_after {
            self.schedule(after, FarAction::Hangup);
        }
    }

    /// The outbound half of originate: create, ring, and wait for answer,
    /// refusal or timeout.
    async fn originate_leg(
        &mut self,
        timeout: Duration,
        ignore_early_media: bool,
    ) -> Result<(), HangupCause> {
        let at = origin(
            "switch_core_session.c",
            "switch_core_session_outgoing_channel",
            768,
        );
        if self.is_loopback {
            // mod_loopback names its A-leg after the dial string, then renames it.
            let at = origin("switch_channel.c", "switch_channel_set_name", 1142);
            let first = self.handle.with(|d| {
                format!(
                    "loopback/{}/{}-a",
                    d.profile.destination_number, d.profile.context
                )
            });
            self.log(5, 3, at, |d| format!("New Channel {first} [{}]", d.uuid));
            let at = origin("switch_channel.c", "switch_channel_set_name", 1140);
            self.log(5, 3, at, |d| {
                format!("Rename Channel {first}->{} [{}]", d.name, d.uuid)
            });
        } else {
            self.log_new_channel();
        }
        self.fire("CHANNEL_OUTGOING", at, &[], &[], false);
        self.set_state(ChannelState::Init);
        self.fire(
            "CHANNEL_CREATE",
            origin(
                "switch_core_state_machine.c",
                "switch_core_session_run",
                626,
            ),
            &[],
            &[],
            true,
        );
        self.fire(
            "CHANNEL_ORIGINATE",
            origin(
                "switch_core_state_machine.c",
                "switch_core_session_run",
                632,
            ),
            &[],
            &[],
            true,
        );
        self.set_state(ChannelState::Routing);
        self.set_state(ChannelState::ConsumeMedia);
        self.schedule_far_start();
        let deadline = self.sw.events.clock.deadline(timeout);
        let interrupts = Interrupts {
            answer: true,
            ..Interrupts::NONE
        };
        loop {
            match self.wait(Some(deadline), interrupts).await {
                Wake::Answered => return Ok(()),
                Wake::EarlyMedia if !ignore_early_media => return Ok(()),
                Wake::Hangup => {
                    return Err(self
                        .handle
                        .with(|d| d.hangup_cause.unwrap_or(HangupCause::NormalClearing)));
                }
                Wake::Elapsed => {
                    self.hangup(HangupCause::NoAnswer);
                    return Err(HangupCause::NoAnswer);
                }
                _ => {}
            }
        }
    }

    pub async fn ring_ready(&mut self) {
        let already = self
            .handle
            .with(|d| d.times.progress > 0 || d.times.answered > 0);
        if already {
            return;
        }
        let now = self.sw.events.clock.now_us();
        self.data(|d| d.times.progress = now);
        let at = origin(
            "switch_channel.c",
            "switch_channel_perform_mark_ring_ready_value",
            3505,
        );
        self.fire("CHANNEL_PROGRESS", at, &[], &[], true);
        self.set_callstate(CallState::Ringing);
        if let Some(p) = &self.partner {
            if self.handle.with(|d| d.direction) == Direction::Inbound {
                p.send(Command::RingReady).await;
            }
        }
        if let Some(o) = &self.originator {
            o.send(Command::RingReady).await;
        }
    }

    pub async fn pre_answer(&mut self) {
        let already = self
            .handle
            .with(|d| d.times.progress_media > 0 || d.times.answered > 0);
        if already {
            return;
        }
        let now = self.sw.events.clock.now_us();
        self.data(|d| {
            d.times.progress_media = now;
            if d.times.progress == 0 {
                d.times.progress = now;
            }
            d.answer_state = "early";
            d.vars.set("endpoint_disposition", "EARLY MEDIA");
        });
        let at = origin(
            "switch_channel.c",
            "switch_channel_perform_mark_pre_answered",
            3560,
        );
        self.fire("CHANNEL_PROGRESS_MEDIA", at, &[], &[], true);
        self.set_callstate(CallState::Early);
        if let Some(p) = &self.partner {
            if self.handle.with(|d| d.direction) == Direction::Inbound {
                p.send(Command::PreAnswer).await;
            }
        }
        if let Some(o) = &self.originator {
            o.send(Command::PreAnswer).await;
        }
    }

    pub async fn answer(&mut self) {
        self.answer_from(origin("mod_dptools.c", "answer_function", 1406))
            .await;
    }

    /// Answers; `logged_at` is where FreeSWITCH logs "has been answered"
    /// from (mod_loopback when the other loopback leg answered).
    async fn answer_from(&mut self, logged_at: Origin) {
        if self.hung_up || self.handle.with(|d| d.times.answered > 0) {
            return;
        }
        let now = self.sw.events.clock.now_us();
        self.data(|d| {
            d.times.answered = now;
            d.answer_state = "answered";
            d.vars.set("endpoint_disposition", "ANSWER");
        });
        let at = origin(
            "switch_channel.c",
            "switch_channel_perform_mark_answered",
            3846,
        );
        self.fire("CHANNEL_ANSWER", at, &[], &[], true);
        self.log(5, 0, logged_at, |d| {
            format!("Channel [{}] has been answered", d.name)
        });
        self.set_callstate(CallState::Active);
        let outbound = self.handle.with(|d| d.direction) == Direction::Outbound;
        if outbound {
            // switch_channel_flip_cid: the answered leg now shows the party it
            // reached as its caller, and the originator as its callee.
            let at = origin("switch_channel.c", "switch_channel_flip_cid", 3289);
            self.log(6, 3, at, |d| {
                let p = &d.profile;
                format!(
                    "{} Flipping CID from \"{}\" <{}> to \"{}\" <{}>",
                    d.name,
                    p.caller_id_name,
                    p.caller_id_number,
                    p.callee_id_name,
                    p.callee_id_number
                )
            });
            self.data(|d| {
                let p = &mut d.profile;
                if !p.callee_id_number.is_empty() {
                    std::mem::swap(&mut p.caller_id_name, &mut p.callee_id_name);
                    std::mem::swap(&mut p.caller_id_number, &mut p.callee_id_number);
                    d.vars
                        .set("pre_transfer_caller_id_name", p.callee_id_name.as_str());
                    d.vars
                        .set("pre_transfer_caller_id_number", p.callee_id_number.as_str());
                    d.vars.set("channel_cid_flipped", "yes");
                }
            });
            let at = origin("switch_channel.c", "switch_channel_flip_cid", 3277);
            self.fire("CALL_UPDATE", at, &[("Direction", "RECV")], &[], true);
        }
        if let Some(p) = &self.partner {
            if !outbound {
                p.send(Command::Answer).await;
            }
        }
        self.schedule_far_answered();
        // `execute_on_answer`: "<application> [<data>]", run once answered
        // (switch_channel_execute_on), as a `sched_hangup` time limit is set.
        if let Some(value) = self.var("execute_on_answer") {
            let (name, arg) = value.split_once(' ').unwrap_or((value.as_str(), ""));
            Box::pin(self.execute(AppCall::new(name, arg.trim()))).await;
        }
    }

    /// DTMF arriving on this Channel: buffered for `read`-like Applications
    /// and reported as DTMF events, one per digit.
    pub fn receive_dtmf(&mut self, digits: &str, source: &str) {
        let at = origin("switch_channel.c", "switch_channel_dequeue_dtmf", 677);
        for c in digits.chars().filter(|c| crate::farend::is_dtmf(*c)) {
            self.dtmf.push_back(c);
            let digit = c.to_string();
            self.set_var("last_dtmf_duration", "2000");
            self.fire(
                "DTMF",
                at,
                &[],
                &[
                    ("DTMF-Digit", &digit),
                    ("DTMF-Duration", "2000"),
                    ("DTMF-Source", source),
                ],
                false,
            );
        }
    }

    pub fn record_start(&mut self, path: String, limit: Option<Duration>) {
        let started_us = self.sw.events.clock.now_us();
        self.fire(
            "RECORD_START",
            origin("switch_ivr_async.c", "record_callback", 1481),
            &[],
            &[("Record-File-Path", &path)],
            true,
        );
        self.fire(
            "MEDIA_BUG_START",
            origin("switch_core_media_bug.c", "switch_core_media_bug_add", 1014),
            &[
                ("Media-Bug-Function", "session_record"),
                ("Media-Bug-Target", &path),
            ],
            &[],
            true,
        );
        let channels = self.record_channels();
        self.recordings.push(Recording {
            path,
            started_us,
            limit,
            channels,
        });
    }

    /// Channels of a recording started now: FreeSWITCH records each leg on
    /// its own channel when `RECORD_STEREO` is true.
    pub fn record_channels(&self) -> u16 {
        let stereo = self.var("RECORD_STEREO").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
        });
        if stereo {
            2
        } else {
            1
        }
    }

    /// Stops one recording (or `all`), writing its WAV file.
    pub async fn record_stop(&mut self, path: &str, cause: &str) {
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.recordings)
            .into_iter()
            .partition(|r| path == "all" || r.path == path);
        self.recordings = keep;
        for rec in done {
            let now = self.sw.events.clock.now_us();
            let mut length = Duration::from_micros((now - rec.started_us).max(0) as u64);
            if let Some(limit) = rec.limit {
                length = length.min(limit);
            }
            let voiced = self
                .far
                .as_ref()
                .and_then(|f| f.speak)
                .unwrap_or(Duration::ZERO)
                .min(length);
            self.write_recording(&rec.path, length, voiced, rec.channels)
                .await;
            self.fire_record_stop(&rec.path, cause);
        }
    }

    /// RECORD_STOP and MEDIA_BUG_STOP for a finished recording.
    pub fn fire_record_stop(&self, path: &str, cause: &str) {
        self.fire(
            "RECORD_STOP",
            origin("switch_ivr_async.c", "send_record_stop_event", 1240),
            &[],
            &[
                ("Record-File-Path", path),
                ("Record-Completion-Cause", cause),
            ],
            true,
        );
        let at = origin(
            "switch_core_media_bug.c",
            "switch_core_media_bug_destroy",
            84,
        );
        let bug = [
            ("Media-Bug-Function", "session_record"),
            ("Media-Bug-Target", path),
        ];
        self.fire("MEDIA_BUG_STOP", at, &bug, &[], true);
    }

    /// Writes a recording and sets the `record_*` variables FreeSWITCH sets.
    pub async fn write_recording(
        &self,
        path: &str,
        length: Duration,
        voiced: Duration,
        channels: u16,
    ) {
        let bytes = crate::media::wav_bytes(length, voiced, channels);
        let full = self.sw.recording_path(path);
        if let Some(dir) = full.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        if let Err(e) = tokio::fs::write(&full, &bytes).await {
            tracing::warn!(path = %full.display(), error = %e, "cannot write recording");
        }
        let ms = length.as_millis();
        let samples = ms * u128::from(crate::media::RATE) / 1000;
        self.data(|d| {
            d.vars.set("record_file_size", bytes.len().to_string());
            d.vars.set("record_samples", samples.to_string());
            d.vars.set("record_seconds", (ms / 1000).to_string());
            d.vars.set("record_ms", ms.to_string());
        });
    }

    /// Starts hanging up: FreeSWITCH fires CHANNEL_HANGUP at once, while the
    /// running Application is still unwinding.
    pub fn hangup(&mut self, cause: HangupCause) {
        self.hangup_from(
            cause,
            origin("switch_channel.c", "switch_channel_perform_hangup", 3444),
        );
    }

    /// Hangs up; `logged_at` is where FreeSWITCH logs the "Hangup" line from.
    fn hangup_from(&mut self, cause: HangupCause, logged_at: Origin) {
        if self.hung_up {
            return;
        }
        self.hung_up = true;
        let now = self.sw.events.clock.now_us();
        self.data(|d| {
            d.hangup_cause = Some(cause);
            d.times.hungup = now;
            d.answer_state = "hangup";
        });
        let at = origin("switch_channel.c", "switch_channel_perform_hangup", 3445);
        self.fire("CHANNEL_HANGUP", at, &[], &[], true);
        self.log(5, 0, logged_at, |d| {
            format!("Hangup {} [{}] [{cause}]", d.name, d.state.as_str())
        });
    }

    /// The rest of the hangup: states, HANGUP_COMPLETE with the CDR
    /// variables, DESTROY, and telling the other legs.
    async fn finish(mut self) {
        self.record_stop("all", "success-maxtime").await;
        let was_bridged = self.bridge.is_some();
        if let Some(b) = self.bridge.take() {
            b.send(Command::Unbridge).await;
        }
        self.set_state(ChannelState::Hangup);
        self.set_callstate(CallState::Hangup);
        if let Some(p) = self.partner.take() {
            if was_bridged {
                p.send(Command::Unpark).await;
            }
            let cause = self
                .handle
                .with(|d| d.hangup_cause.unwrap_or(HangupCause::NormalClearing));
            p.send(Command::PartnerHangup(cause)).await;
        }
        self.data(|d| d.set_hangup_variables());
        self.set_state(ChannelState::Reporting);
        let cause = self
            .handle
            .with(|d| d.hangup_cause.unwrap_or(HangupCause::NormalClearing));
        self.fire(
            "CHANNEL_HANGUP_COMPLETE",
            origin(
                "switch_core_state_machine.c",
                "switch_core_session_reporting_state",
                943,
            ),
            &[("Hangup-Cause", cause.as_str())],
            &[],
            true,
        );
        self.sw.conferences.leave_all(&self.uuid);
        self.fire(
            "CHANNEL_DESTROY",
            origin(
                "switch_core_session.c",
                "switch_core_session_perform_destroy",
                1584,
            ),
            &[],
            &[],
            true,
        );
        self.set_state(ChannelState::Destroy);
        let at = origin("switch_core_session.c", "switch_core_session_thread", 1762);
        self.log(5, 3, at, |d| {
            format!("Session {} ({}) Ended", d.session_id, d.name)
        });
        let at = origin("switch_core_session.c", "switch_core_session_thread", 1766);
        self.log(5, 0, at, |d| {
            format!("Close Channel {} [CS_DESTROY]", d.name)
        });
        self.sw.remove_channel(&self.uuid);
    }
}

/// Which events end a [`Session::wait`] early, beyond the ones that always do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interrupts {
    pub dtmf: bool,
    pub queued: bool,
    pub answer: bool,
}

impl Interrupts {
    pub const NONE: Self = Self {
        dtmf: false,
        queued: false,
        answer: false,
    };
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
