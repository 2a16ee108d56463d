//! The one error type of this crate.

use std::io;

/// Everything that can go wrong while speaking ESL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// A header block grew past the configured limit before its blank line.
    #[error("header block exceeds the limit of {limit} bytes")]
    HeaderTooLarge {
        /// The configured limit.
        limit: usize,
    },

    /// A `Content-Length` announced a body larger than the configured limit.
    #[error("body of {len} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The announced length.
        len: usize,
        /// The configured limit.
        limit: usize,
    },

    /// A message had more header lines than the configured limit.
    #[error("more than {limit} header lines in one message")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },

    /// The bytes on the wire are not ESL.
    #[error("malformed message: {0}")]
    Malformed(String),

    /// An event body could not be parsed in its announced format.
    #[error("malformed {format} event: {reason}")]
    MalformedEvent {
        /// `plain`, `json` or `xml`.
        format: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// A command argument, header name or header value contains CR, LF or NUL
    /// (or a header name contains a colon), which would let it inject a second
    /// command into the stream.
    #[error("refused {what}: contains CR, LF, NUL or another forbidden character: {value:?}")]
    InvalidArgument {
        /// Which part of the command was refused.
        what: &'static str,
        /// The refused text.
        value: String,
    },

    /// A frame's body and its `Content-Length` header disagree.
    #[error("Content-Length {header} does not match the body length {body}")]
    ContentLengthMismatch {
        /// The value of the header.
        header: String,
        /// The actual body length.
        body: usize,
    },

    /// FreeSWITCH answered `-ERR …` (or something other than `+OK`).
    #[error("FreeSWITCH replied: {0}")]
    CommandFailed(String),

    /// `auth`/`userauth` was refused.
    #[error("authentication failed: {0}")]
    AuthFailed(String),

    /// The peer sent something the protocol does not allow at that point.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// The connection is closed (or was closed while waiting for a reply).
    #[error("connection closed")]
    Closed,

    /// A deadline passed.
    #[error("timed out")]
    Timeout,
}

impl Error {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Error::Malformed(reason.into())
    }

    pub(crate) fn invalid(what: &'static str, value: &str) -> Self {
        Error::InvalidArgument {
            what,
            value: value.to_owned(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
