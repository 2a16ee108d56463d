//! How long reading a typical webhook answer takes: a ~1 KB IVR document in
//! XML and in JSON, and writing it back.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A realistic IVR menu: greeting, a Gather with prompts, a fallback Dial.
const IVR_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response>
    <Say voice="Polly.Joanna" language="en-US">Thank you for calling Switchboard Support. Calls may be recorded for quality purposes.</Say>
    <Gather input="dtmf speech" numDigits="1" timeout="6" action="https://app.example.com/ivr/menu" method="POST" actionOnEmptyResult="true" hints="sales, support, billing">
        <Say voice="Polly.Joanna">For sales, press 1 or say sales. For technical support, press 2 or say support.</Say>
        <Pause length="1"/>
        <Say voice="Polly.Joanna">For billing questions, press 3. To repeat this menu, press star.</Say>
    </Gather>
    <Say>We did not receive any input. Connecting you to the next available agent.</Say>
    <Dial callerId="+14155550100" timeout="20" record="record-from-answer" action="https://app.example.com/ivr/after-dial" recordingStatusCallback="https://app.example.com/ivr/recording">
        <Number sendDigits="wwww1234" statusCallbackEvent="initiated ringing answered completed" statusCallback="https://app.example.com/ivr/status">+14155550123</Number>
        <Client><Identity>agent_42</Identity><Parameter name="queue" value="support"/></Client>
    </Dial>
    <Hangup/>
</Response>"#;

fn parse(c: &mut Criterion) {
    let json = twiml::parse_xml(IVR_XML)
        .expect("the benchmark document is valid")
        .response
        .to_json();
    let response = twiml::parse_xml(IVR_XML).expect("valid").response;

    let mut group = c.benchmark_group("ivr_document");
    group.throughput(Throughput::Bytes(IVR_XML.len() as u64));
    group.bench_function("parse_xml", |b| {
        b.iter(|| twiml::parse_xml(black_box(IVR_XML)))
    });
    group.bench_function("parse_json", |b| {
        b.iter(|| twiml::parse_json(black_box(&json)))
    });
    group.bench_function("to_xml", |b| b.iter(|| black_box(&response).to_xml()));
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
