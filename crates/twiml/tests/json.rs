//! The JSON form: written by hand the way the README shows, read with the
//! same rules and codes as XML, and equal to the XML it mirrors.

use serde_json::json;
use twiml::*;

fn from_json(value: serde_json::Value) -> Parsed {
    parse_json(&value.to_string()).unwrap_or_else(|e| panic!("{value} was refused: {e}"))
}

fn from_xml(xml: &str) -> Response {
    parse_xml(xml)
        .unwrap_or_else(|e| panic!("{xml} was refused: {e}"))
        .response
}

#[test]
fn the_readme_example_reads_like_its_xml_twin() {
    let parsed = from_json(json!({"Response": [
        {"Say": {"text": "Hello", "voice": "alice"}},
        {"Gather": {"numDigits": 1, "action": "/next", "input": ["dtmf", "speech"], "children": [
            {"Say": "Press 1 for sales"},
            {"Pause": {"length": 2}}
        ]}},
        {"Dial": {"callerId": "+15550001111", "record": "record-from-answer", "children": [
            {"Number": {"number": "+15550002222", "sendDigits": "ww1"}},
            {"Client": {"identity": "alice"}}
        ]}},
        {"Dial": "+15550003333"},
        "Hangup"
    ]}));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(
        parsed.response,
        from_xml(
            r#"<Response>
                <Say voice="alice">Hello</Say>
                <Gather numDigits="1" action="/next" input="dtmf speech">
                    <Say>Press 1 for sales</Say><Pause length="2"/>
                </Gather>
                <Dial callerId="+15550001111" record="record-from-answer">
                    <Number sendDigits="ww1">+15550002222</Number><Client>alice</Client>
                </Dial>
                <Dial>+15550003333</Dial>
                <Hangup/>
            </Response>"#
        )
    );
}

#[test]
fn every_element_text_key_reads_as_its_text() {
    let parsed = from_json(json!({"Response": [
        {"Play": {"url": "https://example.com/a.mp3"}},
        {"Redirect": {"url": "/next", "method": "GET"}},
        {"Dial": {"children": [{"Sip": {"uri": "sip:a@example.com"}}]}},
        {"Dial": [{"Conference": {"name": "room", "beep": false}}]},
        {"Dial": [{"Queue": {"name": "support"}}]},
        {"Enqueue": {"name": "support", "children": [{"Task": {"priority": 5, "attributes": {"vip": true}}}]}},
        {"Start": [{"Stream": {"url": "wss://example.com", "children": [{"Parameter": {"name": "a", "value": "b"}}]}}]},
        {"Hangup": {}},
        {"Leave": null}
    ]}));
    assert_eq!(
        parsed.response,
        from_xml(
            r#"<Response>
                <Play>https://example.com/a.mp3</Play>
                <Redirect method="GET">/next</Redirect>
                <Dial><Sip>sip:a@example.com</Sip></Dial>
                <Dial><Conference beep="false">room</Conference></Dial>
                <Dial><Queue>support</Queue></Dial>
                <Enqueue>support<Task priority="5">{"vip":true}</Task></Enqueue>
                <Start><Stream url="wss://example.com"><Parameter name="a" value="b"/></Stream></Start>
                <Hangup/>
                <Leave/>
            </Response>"#
        )
    );
}

#[test]
fn json_is_held_to_the_same_codes_as_xml() {
    let code = |value: serde_json::Value| match parse_json(&value.to_string()) {
        Ok(parsed) => panic!("{value} was accepted: {parsed:?}"),
        Err(e) => e.code(),
    };
    assert_eq!(code(json!({"Reply": []})), 12102);
    assert_eq!(code(json!({"Response": [{"Speak": "hi"}]})), 12200);
    assert_eq!(
        code(json!({"Response": [{"Gather": [{"Gather": {}}]}]})),
        13320
    );
    assert_eq!(
        code(json!({"Response": [{"Gather": {"timeout": "soon"}}]})),
        13313
    );
    assert_eq!(
        code(json!({"Response": [{"Gather": {"numDigits": 0}}]})),
        13314
    );
    assert_eq!(code(json!({"Response": [{"Dial": "call mom"}]})), 13223);
    assert_eq!(
        code(json!({"Response": [{"Say": {"loop": -1, "text": "x"}}]})),
        13510
    );
    assert_eq!(
        code(json!({"Response": [{"Say": {"text": "x", "children": [{"Play": "a"}]}}]})),
        12200
    );
    assert_eq!(code(json!([])), 12100);
    assert_eq!(code(json!({"Response": [], "Extra": []})), 12100);
    assert_eq!(
        code(json!({"Response": [{"Say": "a", "Play": "b"}]})),
        12100
    );
    assert_eq!(
        code(json!({"Response": [{"Say": {"voice": {"name": "alice"}}}]})),
        12100
    );
    assert_eq!(parse_json("{").map_err(|e| e.code()), Err(12100));
}

