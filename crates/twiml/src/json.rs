//! The JSON form of TwiML, for webhooks answering with
//! `Content-Type: application/json`. See the crate README for the shape.
//!
//! A document is `{"Response": [verb, …]}`. A verb or noun is an object
//! with one key, its TwiML name, whose value is either
//! - an object of attributes (TwiML names; strings, numbers or booleans,
//!   event lists as strings or arrays), plus the element's text under its
//!   text key (`text` for Say, `url` for Play and Redirect, `number` for Dial
//!   and Number, `uri` for Sip, `identity` for Client, `name` for
//!   Conference, Queue and Enqueue) and nested elements under `children`;
//! - a string: the text alone (`{"Say": "Hello"}`);
//! - an array: the children alone (`{"Gather": [{"Say": "Press 1"}]}`);
//! - `{}` or `null`: no attributes (`{"Hangup": {}}`).
//!
//! A bare string names an element with nothing in it (`"Hangup"`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::error::TwimlError;
use crate::node::{json_text_key, known_element, Node, MAX_DEPTH};
use crate::value::Scalar;

/// The key holding nested elements.
const CHILDREN: &str = "children";

/// Reads a JSON document into the `<Response>` node.
pub(crate) fn read(input: &str) -> Result<Node<'static>, TwimlError> {
    let value: Value =
        serde_json::from_str(input).map_err(|e| TwimlError::parse(format!("JSON: {e}")))?;
    read_value(&value)
}

pub(crate) fn read_value(value: &Value) -> Result<Node<'static>, TwimlError> {
    let Value::Object(map) = value else {
        return Err(TwimlError::parse(
            "JSON: the document must be an object {\"Response\": [...]}",
        ));
    };
    let mut entries = map.iter();
    let (Some((name, body)), None) = (entries.next(), entries.next()) else {
        return Err(TwimlError::parse(
            "JSON: the document must have exactly one key, \"Response\"",
        ));
    };
    if name != "Response" {
        return Err(TwimlError::RootNotResponse {
            found: name.clone(),
        });
    }
    element("Response", body, 1)
}

fn element(name: &'static str, body: &Value, depth: usize) -> Result<Node<'static>, TwimlError> {
    if depth > MAX_DEPTH {
        return Err(TwimlError::parse(format!(
            "JSON: elements are nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut node = Node::new(name);
    match body {
        Value::Null => {}
        Value::Array(children) => node.children = self::children(children, depth)?,
        Value::Object(map) => {
            let text_key = json_text_key(name);
            for (key, value) in map {
                if value.is_null() {
                    continue;
                }
                if key == CHILDREN {
                    let Value::Array(children) = value else {
                        return Err(TwimlError::parse(format!(
                            "JSON: \"children\" of {name} must be an array"
                        )));
                    };
                    node.children = self::children(children, depth)?;
                } else if key == text_key {
                    node.text = Cow::Owned(scalar_text(name, key, value)?.trim().to_owned());
                } else {
                    let text = scalar_text(name, key, value)?;
                    node.attributes
                        .push((Cow::Owned(key.clone()), Scalar::Text(Cow::Owned(text))));
                }
            }
        }
        scalar => {
            node.text = Cow::Owned(
                scalar_text(name, json_text_key(name), scalar)?
                    .trim()
                    .to_owned(),
            )
        }
    }
    Ok(node)
}

fn children(values: &[Value], depth: usize) -> Result<Vec<Node<'static>>, TwimlError> {
    values
        .iter()
        .map(|value| {
            let (name, body) = match value {
                Value::String(name) => (name.as_str(), &Value::Null),
                Value::Object(map) if map.len() == 1 => {
                    let (name, body) = map.iter().next().expect("length checked");
                    (name.as_str(), body)
                }
                other => {
                    return Err(TwimlError::parse(format!(
                        "JSON: a verb must be an object with one key, its name; found {other}"
                    )))
                }
            };
            let known = known_element(name).ok_or_else(|| TwimlError::unknown_element(name))?;
            element(known, body, depth + 1)
        })
        .collect()
}

/// An attribute or text value as text: numbers and booleans as written in
/// XML, arrays (event lists) joined with spaces, and an object (a Task's
/// attributes) as compact JSON.
fn scalar_text(element: &str, key: &str, value: &Value) -> Result<String, TwimlError> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let words = items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.as_str()),
                    _ => Err(TwimlError::parse(format!(
                        "JSON: {element} {key} must be a list of strings"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            words.join(" ")
        }
        Value::Object(_) if element == "Task" => value.to_string(),
        Value::Object(_) | Value::Null => {
            return Err(TwimlError::parse(format!(
                "JSON: {element} {key} must be a string, number or boolean"
            )))
        }
    })
}

/// Writes the tree in the JSON form, always in the full object shape.
pub(crate) fn write(root: &Node<'_>) -> Value {
    let verbs = root.children.iter().map(write_element).collect();
    let mut document = Map::new();
    document.insert("Response".to_owned(), Value::Array(verbs));
    Value::Object(document)
}

fn write_element(node: &Node<'_>) -> Value {
    let mut body = Map::new();
    for (key, value) in &node.attributes {
        let value = match value {
            Scalar::Text(text) => Value::String(text.to_string()),
            Scalar::Int(n) => Value::from(*n),
            Scalar::Bool(b) => Value::Bool(*b),
        };
        body.insert(key.to_string(), value);
    }
    if !node.text.is_empty() {
        body.insert(
            json_text_key(node.name).to_owned(),
            Value::String(node.text.to_string()),
        );
    }
    if !node.children.is_empty() {
        body.insert(
            CHILDREN.to_owned(),
            Value::Array(node.children.iter().map(write_element).collect()),
        );
    }
    let mut element = Map::new();
    element.insert(node.name.to_owned(), Value::Object(body));
    Value::Object(element)
}
