//! A router that executes only part of TwiML refuses, by name, the verbs
//! and attributes it does not support yet.

use twiml::{attribute_names, parse_xml, Dial, Feature};

#[test]
fn a_document_lists_its_elements_and_the_attributes_it_sets() {
    let response = parse_xml(
        r#"<Response>
             <Say voice="alice">Hi</Say>
             <Dial timeout="10" ringTone="uk"><Number sendDigits="1">+15550100</Number></Dial>
           </Response>"#,
    )
    .expect("valid")
    .response;
    assert_eq!(
        response.features(),
        vec![
            Feature::element("Dial"),
            Feature::attribute("Dial", "ringTone"),
            Feature::attribute("Dial", "timeout"),
            Feature::element("Number"),
            Feature::attribute("Number", "sendDigits"),
            Feature::element("Response"),
            Feature::element("Say"),
            Feature::attribute("Say", "voice"),
        ]
    );
}

#[test]
fn the_router_refuses_a_dial_ring_tone_it_cannot_play() {
    let response = parse_xml(r#"<Response><Dial ringTone="uk">+15550100</Dial></Response>"#)
        .expect("valid")
        .response;
    let supported = |f: &Feature| f.attribute != Some("ringTone");
    let refused = response
        .first_unsupported(supported)
        .expect("ringTone is used");
    assert_eq!(
        format!("{refused} is not supported"),
        "Dial attribute ringTone is not supported"
    );
}

#[test]
fn a_document_using_only_supported_features_passes() {
    let response = parse_xml("<Response><Say>Hi</Say><Hangup/></Response>")
        .expect("valid")
        .response;
    let supported = ["Response", "Say", "Hangup"];
    assert_eq!(
        response.first_unsupported(|f| f.attribute.is_none() && supported.contains(&f.element)),
        None
    );
}

#[test]
fn defaults_are_not_features_only_what_the_document_sets() {
    let response = parse_xml("<Response><Gather/></Response>")
        .expect("valid")
        .response;
    assert_eq!(
        response.features(),
        vec![Feature::element("Gather"), Feature::element("Response")]
    );
}

#[test]
fn attribute_names_list_what_twilio_defines() {
    assert_eq!(attribute_names("Dial"), Dial::ATTRIBUTES);
    assert!(attribute_names("Dial").contains(&"ringTone"));
    assert!(attribute_names("Speak").is_empty());
}
