//! Switchboard: a self-hosted programmable-voice platform. A Twilio-compatible
//! REST API and TwiML, executed on FreeSWITCH media nodes over the Event Socket.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod events;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod router;
pub mod server;
pub mod sid;
pub mod store;
pub mod webhook;
