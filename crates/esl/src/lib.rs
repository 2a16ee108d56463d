//! FreeSWITCH Event Socket (ESL) protocol for Tokio.
//!
//! * [`ClientCodec`] / [`ServerCodec`]: `tokio-util` codecs for both directions, exact
//!   to FreeSWITCH 1.10.12's framing, with size [`Limits`].
//! * [`Frame`]: one message (ordered headers + body) with typed accessors and
//!   constructors for every frame FreeSWITCH sends.
//! * [`Event`]: an event parsed from and serialised to plain, JSON or XML exactly as
//!   FreeSWITCH does, with typed access to the common headers.
//! * [`Command`]: every command a client sends, refusing CR/LF/NUL injection.
//! * [`Client`]: the inbound client (auth, api, bgapi with job correlation, events,
//!   filters, sendmsg with completion futures, liveness, reconnect + re-subscribe,
//!   a bounded event channel).
//! * [`OutboundServer`] / [`OutboundSession`]: the `socket` application's side.
//!
//! Decoding copies nothing: a frame or event is one shared [`bytes::Bytes`] buffer
//! plus offsets, and values are unescaped only when read.
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod command;
mod conn;
pub mod error;
pub mod event;
pub mod frame;
pub mod outbound;
mod uuid;

pub use client::{Backoff, Client, ClientConfig};
pub use codec::{ClientCodec, Limits, ServerCodec};
pub use command::Command;
pub use conn::{BackgroundJob, EventStream, Execution, Incoming, Overflow, Stats};
pub use error::{Error, Result};
pub use event::{AnswerState, ChannelState, Event, EventFormat, HangupCause};
pub use frame::{ContentType, Frame, LogData};
pub use outbound::{OutboundConfig, OutboundServer, OutboundSession};

#[cfg(doctest)]
mod readme {
    #![doc = include_str!("../README.md")]
}
