//! A virtual FreeSWITCH node: speaks the real Event Socket (ESL) protocol,
//! runs Channels through FreeSWITCH's state machine with scripted far ends,
//! and fires FreeSWITCH's events with their header sets.
//!
//! Start one with [`start`] (or [`run`] for a plain future), connect to it
//! with any ESL client, and inject inbound calls with
//! [`VSwitch::inject`] or `api vswitch_inbound <from> <to> [script]`.

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
pub mod session;
pub mod switch;

pub use channel::HangupCause;
pub use config::Config;
pub use farend::{FarEnd, NUMBERING_PLAN};
pub use switch::{InboundCall, InjectError, StartError, Switch};
