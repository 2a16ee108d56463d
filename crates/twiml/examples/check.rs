//! Shows how Switchboard reads a TwiML document (XML, or JSON when it starts
//! with `{`) given on stdin: the model, warnings, the features it uses, and
//! the document written back as XML and JSON.
//!
//! `cargo run -p twiml --example check < answer.xml`
use std::io::Read;
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("stdin");
    let parsed = if input.trim_start().starts_with('{') {
        twiml::parse_json(&input)
    } else {
        twiml::parse_xml(&input)
    };
    match parsed {
        Ok(parsed) => {
            println!("{:#?}", parsed);
            println!("{}", parsed.response.to_xml());
            println!("{}", parsed.response.to_json());
            for f in parsed.response.features() {
                println!("feature: {f}");
            }
        }
        Err(e) => println!("refused: {e}"),
    }
}
