//! Errors and warnings raised while reading a TwiML document, each carrying
//! the code from Twilio's error dictionary so the call router can record it
//! as a notification exactly as Twilio would.

use thiserror::Error;

/// Twilio error codes used by this crate (see twilio.com/docs/api/errors).
pub mod code {
    /// Document parse failure: the body is not well-formed XML (or JSON).
    pub const DOCUMENT_PARSE_FAILURE: u32 = 12100;
    /// The root element must be Response.
    pub const ROOT_NOT_RESPONSE: u32 = 12102;
    /// Schema validation warning: unknown verb, attribute or nesting.
    pub const SCHEMA_VALIDATION: u32 = 12200;
    /// Conference noun cannot be mixed with Number nouns.
    pub const CONFERENCE_MIXED_WITH_NUMBERS: u32 = 13000;
    /// Dial: Invalid nested element.
    pub const DIAL_INVALID_NESTED_ELEMENT: u32 = 13215;
    /// Dial: Invalid phone number format.
    pub const DIAL_INVALID_PHONE_NUMBER: u32 = 13223;
    /// Dial->Conference: Invalid Conference Name.
    pub const CONFERENCE_INVALID_NAME: u32 = 13237;
    /// Dial->SIP: Invalid SIP URI.
    pub const SIP_INVALID_URI: u32 = 13243;
    /// Gather: Invalid nested verb.
    pub const GATHER_INVALID_NESTED_VERB: u32 = 13320;
    /// Gather->Say: Invalid voice value.
    pub const GATHER_SAY_INVALID_VOICE: u32 = 13321;
    /// Gather->Say: Invalid loop value.
    pub const GATHER_SAY_INVALID_LOOP: u32 = 13322;
    /// Say: Invalid loop value.
    pub const SAY_INVALID_LOOP: u32 = 13510;
    /// Say: Invalid voice value.
    pub const SAY_INVALID_VOICE: u32 = 13511;
    /// Say: Invalid text.
    pub const SAY_INVALID_TEXT: u32 = 13520;
    /// `<Say>` element character limits exceeded.
    pub const SAY_TEXT_TOO_LONG: u32 = 13521;
    /// Enqueue: Queue name too short.
    pub const ENQUEUE_NAME_TOO_SHORT: u32 = 14204;
    /// Enqueue: Queue name too long.
    pub const ENQUEUE_NAME_TOO_LONG: u32 = 14205;
    /// Dial->Queue: queue name too short.
    pub const QUEUE_NAME_TOO_SHORT: u32 = 14212;
    /// Dial->Queue: queue name too long.
    pub const QUEUE_NAME_TOO_LONG: u32 = 14213;
    /// Start: Invalid nested noun value.
    pub const START_INVALID_NESTED_NOUN: u32 = 14300;
}

