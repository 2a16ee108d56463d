//! The untyped element tree shared by the XML and JSON forms. Both readers
//! produce a [`Node`] tree and the model is built from it by one validator,
//! so XML and JSON documents are held to exactly the same rules; both
//! writers start from the [`Node`] tree the model produces.

use std::borrow::Cow;

use crate::value::Scalar;

/// Deepest element nesting accepted. TwiML itself needs four levels
/// (`Response/Dial/Client/Parameter`); SSML inside `<Say>` a few more. The
/// bound keeps hostile input from exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 32;

/// One element: name, attributes in document order, text and children.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Node<'a> {
    pub name: &'static str,
    pub attributes: Vec<(Cow<'a, str>, Scalar<'a>)>,
    pub text: Cow<'a, str>,
    pub children: Vec<Node<'a>>,
}

impl<'a> Node<'a> {
    pub fn new(name: &'static str) -> Self {
        Node {
            name,
            ..Node::default()
        }
    }

    pub fn with_text(name: &'static str, text: impl Into<Cow<'a, str>>) -> Self {
        Node {
            name,
            text: text.into(),
            ..Node::default()
        }
    }

    /// Appends a run of character data. Leading whitespace-only runs are
    /// dropped (text is trimmed anyway) so that element-only content such as
    /// `<Response>` between its verbs never allocates.
    pub fn push_text(&mut self, run: Cow<'a, str>) {
        if self.text.is_empty() {
            if !run.trim().is_empty() {
                self.text = run;
            }
        } else {
            self.text.to_mut().push_str(&run);
        }
    }
}

impl Node<'_> {
    /// Separates words at an SSML boundary, without doubling spaces.
    pub fn push_word_break(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.text.to_mut().push(' ');
        }
    }
}

/// Every TwiML voice element name this crate knows, interned so nodes carry
/// `&'static str` and the model can match on them.
pub(crate) fn known_element(name: &str) -> Option<&'static str> {
    Some(match name {
        "Response" => "Response",
        "Say" => "Say",
        "Play" => "Play",
        "Pause" => "Pause",
        "Gather" => "Gather",
        "Record" => "Record",
        "Hangup" => "Hangup",
        "Reject" => "Reject",
        "Redirect" => "Redirect",
        "Dial" => "Dial",
        "Number" => "Number",
        "Sip" => "Sip",
        "Client" => "Client",
        "Identity" => "Identity",
        "Parameter" => "Parameter",
        "Conference" => "Conference",
        "Queue" => "Queue",
        "Enqueue" => "Enqueue",
        "Task" => "Task",
        "Leave" => "Leave",
        "Start" => "Start",
        "Stop" => "Stop",
        "Stream" => "Stream",
        "Connect" => "Connect",
        "Echo" => "Echo",
        "Refer" => "Refer",
        _ => return None,
    })
}

/// Voice verbs and nouns Twilio defines that the model does not cover.
pub(crate) fn is_unsupported_twilio_element(name: &str) -> bool {
    matches!(
        name,
        "Pay"
            | "Prompt"
            | "Sms"
            | "Message"
            | "Siprec"
            | "Transcription"
            | "Room"
            | "Conversation"
            | "ConversationRelay"
            | "VirtualAgent"
            | "Autopilot"
            | "AiSession"
            | "Assistant"
            | "Application"
            | "ApplicationSid"
            | "Sim"
            | "WhatsApp"
            | "Recording"
            | "Uri"
            | "Headers"
            | "Header"
            | "Config"
            | "Language"
            | "ConversationRelaySession"
    )
}

/// SSML elements Twilio accepts inside `<Say>`; their text is flattened
/// into the Say text.
pub(crate) fn is_ssml(name: &str) -> bool {
    matches!(
        name,
        "break"
            | "emphasis"
            | "lang"
            | "p"
            | "phoneme"
            | "prosody"
            | "s"
            | "say-as"
            | "sub"
            | "w"
            | "amazon:effect"
            | "amazon:domain"
    )
}

/// SSML elements that separate words: flattening inserts a space at their
/// boundaries so `<s>One</s><s>Two</s>` reads "One Two".
pub(crate) fn ssml_separates_words(name: &str) -> bool {
    matches!(name, "break" | "p" | "s")
}

/// The key that holds an element's text in the JSON form.
pub(crate) fn json_text_key(element: &str) -> &'static str {
    match element {
        "Play" | "Redirect" => "url",
        "Dial" | "Number" => "number",
        "Sip" => "uri",
        "Client" | "Identity" => "identity",
        "Conference" | "Queue" | "Enqueue" => "name",
        "Task" => "attributes",
        _ => "text",
    }
}
