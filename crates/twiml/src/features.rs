//! What a document uses — its verbs, nouns and the attributes it sets — so
//! the call router can refuse, with a precise message, a document that needs
//! something it does not execute yet ("Dial attribute ringTone is not
//! supported") instead of silently ignoring it.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::*;
use crate::node::Node;

/// One element of a document, or one attribute set on such an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Feature {
    /// The verb or noun, by TwiML name (`"Dial"`, `"Number"` …).
    pub element: &'static str,
    /// The attribute, by TwiML name (`"ringTone"`), or `None` for the
    /// element itself.
    pub attribute: Option<&'static str>,
}

impl Feature {
    /// The element itself.
    pub const fn element(element: &'static str) -> Self {
        Feature {
            element,
            attribute: None,
        }
    }

    /// One attribute of an element.
    pub const fn attribute(element: &'static str, attribute: &'static str) -> Self {
        Feature {
            element,
            attribute: Some(attribute),
        }
    }
}

/// "Dial" or "Dial attribute ringTone", ready for "… is not supported".
impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attribute {
            Some(attribute) => write!(f, "{} attribute {}", self.element, attribute),
            None => f.write_str(self.element),
        }
    }
}

impl Response {
    /// Every element and every attribute the document uses, each once,
    /// sorted. A bare `<Dial>` number shows as a `Number`.
    pub fn features(&self) -> Vec<Feature> {
        let mut found = BTreeSet::new();
        collect(&self.to_node(), &mut found);
        found.into_iter().collect()
    }

    /// The first feature (in [`Response::features`] order) that `supported`
    /// refuses, for a router that executes only part of TwiML.
    pub fn first_unsupported(&self, supported: impl Fn(&Feature) -> bool) -> Option<Feature> {
        self.features().into_iter().find(|f| !supported(f))
    }
}

fn collect(node: &Node<'_>, found: &mut BTreeSet<Feature>) {
    found.insert(Feature::element(node.name));
    let names = attribute_names(node.name);
    for (key, _) in &node.attributes {
        // The model only writes attributes it defines, so the lookup finds
        // the static name.
        if let Some(name) = names.iter().find(|name| **name == key.as_ref()) {
            found.insert(Feature::attribute(node.name, name));
        }
    }
    for child in &node.children {
        collect(child, found);
    }
}

/// The attributes Twilio defines for an element, by TwiML name.
pub fn attribute_names(element: &str) -> &'static [&'static str] {
    match element {
        "Say" => Say::ATTRIBUTES,
        "Play" => Play::ATTRIBUTES,
        "Pause" => Pause::ATTRIBUTES,
        "Gather" => Gather::ATTRIBUTES,
        "Record" => Record::ATTRIBUTES,
        "Hangup" => Hangup::ATTRIBUTES,
        "Reject" => Reject::ATTRIBUTES,
        "Redirect" => Redirect::ATTRIBUTES,
        "Dial" => Dial::ATTRIBUTES,
        "Number" => Number::ATTRIBUTES,
        "Sip" => Sip::ATTRIBUTES,
        "Client" => Client::ATTRIBUTES,
        "Parameter" => Parameter::ATTRIBUTES,
        "Conference" => Conference::ATTRIBUTES,
        "Queue" => Queue::ATTRIBUTES,
        "Enqueue" => Enqueue::ATTRIBUTES,
        "Task" => Task::ATTRIBUTES,
        "Leave" => Leave::ATTRIBUTES,
        "Start" => Start::ATTRIBUTES,
        "Stop" => Stop::ATTRIBUTES,
        "Stream" => Stream::ATTRIBUTES,
        "Connect" => Connect::ATTRIBUTES,
        "Echo" => Echo::ATTRIBUTES,
        "Refer" => Refer::ATTRIBUTES,
        _ => &[],
    }
}