#[test]
fn unknown_json_attributes_warn_like_xml() {
    let parsed =
        from_json(json!({"Response": [{"Dial": {"number": "+15550100", "colour": "red"}}]}));
    assert_eq!(
        parsed.warnings,
        vec![TwimlError::UnknownAttribute {
            element: "Dial",
            attribute: "colour".into()
        }]
    );
}

#[test]
fn the_model_writes_typed_json() {
    let response = from_xml(
        r#"<Response><Gather numDigits="3" actionOnEmptyResult="true" speechTimeout="auto"><Say>Hi</Say></Gather><Hangup/></Response>"#,
    );
    assert_eq!(
        response.to_json_value(),
        json!({"Response": [
            {"Gather": {"numDigits": 3, "actionOnEmptyResult": true, "speechTimeout": "auto",
                        "children": [{"Say": {"text": "Hi"}}]}},
            {"Hangup": {}}
        ]})
    );
}

#[test]
fn serde_reads_and_writes_the_json_form() {
    let response: Response =
        serde_json::from_value(json!({"Response": [{"Say": "Hello"}]})).expect("valid");
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"Response": [{"Say": {"text": "Hello"}}]})
    );
    let refused =
        serde_json::from_value::<Response>(json!({"Response": [{"Gather": {"timeout": "x"}}]}));
    let message = refused.expect_err("invalid timeout").to_string();
    assert!(message.starts_with("13313 "), "{message}");
}

#[test]
fn content_types_choose_the_form() {
    assert_eq!(Format::from_content_type("text/xml"), Some(Format::Xml));
    assert_eq!(
        Format::from_content_type("application/xml; charset=utf-8"),
        Some(Format::Xml)
    );
    assert_eq!(
        Format::from_content_type("Application/JSON"),
        Some(Format::Json)
    );
    assert_eq!(
        Format::from_content_type("application/vnd.twiml+json"),
        Some(Format::Json)
    );
    assert_eq!(Format::from_content_type("image/png"), None);
    assert_eq!(
        parse(r#"{"Response":["Hangup"]}"#, Format::Json).map(|p| p.response.verbs.len()),
        Ok(1)
    );
}

#[test]
fn xml_written_by_the_model_reads_back_unchanged() {
    let xml = r#"<Response><Say voice="alice">Tom &amp; "Jerry" &lt;3</Say><Dial timeout="10"><Client url="/w"><Identity>bob</Identity><Parameter name="k" value="a&amp;b"/></Client></Dial><Refer><Sip>sip:x@y</Sip></Refer></Response>"#;
    let response = from_xml(xml);
    let written = response.to_xml();
    assert!(
        written.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#),
        "{written}"
    );
    assert_eq!(from_xml(&written), response);
}

/// The README's JSON example and the XML it claims to mirror.
#[test]
fn the_readme_json_example_is_the_same_document_as_its_xml() {
    let readme = include_str!("../README.md");
    let block = |fence: &str| {
        let start = readme.find(fence).expect("fenced block") + fence.len();
        let end = start + readme[start..].find("```").expect("closing fence");
        &readme[start..end]
    };
    let from_json = parse_json(block("```json\n")).expect("README JSON is valid");
    assert!(from_json.warnings.is_empty(), "{:?}", from_json.warnings);
    assert_eq!(from_json.response, from_xml(block("```xml\n")));
    assert_eq!(from_json.response.verbs.len(), 9);
}

#[test]
fn a_response_displays_as_its_xml() {
    let response = from_xml("<Response><Hangup/></Response>");
    assert_eq!(
        response.to_string(),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>"#
    );
}
