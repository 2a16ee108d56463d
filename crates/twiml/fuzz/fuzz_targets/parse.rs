//! Fuzzes both TwiML readers. Besides never panicking, whatever a reader
//! accepts must survive an XML and a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [twiml::parse_xml(input), twiml::parse_json(input)]
        .into_iter()
        .flatten()
    {
        let response = parsed.response;
        let xml = response.to_xml();
        match twiml::parse_xml(&xml) {
            Ok(again) => assert_eq!(again.response, response, "XML round trip of {input:?}"),
            Err(e) => panic!("{e}: the writer produced unreadable XML {xml:?} from {input:?}"),
        }
        let json = response.to_json();
        match twiml::parse_json(&json) {
            Ok(again) => assert_eq!(again.response, response, "JSON round trip of {input:?}"),
            Err(e) => panic!("{e}: the writer produced unreadable JSON {json:?} from {input:?}"),
        }
    }
});
