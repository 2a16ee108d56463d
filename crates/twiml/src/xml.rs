//! The XML form: reading a TwiML document into the element tree with
//! quick-xml, and writing the tree back as XML.
//!
//! Reading fails with 12100 for anything that is not well-formed XML, 12102
//! when the root is not `<Response>`, and 12200 for elements TwiML does not
//! define. SSML inside `<Say>` is flattened into the Say's text here, since
//! the model keeps Say text as plain text.

use std::borrow::Cow;

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::attributes::Attributes;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::error::TwimlError;
use crate::node::{is_ssml, known_element, ssml_separates_words, Node, MAX_DEPTH};
use crate::value::Scalar;

/// Reads an XML document into the `<Response>` node.
pub(crate) fn read(input: &str) -> Result<Node<'_>, TwimlError> {
    let mut reader = Reader::from_str(input);
    reader.config_mut().trim_text(false);

    let mut stack: Vec<Node<'_>> = Vec::new();
    let mut root: Option<Node<'_>> = None;
    // Open SSML elements inside the innermost <Say>, by name.
    let mut ssml: Vec<String> = Vec::new();

    loop {
        let event = reader
            .read_event()
            .map_err(|e| TwimlError::parse(format!("{e} (at byte {})", reader.error_position())))?;
        match event {
            Event::Start(start) => open(input, &start, false, &mut stack, &mut root, &mut ssml)?,
            Event::Empty(start) => open(input, &start, true, &mut stack, &mut root, &mut ssml)?,
            Event::End(_) if !ssml.is_empty() => {
                let name = ssml.pop().unwrap_or_default();
                if ssml_separates_words(&name) {
                    if let Some(say) = stack.last_mut() {
                        say.push_word_break();
                    }
                }
            }
            Event::End(_) => {
                let Some(mut node) = stack.pop() else {
                    return Err(TwimlError::parse("closing tag without an opening tag"));
                };
                node.text = trim(node.text);
                attach(&mut stack, &mut root, node);
            }
            Event::Text(text) => {
                let run = text
                    .xml10_content()
                    .map_err(|e| TwimlError::parse(e.to_string()))?;
                push_text(&mut stack, run)?;
            }
            Event::CData(cdata) => {
                let run = cdata
                    .decode()
                    .map_err(|e| TwimlError::parse(e.to_string()))?;
                push_text(&mut stack, run)?;
            }
            Event::GeneralRef(reference) => {
                let run: Cow<'_, str> = match reference
                    .resolve_char_ref()
                    .map_err(|e| TwimlError::parse(e.to_string()))?
                {
                    Some(c) => Cow::Owned(c.to_string()),
                    None => {
                        let name = reference
                            .decode()
                            .map_err(|e| TwimlError::parse(e.to_string()))?;
                        let resolved = resolve_predefined_entity(&name)
                            .ok_or_else(|| TwimlError::parse(format!("unknown entity &{name};")))?;
                        Cow::Borrowed(resolved)
                    }
                };
                push_text(&mut stack, run)?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(TwimlError::parse(format!(
            "<{}> is never closed",
            open.name
        )));
    }
    root.ok_or_else(|| TwimlError::parse("the document has no root element"))
}

/// Handles an opening (or self-closing, when `is_empty`) tag.
fn open<'a>(
    input: &'a str,
    start: &BytesStart<'_>,
    is_empty: bool,
    stack: &mut Vec<Node<'a>>,
    root: &mut Option<Node<'a>>,
    ssml: &mut Vec<String>,
) -> Result<(), TwimlError> {
    let name = element_name(start)?;
    if let Some(say) = stack.last_mut().filter(|n| n.name == "Say") {
        if !is_ssml(name) {
            return Err(match known_element(name) {
                Some(_) => TwimlError::InvalidNesting {
                    code: crate::error::code::SCHEMA_VALIDATION,
                    parent: "Say",
                    child: name.to_owned(),
                },
                None => TwimlError::unknown_element(name),
            });
        }
        // SSML attributes are not kept, but must still be well-formed.
        for attribute in start.attributes() {
            attribute.map_err(|e| TwimlError::parse(e.to_string()))?;
        }
        if ssml_separates_words(name) {
            say.push_word_break();
        }
        if !is_empty {
            if ssml.len() >= MAX_DEPTH {
                return Err(too_deep());
            }
            ssml.push(name.to_owned());
        }
        return Ok(());
    }
    if root.is_some() {
        return Err(TwimlError::parse("content after the root element"));
    }
    if stack.is_empty() && name != "Response" {
        return Err(TwimlError::RootNotResponse {
            found: name.to_owned(),
        });
    }
    let known = known_element(name).ok_or_else(|| TwimlError::unknown_element(name))?;
    if stack.len() >= MAX_DEPTH {
        return Err(too_deep());
    }
    let mut node = Node::new(known);
    read_attributes(input, start, &mut node)?;
    if is_empty {
        node.text = trim(node.text);
        attach(stack, root, node);
    } else {
        stack.push(node);
    }
    Ok(())
}

