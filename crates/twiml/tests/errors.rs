//! Documents Twilio refuses, with the error code it records, and problems it
//! only warns about.

use twiml::{parse_xml, TwimlError};

fn refused(xml: &str) -> TwimlError {
    match parse_xml(xml) {
        Ok(parsed) => panic!("{xml} was accepted: {parsed:?}"),
        Err(e) => e,
    }
}

/// The code and message for `<Response>{body}</Response>`.
fn refused_in_response(body: &str) -> (u32, String) {
    let e = refused(&format!("<Response>{body}</Response>"));
    (e.code(), e.to_string())
}

fn warnings(xml: &str) -> Vec<(u32, String)> {
    let parsed = parse_xml(xml).unwrap_or_else(|e| panic!("{xml} was refused: {e}"));
    parsed
        .warnings
        .iter()
        .map(|w| (w.code(), w.to_string()))
        .collect()
}

#[test]
fn malformed_xml_is_a_document_parse_failure() {
    for xml in [
        "",
        "   ",
        "Hello",
        "<Response>",
        "<Response><Say>Hi</Response>",
        "<Response><Say>Hi</say></Response>",
        "<Response><Say voice=alice>Hi</Say></Response>",
        r#"<Response><Say voice="a" voice="b">Hi</Say></Response>"#,
        "<Response><Say>Tom & Jerry</Say></Response>",
        "<Response><Say>&nbsp;</Say></Response>",
        "<Response/><Response/>",
        "<Response/>trailing",
        "</Response>",
        "{\"Response\": []}",
    ] {
        let e = refused(xml);
        assert_eq!(e.code(), 12100, "{xml:?}: {e}");
        assert!(
            e.to_string().starts_with("12100 Document parse failure"),
            "{e}"
        );
    }
}

#[test]
fn a_root_other_than_response_is_refused_with_12102() {
    let e = refused("<Resp><Say>Hi</Say></Resp>");
    assert_eq!(e.code(), 12102);
    assert_eq!(
        e.to_string(),
        "12102 The root element must be Response, found <Resp>"
    );
    assert_eq!(
        refused("<response/>").code(),
        12102,
        "TwiML is case-sensitive"
    );
}

#[test]
fn an_unknown_verb_is_a_schema_validation_error_naming_it() {
    let (code, message) = refused_in_response("<Speak>Hi</Speak>");
    assert_eq!(code, 12200);
    assert!(message.contains("<Speak>"), "{message}");
    assert_eq!(refused_in_response("<say>Hi</say>").0, 12200);
}

#[test]
fn a_noun_outside_its_verb_is_misplaced() {
    let (code, message) = refused_in_response("<Number>+15550100</Number>");
    assert_eq!(code, 12200);
    assert_eq!(message, "12200 <Response> cannot contain <Number>");
}

#[test]
fn gather_accepts_only_say_play_and_pause() {
    assert_eq!(
        refused_in_response("<Gather><Gather/></Gather>"),
        (13320, "13320 <Gather> cannot contain <Gather>".to_owned())
    );
    assert_eq!(
        refused_in_response("<Gather><Dial>+15550100</Dial></Gather>").0,
        13320
    );
    assert_eq!(refused_in_response("<Gather><Record/></Gather>").0, 13320);
}

#[test]
fn dial_accepts_only_its_nouns() {
    assert_eq!(
        refused_in_response("<Dial><Say>Hi</Say></Dial>"),
        (13215, "13215 <Dial> cannot contain <Say>".to_owned())
    );
    assert_eq!(
        refused_in_response("<Dial><Dial>+15550100</Dial></Dial>").0,
        13215
    );
}

#[test]
fn a_conference_cannot_be_mixed_with_numbers() {
    let (code, message) =
        refused_in_response("<Dial><Conference>room</Conference><Number>+15550100</Number></Dial>");
    assert_eq!(code, 13000);
    assert!(message.contains("<Conference>"), "{message}");
}

#[test]
fn dial_needs_something_to_dial() {
    assert_eq!(refused_in_response("<Dial/>").0, 12200);
    assert_eq!(
        refused_in_response("<Dial>+15550100<Number>+15550101</Number></Dial>").0,
        13215
    );
}

#[test]
fn an_invalid_phone_number_is_13223() {
    let (code, message) = refused_in_response("<Dial>call mom</Dial>");
    assert_eq!(code, 13223);
    assert_eq!(message, "13223 <Dial>: \"call mom\" is not a phone number");
    assert_eq!(
        refused_in_response("<Dial><Number>1+2</Number></Dial>").0,
        13223
    );
    assert_eq!(refused_in_response("<Dial><Number/></Dial>").0, 13223);
}

#[test]
fn sip_needs_a_sip_uri() {
    assert_eq!(
        refused_in_response("<Dial><Sip>jack@example.com</Sip></Dial>").0,
        13243
    );
    assert_eq!(refused_in_response("<Dial><Sip>sip:</Sip></Dial>").0, 13243);
}

