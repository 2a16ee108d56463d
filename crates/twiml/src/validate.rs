//! Builds the typed model from the element tree, enforcing TwiML's schema:
//! which verbs and nouns nest where, which content each needs, and typed
//! attribute values. Problems Twilio treats as fatal are errors; problems
//! it ignores with a warning (unknown attributes, stray text, empty `<Say>`)
//! are collected as warnings.

use std::borrow::Cow;

use crate::element::ElementAttributes;
use crate::error::{code, TwimlError};
use crate::model::*;
use crate::node::Node;
use crate::value::Scalar;

/// Longest `<Say>` text Twilio speaks, in characters.
const MAX_SAY_CHARACTERS: usize = 4096;

/// Longest queue name Twilio accepts.
const MAX_QUEUE_NAME: usize = 64;

pub(crate) struct Validator {
    pub warnings: Vec<TwimlError>,
}

impl Validator {
    pub fn new() -> Self {
        Validator {
            warnings: Vec::new(),
        }
    }

    pub fn response(&mut self, root: &Node<'_>) -> Result<Response, TwimlError> {
        if root.name != "Response" {
            return Err(TwimlError::RootNotResponse {
                found: root.name.to_owned(),
            });
        }
        let _: NoAttributes = self.attributes_as(root, "Response")?;
        self.no_text(root);
        let verbs = root
            .children
            .iter()
            .map(|child| self.verb(child))
            .collect::<Result<_, _>>()?;
        Ok(Response { verbs })
    }

    fn verb(&mut self, node: &Node<'_>) -> Result<Verb, TwimlError> {
        Ok(match node.name {
            "Say" => Verb::Say(self.say(node)?),
            "Play" => Verb::Play(self.play(node)?),
            "Pause" => Verb::Pause(self.leaf(node)?),
            "Gather" => Verb::Gather(self.gather(node)?),
            "Record" => Verb::Record(self.leaf(node)?),
            "Hangup" => {
                let mut hangup: Hangup = self.attributes(node)?;
                hangup.parameters = self.parameters(node)?;
                Verb::Hangup(hangup)
            }
            "Reject" => {
                let mut reject: Reject = self.attributes(node)?;
                reject.parameters = self.parameters(node)?;
                Verb::Reject(reject)
            }
            "Redirect" => Verb::Redirect(self.redirect(node)?),
            "Dial" => Verb::Dial(self.dial(node)?),
            "Enqueue" => Verb::Enqueue(self.enqueue(node)?),
            "Leave" => Verb::Leave(self.leaf(node)?),
            "Start" => Verb::Start(self.start(node)?),
            "Stop" => Verb::Stop(self.stop(node)?),
            "Connect" => Verb::Connect(self.connect(node)?),
            "Echo" => Verb::Echo(self.leaf(node)?),
            "Refer" => Verb::Refer(self.refer(node)?),
            other => return Err(misplaced(code::SCHEMA_VALIDATION, "Response", other)),
        })
    }

    /// Reads `node`'s attributes into a fresh `T`, warning about unknown ones.
    fn attributes<T: ElementAttributes>(&mut self, node: &Node<'_>) -> Result<T, TwimlError> {
        self.attributes_as(node, T::ELEMENT)
    }