fn too_deep() -> TwimlError {
    TwimlError::parse(format!(
        "elements are nested deeper than {MAX_DEPTH} levels"
    ))
}

fn element_name<'b>(start: &'b BytesStart<'_>) -> Result<&'b str, TwimlError> {
    let raw: &[u8] = start.name().into_inner();
    std::str::from_utf8(raw).map_err(|e| TwimlError::parse(e.to_string()))
}

fn read_attributes<'a>(
    input: &'a str,
    start: &BytesStart<'_>,
    node: &mut Node<'a>,
) -> Result<(), TwimlError> {
    // The tag's bytes are a slice of `input` (the reader borrows it), so
    // attributes are re-read from that slice: names and entity-free values
    // then borrow the input instead of being copied.
    let content: &[u8] = start;
    let offset = (content.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
    let tag = input
        .get(offset..offset.wrapping_add(content.len()))
        .filter(|tag| tag.as_ptr() == content.as_ptr());
    let name_len = start.name().as_ref().len();
    match tag {
        Some(tag) => push_attributes(Attributes::new(tag, name_len), node, Cow::Borrowed),
        None => push_attributes(start.attributes(), node, |s| Cow::Owned(s.to_owned())),
    }
}

fn push_attributes<'t, 'a>(
    attributes: Attributes<'t>,
    node: &mut Node<'a>,
    keep: impl Fn(&'t str) -> Cow<'a, str>,
) -> Result<(), TwimlError> {
    for attribute in attributes {
        let attribute = attribute.map_err(|e| TwimlError::parse(e.to_string()))?;
        let key: &'t [u8] = attribute.key.into_inner();
        let key = std::str::from_utf8(key).map_err(|e| TwimlError::parse(e.to_string()))?;
        // Namespace declarations are XML plumbing, not TwiML attributes.
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = match attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| TwimlError::parse(e.to_string()))?
        {
            Cow::Borrowed(value) => keep(value),
            Cow::Owned(value) => Cow::Owned(value),
        };
        node.attributes.push((keep(key), Scalar::Text(value)));
    }
    Ok(())
}

fn attach<'a>(stack: &mut [Node<'a>], root: &mut Option<Node<'a>>, node: Node<'a>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn push_text<'a>(stack: &mut [Node<'a>], run: Cow<'a, str>) -> Result<(), TwimlError> {
    match stack.last_mut() {
        Some(node) => {
            node.push_text(run);
            Ok(())
        }
        None if run.trim().is_empty() => Ok(()),
        None => Err(TwimlError::parse("text outside the root element")),
    }
}

fn trim(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) if s.trim().len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
    }
}

/// Writes the tree as an XML document with the usual declaration.
pub(crate) fn write(root: &Node<'_>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    write_node(root, &mut out);
    out
}

fn write_node(node: &Node<'_>, out: &mut String) {
    out.push('<');
    out.push_str(node.name);
    for (key, value) in &node.attributes {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        match value {
            Scalar::Text(text) => out.push_str(&escape(text.as_ref())),
            other => out.push_str(&other.to_string()),
        }
        out.push('"');
    }
    if node.text.is_empty() && node.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    out.push_str(&escape(node.text.as_ref()));
    for child in &node.children {
        write_node(child, out);
    }
    out.push_str("</");
    out.push_str(node.name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_and_plain_values_borrow_the_document() {
        let node = read(r#"<Response a="x" b="1 &amp; 2"/>"#).expect("well-formed");
        assert!(matches!(
            &node.attributes[0],
            (Cow::Borrowed("a"), Scalar::Text(Cow::Borrowed("x")))
        ));
        assert!(matches!(
            &node.attributes[1],
            (Cow::Borrowed("b"), Scalar::Text(Cow::Owned(v))) if v == "1 & 2"
        ));
    }

    #[test]
    fn written_xml_escapes_text_and_attributes() {
        let mut say = Node::with_text("Say", "a < b & \"c\"");
        say.attributes
            .push((Cow::Borrowed("voice"), Scalar::Text(Cow::Borrowed("x\"y"))));
        let mut root = Node::new("Response");
        root.children.push(say);
        assert_eq!(
            write(&root),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="x&quot;y">a &lt; b &amp; &quot;c&quot;</Say></Response>"#
        );
    }
}
