//! TwiML for voice: a typed model of every Twilio voice verb and noun, read
//! from XML (or from its JSON form) with Twilio's defaults and error codes,
//! and written back to either.
//!
//! ```
//! let parsed = twiml::parse_xml(
//!     r#"<Response><Gather numDigits="1" action="/menu"><Say>Press 1</Say></Gather></Response>"#,
//! )?;
//! let twiml::Verb::Gather(gather) = &parsed.response.verbs[0] else { unreachable!() };
//! assert_eq!(gather.timeout(), 5); // Twilio's default
//! assert_eq!(gather.num_digits.map(|n| n.get()), Some(1));
//! assert!(parsed.warnings.is_empty());
//! # Ok::<(), twiml::TwimlError>(())
//! ```
//!
//! Reading fails with [`TwimlError`], whose [`TwimlError::code`] is the
//! Twilio code to record: 12100 for malformed documents, 12102 for a root
//! other than `<Response>`, 12200 for unknown verbs and bad nesting, and the
//! verb-specific 13xxx/14xxx codes for invalid attribute values. What Twilio
//! merely warns about (unknown attributes, an empty `<Say>`) is returned in
//! [`Parsed::warnings`].
//!
//! Every attribute the document set is kept (attribute fields are
//! `Option`s), so a router can refuse what it does not execute yet; see
//! [`Response::features`].

mod element;
mod error;
mod features;
mod json;
mod model;
mod node;
mod validate;
mod value;
mod xml;

#[cfg(test)]
mod proptests;

pub use error::{code, TwimlError};
pub use features::{attribute_names, Feature};
pub use model::{
    Client, Conference, Connect, Dial, DialTarget, Echo, Enqueue, Gather, GatherPrompt, Hangup,
    Leave, Number, Parameter, Pause, Play, Queue, Record, Redirect, Refer, Reject, Response, Say,
    Sip, Start, Stop, Stream, Task, Verb, DEFAULT_CONFERENCE_WAIT_URL,
};
pub use value::{
    CallProgressEvent, ConferenceBeep, ConferenceEvent, ConferenceRecord, DialRecord, DtmfSequence,
    FinishOnKey, GatherInput, JitterBufferSize, MachineDetection, Method, RecordingEvent,
    RecordingTrack, RejectReason, RingTone, SpeechTimeout, StreamTrack, Trim,
};

/// A document that was accepted, with the warnings Twilio would log for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The verbs to execute.
    pub response: Response,
    /// Non-fatal problems (12200 unknown attribute, 13520 empty Say …),
    /// to record as warning notifications.
    pub warnings: Vec<TwimlError>,
}

/// The two forms a webhook may answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TwiML XML.
    Xml,
    /// The JSON form described in this crate's README.
    Json,
}

impl Format {
    /// The form announced by a webhook response's `Content-Type`, or `None`
    /// for a type TwiML cannot be read from (Twilio's 12300).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/xml" | "application/xml" | "text/html" => Some(Format::Xml),
            "application/json" => Some(Format::Json),
            other if other.ends_with("+xml") => Some(Format::Xml),
            other if other.ends_with("+json") => Some(Format::Json),
            _ => None,
        }
    }
}

/// Reads a document in the given form.
pub fn parse(body: &str, format: Format) -> Result<Parsed, TwimlError> {
    match format {
        Format::Xml => parse_xml(body),
        Format::Json => parse_json(body),
    }
}

/// Reads a TwiML XML document.
pub fn parse_xml(xml: &str) -> Result<Parsed, TwimlError> {
    let root = xml::read(strip_bom(xml))?;
    validate(&root)
}

/// Reads a TwiML document in its JSON form.
pub fn parse_json(json: &str) -> Result<Parsed, TwimlError> {
    let root = json::read(strip_bom(json))?;
    validate(&root)
}

/// Some servers start UTF-8 bodies with a byte-order mark; it is not content.
fn strip_bom(body: &str) -> &str {
    body.strip_prefix('\u{feff}').unwrap_or(body)
}

fn validate(root: &node::Node<'_>) -> Result<Parsed, TwimlError> {
    let mut validator = validate::Validator::new();
    let response = validator.response(root)?;
    Ok(Parsed {
        response,
        warnings: validator.warnings,
    })
}

impl Response {
    /// The document as TwiML XML, with an XML declaration. Only attributes
    /// the model holds are written, so defaults stay implicit.
    pub fn to_xml(&self) -> String {
        xml::write(&self.to_node())
    }

    /// The document in its JSON form.
    pub fn to_json_value(&self) -> serde_json::Value {
        json::write(&self.to_node())
    }

    /// The document in its JSON form, as text.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }
}

/// Formats as TwiML XML, as [`Response::to_xml`] does.
impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_xml())
    }
}

/// Serialises to the JSON form (see the README).
impl serde::Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.to_json_value(), serializer)
    }
}

/// Deserialises from the JSON form with the same validation as
/// [`parse_json`]; warnings are dropped, use [`parse_json`] to keep them.
impl<'de> serde::Deserialize<'de> for Response {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
        json::read_value(&value)
            .and_then(|root| validate(&root))
            .map(|parsed| parsed.response)
            .map_err(serde::de::Error::custom)
    }
}