/// Why a TwiML document (or one element of it) was refused.
///
/// Every variant carries a Twilio error code ([`TwimlError::code`]) and a
/// message naming the element, attribute and value involved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TwimlError {
    /// The body is not well-formed XML or JSON (12100).
    #[error("12100 Document parse failure: {detail}")]
    Parse {
        /// What the XML or JSON reader reported.
        detail: String,
    },
    /// The document's root is not `<Response>` (12102).
    #[error("12102 The root element must be Response, found <{found}>")]
    RootNotResponse {
        /// The root element that was found.
        found: String,
    },
    /// An element that is not a TwiML voice verb or noun (12200).
    #[error("12200 Schema validation warning: <{element}> is not a TwiML voice verb or noun")]
    UnknownElement {
        /// The element's name as written.
        element: String,
    },
    /// A verb or noun Twilio defines that this crate does not model yet
    /// (`<Pay>`, `<Connect><Room>` …) (12200).
    #[error("12200 Schema validation warning: <{element}> is a TwiML element Switchboard does not support")]
    UnsupportedElement {
        /// The element's name.
        element: String,
    },
    /// A known element in a place where it is not allowed.
    #[error("{code} <{parent}> cannot contain <{child}>")]
    InvalidNesting {
        /// Twilio code: 13320 in Gather, 13215 in Dial, 14300 in Start, else 12200.
        code: u32,
        /// The containing element.
        parent: &'static str,
        /// The misplaced element.
        child: String,
    },
    /// An attribute value outside what Twilio accepts.
    #[error(
        "{code} <{element}> attribute {attribute}=\"{value}\" is invalid: expected {expected}"
    )]
    InvalidAttribute {
        /// The verb-specific Twilio code (e.g. 13313 Gather timeout), else 12200.
        code: u32,
        /// The element carrying the attribute.
        element: &'static str,
        /// The attribute's name.
        attribute: &'static str,
        /// The value as written.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// An attribute that Twilio does not define for this element (12200).
    /// Twilio ignores these with a warning, so the parser reports them in
    /// [`crate::Parsed::warnings`] rather than failing.
    #[error(
        "12200 Schema validation warning: attribute {attribute} is not allowed on <{element}>"
    )]
    UnknownAttribute {
        /// The element carrying the attribute.
        element: &'static str,
        /// The attribute's name as written.
        attribute: String,
    },
    /// The element's text or children are not acceptable (missing URL,
    /// invalid phone number, stray text …).
    #[error("{code} <{element}>: {problem}")]
    InvalidContent {
        /// The verb-specific Twilio code, else 12200.
        code: u32,
        /// The element concerned.
        element: &'static str,
        /// What is wrong, naming the offending value.
        problem: String,
    },
}

impl TwimlError {
    /// The Twilio error code, as recorded in a notification's `error_code`.
    pub fn code(&self) -> u32 {
        match self {
            TwimlError::Parse { .. } => code::DOCUMENT_PARSE_FAILURE,
            TwimlError::RootNotResponse { .. } => code::ROOT_NOT_RESPONSE,
            TwimlError::UnknownElement { .. }
            | TwimlError::UnsupportedElement { .. }
            | TwimlError::UnknownAttribute { .. } => code::SCHEMA_VALIDATION,
            TwimlError::InvalidNesting { code, .. }
            | TwimlError::InvalidAttribute { code, .. }
            | TwimlError::InvalidContent { code, .. } => *code,
        }
    }

    /// Twilio's page for this code, for a notification's `more_info`.
    pub fn more_info(&self) -> String {
        format!("https://www.twilio.com/docs/errors/{}", self.code())
    }

    pub(crate) fn parse(detail: impl Into<String>) -> Self {
        TwimlError::Parse {
            detail: detail.into(),
        }
    }

    /// The error for an element name that is not in the model: Twilio's
    /// own but unsupported elements are told apart from unknown ones.
    pub(crate) fn unknown_element(name: &str) -> Self {
        if crate::node::is_unsupported_twilio_element(name) {
            TwimlError::UnsupportedElement {
                element: name.to_owned(),
            }
        } else {
            TwimlError::UnknownElement {
                element: name.to_owned(),
            }
        }
    }

    pub(crate) fn content(code: u32, element: &'static str, problem: impl Into<String>) -> Self {
        TwimlError::InvalidContent {
            code,
            element,
            problem: problem.into(),
        }
    }

    /// Re-labels a nested `<Say>` error with the Gather-specific code Twilio
    /// uses for `<Gather><Say>` (13322 loop, 13321 voice).
    pub(crate) fn inside_gather(self) -> Self {
        match self {
            TwimlError::InvalidAttribute {
                code,
                element,
                attribute,
                value,
                expected,
            } => {
                let code = match code {
                    code::SAY_INVALID_LOOP => code::GATHER_SAY_INVALID_LOOP,
                    code::SAY_INVALID_VOICE => code::GATHER_SAY_INVALID_VOICE,
                    other => other,
                };
                TwimlError::InvalidAttribute {
                    code,
                    element,
                    attribute,
                    value,
                    expected,
                }
            }
            other => other,
        }
    }
}