#[test]
fn names_are_required_for_conference_and_queues() {
    assert_eq!(refused_in_response("<Dial><Conference/></Dial>").0, 13237);
    assert_eq!(refused_in_response("<Dial><Queue/></Dial>").0, 14212);
    let long = "q".repeat(65);
    assert_eq!(
        refused_in_response(&format!("<Dial><Queue>{long}</Queue></Dial>")).0,
        14213
    );
    assert_eq!(refused_in_response("<Enqueue/>").0, 14204);
    assert_eq!(
        refused_in_response(&format!("<Enqueue>{long}</Enqueue>")).0,
        14205
    );
}

#[test]
fn invalid_attribute_values_carry_the_verb_specific_code_and_name_the_value() {
    let cases = [
        (r#"<Say loop="twice">Hi</Say>"#, 13510),
        (r#"<Play loop="-1">a.mp3</Play>"#, 13410),
        (r#"<Play digits="12x">a.mp3</Play>"#, 13430),
        (r#"<Pause length="1.5"/>"#, 13910),
        (r#"<Gather finishOnKey="a"/>"#, 13310),
        (r#"<Gather method="PUT"/>"#, 13312),
        (r#"<Gather timeout="soon"/>"#, 13313),
        (r#"<Gather numDigits="0"/>"#, 13314),
        (r#"<Gather input="voice"/>"#, 13326),
        (r#"<Gather speechTimeout="later"/>"#, 13327),
        (r#"<Gather maxSpeechTime="x"/>"#, 13328),
        (r#"<Gather partialResultCallbackMethod="PUT"/>"#, 13329),
        (r#"<Gather bargeIn="yes"/>"#, 13332),
        (r#"<Gather profanityFilter="no"/>"#, 13333),
        (r#"<Gather actionOnEmptyResult="1"/>"#, 13338),
        (r#"<Record method="PUT"/>"#, 13610),
        (r#"<Record timeout="-5"/>"#, 13611),
        (r#"<Record maxLength="long"/>"#, 13612),
        (r#"<Record finishOnKey="x"/>"#, 13613),
        (r#"<Record transcribe="maybe"/>"#, 13614),
        (r#"<Record playBeep="loud"/>"#, 13616),
        (r#"<Record recordingStatusCallbackEvent="done"/>"#, 13621),
        (r#"<Record trim="some"/>"#, 13699),
        (r#"<Redirect method="PUT">/x</Redirect>"#, 13710),
        (r#"<Reject reason="no"/>"#, 13810),
        (r#"<Dial method="PUT">+15550100</Dial>"#, 13210),
        (r#"<Dial timeout="x">+15550100</Dial>"#, 13212),
        (r#"<Dial hangupOnStar="x">+15550100</Dial>"#, 13213),
        (r#"<Dial timeLimit="x">+15550100</Dial>"#, 13216),
        (r#"<Dial record="always">+15550100</Dial>"#, 13217),
        (r#"<Dial sequential="x">+15550100</Dial>"#, 13218),
        (r#"<Dial answerOnBridge="x">+15550100</Dial>"#, 13219),
        (r#"<Dial ringTone="mars">+15550100</Dial>"#, 13220),
        (
            r#"<Dial><Number method="PUT">+15550100</Number></Dial>"#,
            13221,
        ),
        (
            r#"<Dial><Number sendDigits="abc">+15550100</Number></Dial>"#,
            13222,
        ),
        (
            r#"<Dial><Conference muted="x">r</Conference></Dial>"#,
            13230,
        ),
        (
            r#"<Dial><Conference endConferenceOnExit="x">r</Conference></Dial>"#,
            13231,
        ),
        (
            r#"<Dial><Conference startConferenceOnEnter="x">r</Conference></Dial>"#,
            13232,
        ),
        (
            r#"<Dial><Conference waitMethod="PUT">r</Conference></Dial>"#,
            13234,
        ),
        (
            r#"<Dial><Conference beep="sometimes">r</Conference></Dial>"#,
            13235,
        ),
        (r#"<Dial><Conference trim="x">r</Conference></Dial>"#, 13239),
        (r#"<Dial><Sip method="PUT">sip:a@b</Sip></Dial>"#, 13241),
        (r#"<Enqueue method="PUT">q</Enqueue>"#, 14201),
        (r#"<Enqueue waitUrlMethod="PUT">q</Enqueue>"#, 14206),
        (
            r#"<Dial><Conference maxParticipants="many">r</Conference></Dial>"#,
            12200,
        ),
    ];
    for (body, expected) in cases {
        let (code, message) = refused_in_response(body);
        assert_eq!(code, expected, "{body}: {message}");
    }
}

#[test]
fn an_invalid_attribute_message_names_verb_attribute_and_value() {
    let e = refused(r#"<Response><Gather timeout="soon"/></Response>"#);
    assert_eq!(
        e,
        TwimlError::InvalidAttribute {
            code: 13313,
            element: "Gather",
            attribute: "timeout",
            value: "soon".into(),
            expected: "a whole number of 0 or more",
        }
    );
    assert_eq!(
        e.to_string(),
        r#"13313 <Gather> attribute timeout="soon" is invalid: expected a whole number of 0 or more"#
    );
    assert_eq!(e.more_info(), "https://www.twilio.com/docs/errors/13313");
}

#[test]
fn say_inside_gather_uses_the_gather_say_codes() {
    assert_eq!(
        refused_in_response(r#"<Gather><Say loop="x">Hi</Say></Gather>"#).0,
        13322
    );
}

#[test]
fn start_accepts_only_streams() {
    assert_eq!(refused_in_response("<Start><Say>x</Say></Start>").0, 14300);
    assert_eq!(refused_in_response("<Start/>").0, 14300);
    assert_eq!(
        refused_in_response("<Start><Stream/></Start>").0,
        12200,
        "needs url"
    );
}

#[test]
fn say_cannot_contain_verbs_or_unknown_markup() {
    assert_eq!(
        refused_in_response("<Say>Hi <Play>a.mp3</Play></Say>"),
        (12200, "12200 <Say> cannot contain <Play>".to_owned())
    );
    assert_eq!(
        refused_in_response("<Say>Hi <blink>there</blink></Say>").0,
        12200
    );
}

#[test]
fn leaf_verbs_cannot_have_children() {
    assert_eq!(refused_in_response("<Pause><Say>x</Say></Pause>").0, 12200);
    assert_eq!(
        refused_in_response("<Hangup><Say>x</Say></Hangup>").0,
        12200
    );
}

#[test]
fn required_content_is_checked() {
    assert_eq!(refused_in_response("<Redirect/>").0, 12200);
    assert_eq!(refused_in_response("<Play/>").0, 12200);
    assert_eq!(refused_in_response("<Dial><Client/></Dial>").0, 12200);
    assert_eq!(
        refused_in_response(r#"<Dial><Client>a<Parameter value="x"/></Client></Dial>"#).0,
        12200,
        "a Parameter needs a name"
    );
    assert_eq!(refused_in_response("<Refer/>").0, 12200);
    assert_eq!(
        refused_in_response(r#"<Connect><Stream url="wss://a"/><Stream url="wss://b"/></Connect>"#)
            .0,
        12200
    );
}

#[test]
fn unknown_attributes_are_ignored_with_a_12200_warning() {
    assert_eq!(
        warnings(r#"<Response><Dial statusCallbackEvent="answered">+15550100</Dial></Response>"#),
        vec![(
            12200,
            "12200 Schema validation warning: attribute statusCallbackEvent is not allowed on <Dial>"
                .to_owned()
        )]
    );
    assert_eq!(warnings(r#"<Response foo="bar"/>"#).len(), 1);
}

#[test]
fn an_empty_say_is_skipped_with_a_13520_warning() {
    assert_eq!(warnings("<Response><Say/></Response>")[0].0, 13520);
}

#[test]
fn stray_text_is_ignored_with_a_warning() {
    assert_eq!(
        warnings("<Response><Gather>Press 1</Gather></Response>"),
        vec![(
            12200,
            "12200 <Gather>: text \"Press 1\" is not allowed here and is ignored".to_owned()
        )]
    );
}

#[test]
fn deeply_nested_documents_are_refused_without_exhausting_the_stack() {
    let deep = format!(
        "<Response><Say>{}x{}</Say></Response>",
        "<prosody>".repeat(10_000),
        "</prosody>".repeat(10_000)
    );
    assert_eq!(refused(&deep).code(), 12100);
    let deep = format!("<Response>{}", "<Dial>".repeat(100_000));
    assert!(parse_xml(&deep).is_err());
}

#[test]
fn twilio_verbs_switchboard_does_not_model_are_named_as_unsupported() {
    let e = refused("<Response><Pay/></Response>");
    assert_eq!(e.code(), 12200);
    assert_eq!(
        e.to_string(),
        "12200 Schema validation warning: <Pay> is a TwiML element Switchboard does not support"
    );
    assert_eq!(
        refused("<Response><Connect><Room>r</Room></Connect></Response>"),
        TwimlError::UnsupportedElement {
            element: "Room".into()
        }
    );
    assert!(matches!(
        refused("<Response><Speak/></Response>"),
        TwimlError::UnknownElement { .. }
    ));
}

#[test]
fn say_text_beyond_4096_characters_is_accepted_with_a_13521_warning() {
    let long = "é".repeat(4097);
    assert_eq!(
        warnings(&format!("<Response><Say>{long}</Say></Response>")),
        vec![(
            13521,
            "13521 <Say>: the text has 4097 characters, more than the 4096 Twilio speaks"
                .to_owned()
        )]
    );
    let limit = "a".repeat(4096);
    assert_eq!(
        warnings(&format!("<Response><Say>{limit}</Say></Response>")),
        vec![]
    );
}