    fn attributes_as<T: ElementAttributes>(
        &mut self,
        node: &Node<'_>,
        element: &'static str,
    ) -> Result<T, TwimlError> {
        let mut target = T::default();
        for (name, value) in &node.attributes {
            let raw: Cow<'_, str> = match value {
                Scalar::Text(text) => Cow::Borrowed(text.as_ref()),
                other => Cow::Owned(other.to_string()),
            };
            if !target.set_attribute(name, &raw)? {
                self.warnings.push(TwimlError::UnknownAttribute {
                    element,
                    attribute: name.to_string(),
                });
            }
        }
        Ok(target)
    }

    /// An element with attributes only: no children, text ignored with a warning.
    fn leaf<T: ElementAttributes>(&mut self, node: &Node<'_>) -> Result<T, TwimlError> {
        no_children(node)?;
        self.no_text(node);
        self.attributes(node)
    }

    fn no_text(&mut self, node: &Node<'_>) {
        if !node.text.is_empty() {
            self.warnings.push(TwimlError::content(
                code::SCHEMA_VALIDATION,
                node.name,
                format!("text \"{}\" is not allowed here and is ignored", node.text),
            ));
        }
    }

    fn say(&mut self, node: &Node<'_>) -> Result<Say, TwimlError> {
        no_children(node)?;
        let mut say: Say = self.attributes(node)?;
        say.text = node.text.to_string();
        if say.text.is_empty() {
            // Twilio skips an empty <Say> with this warning.
            self.warnings.push(TwimlError::content(
                code::SAY_INVALID_TEXT,
                "Say",
                "there is no text to say",
            ));
        }
        let characters = say.text.chars().count();
        if characters > MAX_SAY_CHARACTERS {
            self.warnings.push(TwimlError::content(
                code::SAY_TEXT_TOO_LONG,
                "Say",
                format!("the text has {characters} characters, more than the {MAX_SAY_CHARACTERS} Twilio speaks"),
            ));
        }
        Ok(say)
    }

    fn play(&mut self, node: &Node<'_>) -> Result<Play, TwimlError> {
        no_children(node)?;
        let mut play: Play = self.attributes(node)?;
        play.url = node.text.to_string();
        if play.url.is_empty() && play.digits.is_none() {
            return Err(TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Play",
                "needs an audio URL or a digits attribute",
            ));
        }
        Ok(play)
    }

    fn gather(&mut self, node: &Node<'_>) -> Result<Gather, TwimlError> {
        self.no_text(node);
        let mut gather: Gather = self.attributes(node)?;
        for child in &node.children {
            let prompt = match child.name {
                "Say" => GatherPrompt::Say(self.say(child).map_err(TwimlError::inside_gather)?),
                "Play" => GatherPrompt::Play(self.play(child)?),
                "Pause" => GatherPrompt::Pause(self.leaf(child)?),
                other => return Err(misplaced(code::GATHER_INVALID_NESTED_VERB, "Gather", other)),
            };
            gather.prompts.push(prompt);
        }
        Ok(gather)
    }

    fn redirect(&mut self, node: &Node<'_>) -> Result<Redirect, TwimlError> {
        no_children(node)?;
        let mut redirect: Redirect = self.attributes(node)?;
        redirect.url = required_text(node, code::SCHEMA_VALIDATION, "needs a URL")?;
        Ok(redirect)
    }

    fn dial(&mut self, node: &Node<'_>) -> Result<Dial, TwimlError> {
        let mut dial: Dial = self.attributes(node)?;
        if !node.text.is_empty() {
            if !node.children.is_empty() {
                return Err(TwimlError::content(
                    code::DIAL_INVALID_NESTED_ELEMENT,
                    "Dial",
                    format!(
                        "a bare number (\"{}\") cannot be combined with nested nouns",
                        node.text
                    ),
                ));
            }
            dial.targets.push(DialTarget::Number(Number {
                number: phone_number(&node.text, "Dial")?,
                ..Number::default()
            }));
            return Ok(dial);
        }
        for child in &node.children {
            let target = match child.name {
                "Number" => {
                    no_children(child)?;
                    let mut number: Number = self.attributes(child)?;
                    number.number = phone_number(&child.text, "Number")?;
                    DialTarget::Number(number)
                }
                "Sip" => DialTarget::Sip(self.sip(child)?),
                "Client" => DialTarget::Client(self.client(child)?),
                "Conference" => {
                    no_children(child)?;
                    let mut conference: Conference = self.attributes(child)?;
                    conference.name = required_text(
                        child,
                        code::CONFERENCE_INVALID_NAME,
                        "needs a conference name",
                    )?;
                    DialTarget::Conference(conference)
                }
                "Queue" => {
                    no_children(child)?;
                    let mut queue: Queue = self.attributes(child)?;
                    queue.name =
                        required_text(child, code::QUEUE_NAME_TOO_SHORT, "needs a queue name")?;
                    if queue.name.chars().count() > MAX_QUEUE_NAME {
                        return Err(TwimlError::content(
                            code::QUEUE_NAME_TOO_LONG,
                            "Queue",
                            format!("queue name \"{}\" is longer than 64 characters", queue.name),
                        ));
                    }
                    DialTarget::Queue(queue)
                }
                other => return Err(misplaced(code::DIAL_INVALID_NESTED_ELEMENT, "Dial", other)),
            };
            dial.targets.push(target);
        }
        match dial.targets.len() {
            0 => Err(TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Dial",
                "needs a number or a noun (Number, Sip, Client, Conference, Queue) to dial",
            )),
            1 => Ok(dial),
            _ => {
                // A conference or queue is the one thing a Dial connects to.
                if let Some(single) = dial
                    .targets
                    .iter()
                    .find(|t| matches!(t, DialTarget::Conference(_) | DialTarget::Queue(_)))
                {
                    let code = match single {
                        DialTarget::Conference(_) => code::CONFERENCE_MIXED_WITH_NUMBERS,
                        _ => code::DIAL_INVALID_NESTED_ELEMENT,
                    };
                    return Err(TwimlError::content(
                        code,
                        "Dial",
                        format!("<{}> cannot be combined with other nouns", single.name()),
                    ));
                }
                Ok(dial)
            }
        }
    }

    fn sip(&mut self, node: &Node<'_>) -> Result<Sip, TwimlError> {
        no_children(node)?;
        let mut sip: Sip = self.attributes(node)?;
        sip.uri = sip_uri(&node.text)?;
        Ok(sip)
    }

    fn client(&mut self, node: &Node<'_>) -> Result<Client, TwimlError> {
        let mut client: Client = self.attributes(node)?;
        client.identity = node.text.to_string();
        for child in &node.children {
            match child.name {
                "Identity" => {
                    no_children(child)?;
                    let _: NoAttributes = self.attributes_as(child, "Identity")?;
                    if !client.identity.is_empty() {
                        return Err(TwimlError::content(
                            code::SCHEMA_VALIDATION,
                            "Client",
                            "has more than one identity",
                        ));
                    }
                    client.identity = child.text.to_string();
                }
                "Parameter" => client.parameters.push(self.parameter(child)?),
                other => return Err(misplaced(code::SCHEMA_VALIDATION, "Client", other)),
            }
        }
        if client.identity.is_empty() {
            return Err(TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Client",
                "needs a client identity",
            ));
        }
        Ok(client)
    }

    /// Children that may only be `<Parameter>`s; text is ignored with a warning.
    fn parameters(&mut self, node: &Node<'_>) -> Result<Vec<Parameter>, TwimlError> {
        self.no_text(node);
        node.children
            .iter()
            .map(|child| match child.name {
                "Parameter" => self.parameter(child),
                other => Err(misplaced(code::SCHEMA_VALIDATION, node.name, other)),
            })
            .collect()
    }

    fn parameter(&mut self, node: &Node<'_>) -> Result<Parameter, TwimlError> {
        let parameter: Parameter = self.leaf(node)?;
        if parameter.name.as_deref().unwrap_or("").is_empty() {
            return Err(TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Parameter",
                "needs a name attribute",
            ));
        }
        Ok(parameter)
    }

    fn enqueue(&mut self, node: &Node<'_>) -> Result<Enqueue, TwimlError> {
        let mut enqueue: Enqueue = self.attributes(node)?;
        enqueue.name = node.text.to_string();
        for child in &node.children {
            match child.name {
                "Task" if enqueue.task.is_none() => {
                    no_children(child)?;
                    let mut task: Task = self.attributes(child)?;
                    task.attributes = child.text.to_string();
                    enqueue.task = Some(task);
                }
                other => return Err(misplaced(code::SCHEMA_VALIDATION, "Enqueue", other)),
            }
        }
        if enqueue.name.is_empty() && enqueue.workflow_sid.is_none() {
            return Err(TwimlError::content(
                code::ENQUEUE_NAME_TOO_SHORT,
                "Enqueue",
                "needs a queue name (or a workflowSid)",
            ));
        }
        if enqueue.name.chars().count() > MAX_QUEUE_NAME {
            return Err(TwimlError::content(
                code::ENQUEUE_NAME_TOO_LONG,
                "Enqueue",
                format!(
                    "queue name \"{}\" is longer than 64 characters",
                    enqueue.name
                ),
            ));
        }
        Ok(enqueue)
    }

    fn stream(&mut self, node: &Node<'_>, needs_url: bool) -> Result<Stream, TwimlError> {
        self.no_text(node);
        let mut stream: Stream = self.attributes(node)?;
        for child in &node.children {
            match child.name {
                "Parameter" => stream.parameters.push(self.parameter(child)?),
                other => return Err(misplaced(code::SCHEMA_VALIDATION, "Stream", other)),
            }
        }
        if needs_url && stream.url.as_deref().unwrap_or("").is_empty() {
            return Err(TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Stream",
                "needs a url attribute (the wss:// endpoint)",
            ));
        }
        Ok(stream)
    }

    fn streams(
        &mut self,
        node: &Node<'_>,
        parent: &'static str,
        nesting_code: u32,
        needs_url: bool,
    ) -> Result<Vec<Stream>, TwimlError> {
        self.no_text(node);
        let streams = node
            .children
            .iter()
            .map(|child| match child.name {
                "Stream" => self.stream(child, needs_url),
                other => Err(misplaced(nesting_code, parent, other)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if streams.is_empty() {
            return Err(TwimlError::content(
                nesting_code,
                parent,
                "needs a nested <Stream>",
            ));
        }
        Ok(streams)
    }

    fn start(&mut self, node: &Node<'_>) -> Result<Start, TwimlError> {
        let mut start: Start = self.attributes(node)?;
        start.streams = self.streams(node, "Start", code::START_INVALID_NESTED_NOUN, true)?;
        Ok(start)
    }

    fn stop(&mut self, node: &Node<'_>) -> Result<Stop, TwimlError> {
        let mut stop: Stop = self.attributes(node)?;
        stop.streams = self.streams(node, "Stop", code::SCHEMA_VALIDATION, false)?;
        Ok(stop)
    }

    fn connect(&mut self, node: &Node<'_>) -> Result<Connect, TwimlError> {
        let mut connect: Connect = self.attributes(node)?;
        let streams = self.streams(node, "Connect", code::SCHEMA_VALIDATION, true)?;
        let [stream] = <[Stream; 1]>::try_from(streams).map_err(|_| {
            TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Connect",
                "can connect to only one <Stream>",
            )
        })?;
        connect.stream = stream;
        Ok(connect)
    }

    fn refer(&mut self, node: &Node<'_>) -> Result<Refer, TwimlError> {
        self.no_text(node);
        let mut refer: Refer = self.attributes(node)?;
        match node.children.as_slice() {
            [sip] if sip.name == "Sip" => {
                no_children(sip)?;
                let _: NoAttributes = self.attributes_as(sip, "Sip")?;
                refer.sip = sip_uri(&sip.text)?;
                Ok(refer)
            }
            [other] => Err(misplaced(code::SCHEMA_VALIDATION, "Refer", other.name)),
            _ => Err(TwimlError::content(
                code::SCHEMA_VALIDATION,
                "Refer",
                "needs exactly one nested <Sip>",
            )),
        }
    }
}

fn misplaced(code: u32, parent: &'static str, child: &str) -> TwimlError {
    TwimlError::InvalidNesting {
        code,
        parent,
        child: child.to_owned(),
    }
}

fn no_children(node: &Node<'_>) -> Result<(), TwimlError> {
    match node.children.first() {
        Some(child) => Err(misplaced(code::SCHEMA_VALIDATION, node.name, child.name)),
        None => Ok(()),
    }
}

fn required_text(node: &Node<'_>, code: u32, problem: &str) -> Result<String, TwimlError> {
    if node.text.is_empty() {
        return Err(TwimlError::content(code, node.name, problem));
    }
    Ok(node.text.to_string())
}

/// Phone numbers as Twilio accepts them in TwiML: digits with an optional
/// leading `+` and the usual separators.
fn phone_number(text: &str, element: &'static str) -> Result<String, TwimlError> {
    let mut digits = 0;
    let valid = text.chars().enumerate().all(|(i, c)| match c {
        '0'..='9' => {
            digits += 1;
            true
        }
        '+' => i == 0,
        ' ' | '-' | '(' | ')' | '.' => true,
        _ => false,
    });
    if !valid || digits == 0 {
        return Err(TwimlError::content(
            code::DIAL_INVALID_PHONE_NUMBER,
            element,
            format!("\"{text}\" is not a phone number"),
        ));
    }
    Ok(text.to_owned())
}

fn sip_uri(text: &str) -> Result<String, TwimlError> {
    let rest = strip_prefix_ignore_case(text, "sips:")
        .or_else(|| strip_prefix_ignore_case(text, "sip:"))
        .unwrap_or("");
    if rest.is_empty() {
        return Err(TwimlError::content(
            code::SIP_INVALID_URI,
            "Sip",
            format!("\"{text}\" is not a sip: or sips: URI"),
        ));
    }
    Ok(text.to_owned())
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Elements that take no attributes (`<Response>`, `<Identity>`, the
/// `<Sip>` of `<Refer>`): every attribute is reported as unknown.
#[derive(Default)]
struct NoAttributes;

impl ElementAttributes for NoAttributes {
    const ELEMENT: &'static str = "";
    fn set_attribute(&mut self, _name: &str, _raw: &str) -> Result<bool, TwimlError> {
        Ok(false)
    }
}
