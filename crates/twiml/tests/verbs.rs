//! Each verb and noun read from XML: Twilio's defaults when an attribute is
//! absent, and every attribute read with its type when present.

use std::num::NonZeroU32;

use twiml::*;

fn parse(xml: &str) -> Parsed {
    match parse_xml(xml) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{xml} was refused: {e}"),
    }
}

/// The single verb of `<Response>{body}</Response>`, with no warnings.
fn verb(body: &str) -> Verb {
    let parsed = parse(&format!("<Response>{body}</Response>"));
    assert_eq!(parsed.warnings, vec![], "unexpected warnings for {body}");
    assert_eq!(parsed.response.verbs.len(), 1, "{body}");
    parsed.response.verbs.into_iter().next().unwrap()
}

fn dial_target(body: &str) -> DialTarget {
    let Verb::Dial(dial) = verb(&format!("<Dial>{body}</Dial>")) else {
        panic!("not a Dial")
    };
    assert_eq!(dial.targets.len(), 1);
    dial.targets.into_iter().next().unwrap()
}

#[test]
fn an_empty_response_has_no_verbs() {
    assert_eq!(parse("<Response/>").response, Response::default());
    assert_eq!(
        parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n</Response>\n").response,
        Response::default()
    );
}

#[test]
fn say_defaults_to_man_in_us_english_once() {
    let Verb::Say(say) = verb("<Say>Hello!</Say>") else {
        panic!()
    };
    assert_eq!(say.text, "Hello!");
    assert_eq!(say.voice(), "man");
    assert_eq!(say.language(), "en-US");
    assert_eq!(say.loop_count(), 1);
    assert!(say.present_attributes().is_empty());
}

#[test]
fn say_reads_voice_language_and_loop() {
    let Verb::Say(say) =
        verb(r#"<Say voice="Polly.Amy" language="en-GB" loop="0">Hold the line</Say>"#)
    else {
        panic!()
    };
    assert_eq!(say.voice(), "Polly.Amy");
    assert_eq!(say.language(), "en-GB");
    assert_eq!(say.loop_count(), 0, "0 means repeat until the call ends");
    assert_eq!(say.present_attributes(), ["voice", "language", "loop"]);
}

#[test]
fn say_flattens_ssml_into_its_text_and_unescapes_entities() {
    let Verb::Say(say) = verb(
        r#"<Say voice="Polly.Joanna">Tom &amp; Jerry <prosody rate="slow">say</prosody> hi.<break time="1s"/>Your code is <say-as interpret-as="digits">123</say-as>&#33;<s>One</s><s>Two</s></Say>"#,
    ) else {
        panic!()
    };
    assert_eq!(say.text, "Tom & Jerry say hi. Your code is 123! One Two");
}

#[test]
fn say_keeps_cdata_and_trims_surrounding_whitespace() {
    let Verb::Say(say) = verb("<Say>\n   <![CDATA[a < b]]>  \n</Say>") else {
        panic!()
    };
    assert_eq!(say.text, "a < b");
}

#[test]
fn play_defaults_to_once_and_reads_digits() {
    let Verb::Play(play) = verb("<Play>https://api.example.com/cowbell.mp3</Play>") else {
        panic!()
    };
    assert_eq!(play.url, "https://api.example.com/cowbell.mp3");
    assert_eq!(play.loop_count(), 1);
    assert_eq!(play.digits(), None);

    let Verb::Play(play) = verb(r#"<Play digits="wwww3" loop="3"/>"#) else {
        panic!()
    };
    assert_eq!(play.url, "");
    assert_eq!(play.digits(), Some(&DtmfSequence("wwww3".into())));
    assert_eq!(play.loop_count(), 3);
}

#[test]
fn pause_defaults_to_one_second() {
    let Verb::Pause(pause) = verb("<Pause/>") else {
        panic!()
    };
    assert_eq!(pause.length(), 1);
    let Verb::Pause(pause) = verb(r#"<Pause length="10"/>"#) else {
        panic!()
    };
    assert_eq!(pause.length(), 10);
}

#[test]
fn gather_defaults_match_twilio() {
    let Verb::Gather(gather) = verb("<Gather/>") else {
        panic!()
    };
    assert_eq!(
        gather.action(),
        None,
        "absent action means the current document"
    );
    assert!(!gather.action_on_empty_result());
    assert!(gather.barge_in());
    assert!(!gather.debug());
    assert!(!gather.enhanced());
    assert_eq!(gather.finish_on_key(), FinishOnKey("#".into()));
    assert_eq!(gather.hints(), None);
    assert_eq!(gather.input(), vec![GatherInput::Dtmf]);
    assert_eq!(gather.language(), "en-US");
    assert_eq!(gather.max_speech_time(), 60);
    assert_eq!(gather.method(), Method::Post);
    assert_eq!(gather.num_digits(), None, "unlimited");
    assert_eq!(gather.partial_result_callback(), None);
    assert_eq!(gather.partial_result_callback_method(), Method::Post);
    assert!(gather.profanity_filter());
    assert_eq!(gather.speech_model(), None);
    assert_eq!(gather.speech_timeout(), None);
    assert_eq!(gather.timeout(), 5);
    assert_eq!(gather.effective_speech_timeout(), SpeechTimeout::Seconds(5));
    assert!(gather.prompts.is_empty());
}

#[test]
fn gather_reads_every_attribute_and_nested_prompts() {
    let Verb::Gather(gather) = verb(
        r#"<Gather action="/menu" actionOnEmptyResult="true" bargeIn="false" debug="true"
                   enhanced="true" finishOnKey="*" hints="sales, support" input="dtmf speech"
                   language="fr-FR" maxSpeechTime="30" method="GET" numDigits="4"
                   partialResultCallback="/partial" partialResultCallbackMethod="GET"
                   profanityFilter="false" speechModel="phone_call" speechTimeout="auto" timeout="10">
             <Say>Enter your PIN</Say><Play>/beep.wav</Play><Pause length="2"/>
           </Gather>"#,
    ) else {
        panic!()
    };
    assert_eq!(gather.action(), Some(&"/menu".to_owned()));
    assert!(gather.action_on_empty_result());
    assert!(!gather.barge_in());
    assert!(gather.debug());
    assert!(gather.enhanced());
    assert!(gather.finish_on_key().contains('*'));
    assert_eq!(gather.hints().map(String::as_str), Some("sales, support"));
    assert_eq!(gather.input(), vec![GatherInput::Dtmf, GatherInput::Speech]);
    assert_eq!(gather.language(), "fr-FR");
    assert_eq!(gather.max_speech_time(), 30);
    assert_eq!(gather.method(), Method::Get);
    assert_eq!(gather.num_digits(), NonZeroU32::new(4).as_ref());
    assert_eq!(
        gather.partial_result_callback().map(String::as_str),
        Some("/partial")
    );
    assert_eq!(gather.partial_result_callback_method(), Method::Get);
    assert!(!gather.profanity_filter());
    assert_eq!(
        gather.speech_model().map(String::as_str),
        Some("phone_call")
    );
    assert_eq!(gather.speech_timeout(), Some(&SpeechTimeout::Auto));
    assert_eq!(gather.timeout(), 10);
    assert_eq!(gather.present_attributes().len(), Gather::ATTRIBUTES.len());
    assert!(matches!(
        gather.prompts.as_slice(),
        [GatherPrompt::Say(say), GatherPrompt::Play(play), GatherPrompt::Pause(pause)]
            if say.text == "Enter your PIN" && play.url == "/beep.wav" && pause.length() == 2
    ));
}

#[test]
fn gather_finish_on_key_may_be_empty_to_disable_it() {
    let Verb::Gather(gather) = verb(r#"<Gather finishOnKey=""/>"#) else {
        panic!()
    };
    assert_eq!(gather.finish_on_key(), FinishOnKey(String::new()));
}

#[test]
fn record_defaults_match_twilio() {
    let Verb::Record(record) = verb("<Record/>") else {
        panic!()
    };
    assert_eq!(record.action(), None);
    assert_eq!(record.method(), Method::Post);
    assert_eq!(record.timeout(), 5);
    assert_eq!(record.finish_on_key(), FinishOnKey("1234567890*#".into()));
    assert_eq!(record.max_length(), 3600);
    assert!(record.play_beep());
    assert_eq!(record.trim(), Trim::TrimSilence);
    assert_eq!(record.recording_status_callback(), None);
    assert_eq!(record.recording_status_callback_method(), Method::Post);
    assert_eq!(
        record.recording_status_callback_event(),
        vec![RecordingEvent::Completed]
    );
    assert_eq!(record.storage_url(), None);
    assert_eq!(record.storage_url_method(), Method::Post);
    assert!(!record.transcribe());
    assert_eq!(record.transcribe_callback(), None);
}

#[test]
fn record_reads_every_attribute() {
    let Verb::Record(record) = verb(
        r##"<Record action="/done" method="GET" timeout="0" finishOnKey="#" maxLength="20"
                   playBeep="false" trim="do-not-trim" recordingStatusCallback="/rec"
                   recordingStatusCallbackMethod="GET" recordingStatusCallbackEvent="in-progress completed absent"
                   storageUrl="https://store.example.com" storageUrlMethod="GET"
                   transcribe="true" transcribeCallback="/text" recordingConfigurationId="RC1"/>"##,
    ) else {
        panic!()
    };
    assert_eq!(record.action().map(String::as_str), Some("/done"));
    assert_eq!(record.method(), Method::Get);
    assert_eq!(record.timeout(), 0);
    assert_eq!(record.finish_on_key(), FinishOnKey("#".into()));
    assert_eq!(record.max_length(), 20);
    assert!(!record.play_beep());
    assert_eq!(record.trim(), Trim::DoNotTrim);
    assert_eq!(
        record.recording_status_callback().map(String::as_str),
        Some("/rec")
    );
    assert_eq!(record.recording_status_callback_method(), Method::Get);
    assert_eq!(
        record.recording_status_callback_event(),
        vec![
            RecordingEvent::InProgress,
            RecordingEvent::Completed,
            RecordingEvent::Absent
        ]
    );
    assert_eq!(record.storage_url_method(), Method::Get);
    assert!(record.transcribe());
    assert_eq!(
        record.transcribe_callback().map(String::as_str),
        Some("/text")
    );
    assert_eq!(record.present_attributes().len(), Record::ATTRIBUTES.len());
}

#[test]
fn hangup_leave_and_echo_take_no_attributes() {
    assert_eq!(verb("<Hangup/>"), Verb::Hangup(Hangup::default()));
    assert_eq!(verb("<Leave/>"), Verb::Leave(Leave::default()));
    assert_eq!(verb("<Echo/>"), Verb::Echo(Echo::default()));
}

#[test]
fn hangup_and_reject_may_carry_parameters() {
    let Verb::Hangup(hangup) =
        verb(r#"<Hangup><Parameter name="X-Reason" value="done"/></Hangup>"#)
    else {
        panic!()
    };
    assert_eq!(
        hangup.parameters[0].name().map(String::as_str),
        Some("X-Reason")
    );
    let Verb::Reject(reject) =
        verb(r#"<Reject reason="busy"><Parameter name="X-Why" value="closed"/></Reject>"#)
    else {
        panic!()
    };
    assert_eq!(
        reject.parameters[0].value().map(String::as_str),
        Some("closed")
    );
}

#[test]
fn reject_defaults_to_rejected_and_reads_busy() {
    let Verb::Reject(reject) = verb("<Reject/>") else {
        panic!()
    };
    assert_eq!(reject.reason(), RejectReason::Rejected);
    let Verb::Reject(reject) = verb(r#"<Reject reason="busy"/>"#) else {
        panic!()
    };
    assert_eq!(reject.reason(), RejectReason::Busy);
}

#[test]
fn redirect_takes_its_url_as_text_and_defaults_to_post() {
    let Verb::Redirect(redirect) = verb("<Redirect>../next?step=2&amp;x=1</Redirect>") else {
        panic!()
    };
    assert_eq!(redirect.url, "../next?step=2&x=1");
    assert_eq!(redirect.method(), Method::Post);
    let Verb::Redirect(redirect) = verb(r#"<Redirect method="GET">/next</Redirect>"#) else {
        panic!()
    };
    assert_eq!(redirect.method(), Method::Get);
}

#[test]
fn dial_defaults_match_twilio() {
    let Verb::Dial(dial) = verb("<Dial>415-123-4567</Dial>") else {
        panic!()
    };
    assert_eq!(dial.action(), None);
    assert!(!dial.answer_on_bridge());
    assert_eq!(dial.caller_id(), None);
    assert!(!dial.hangup_on_star());
    assert_eq!(dial.method(), Method::Post);
    assert_eq!(dial.record(), DialRecord::DoNotRecord);
    assert_eq!(dial.recording_status_callback_method(), Method::Post);
    assert_eq!(
        dial.recording_status_callback_event(),
        vec![RecordingEvent::Completed]
    );
    assert_eq!(dial.recording_track(), RecordingTrack::Both);
    assert_eq!(dial.refer_method(), Method::Post);
    assert_eq!(dial.ring_tone(), None);
    assert!(!dial.sequential());
    assert_eq!(dial.time_limit(), 14400);
    assert_eq!(dial.timeout(), 30);
    assert_eq!(dial.trim(), Trim::DoNotTrim);
}

#[test]
fn a_bare_dial_number_is_read_as_a_number_noun() {
    let Verb::Dial(dial) = verb("<Dial> +1 (415) 123-4567 </Dial>") else {
        panic!()
    };
    assert_eq!(
        dial.targets,
        vec![DialTarget::Number(Number {
            number: "+1 (415) 123-4567".into(),
            ..Number::default()
        })]
    );
}

#[test]
fn dial_reads_every_attribute() {
    let Verb::Dial(dial) = verb(
        r#"<Dial action="/after" answerOnBridge="true" callerId="+15550001111" hangupOnStar="true"
                 method="GET" record="record-from-ringing-dual" recordingStatusCallback="/rec"
                 recordingStatusCallbackMethod="GET" recordingStatusCallbackEvent="in-progress completed"
                 recordingTrack="inbound" referUrl="/refer" referMethod="GET" ringTone="uk"
                 sequential="true" timeLimit="600" timeout="10" trim="trim-silence"
                 recordingConfigurationId="RC1" events="call-progress-events">+15550002222</Dial>"#,
    ) else {
        panic!()
    };
    assert_eq!(dial.action().map(String::as_str), Some("/after"));
    assert!(dial.answer_on_bridge());
    assert_eq!(dial.caller_id().map(String::as_str), Some("+15550001111"));
    assert!(dial.hangup_on_star());
    assert_eq!(dial.method(), Method::Get);
    assert_eq!(dial.record(), DialRecord::RecordFromRingingDual);
    assert_eq!(dial.recording_status_callback_method(), Method::Get);
    assert_eq!(
        dial.recording_status_callback_event(),
        vec![RecordingEvent::InProgress, RecordingEvent::Completed]
    );
    assert_eq!(dial.recording_track(), RecordingTrack::Inbound);
    assert_eq!(dial.refer_url().map(String::as_str), Some("/refer"));
    assert_eq!(dial.refer_method(), Method::Get);
    assert_eq!(dial.ring_tone(), Some(&RingTone("uk".into())));
    assert!(dial.sequential());
    assert_eq!(dial.time_limit(), 600);
    assert_eq!(dial.timeout(), 10);
    assert_eq!(dial.trim(), Trim::TrimSilence);
    assert_eq!(
        dial.recording_configuration_id().map(String::as_str),
        Some("RC1")
    );
    assert_eq!(
        dial.events().map(String::as_str),
        Some("call-progress-events")
    );
    assert_eq!(dial.present_attributes().len(), Dial::ATTRIBUTES.len());
}

#[test]
fn dial_record_accepts_the_legacy_booleans() {
    let Verb::Dial(dial) = verb(r#"<Dial record="true">+15550002222</Dial>"#) else {
        panic!()
    };
    assert_eq!(dial.record(), DialRecord::RecordFromAnswer);
    let Verb::Dial(dial) = verb(r#"<Dial record="false">+15550002222</Dial>"#) else {
        panic!()
    };
    assert_eq!(dial.record(), DialRecord::DoNotRecord);
}

#[test]
fn dial_rings_several_numbers_at_once() {
    let Verb::Dial(dial) =
        verb("<Dial><Number>+15550000001</Number><Number>+15550000002</Number></Dial>")
    else {
        panic!()
    };
    let numbers: Vec<_> = dial
        .targets
        .iter()
        .map(|t| match t {
            DialTarget::Number(n) => n.number.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(numbers, ["+15550000001", "+15550000002"]);
}

#[test]
fn number_defaults_and_attributes() {
    let DialTarget::Number(number) = dial_target("<Number>+15558675310</Number>") else {
        panic!()
    };
    assert_eq!(number.send_digits(), None);
    assert_eq!(number.url(), None);
    assert_eq!(number.method(), Method::Post);
    assert_eq!(
        number.status_callback_event(),
        vec![CallProgressEvent::Completed]
    );
    assert_eq!(number.status_callback_method(), Method::Post);

    let DialTarget::Number(number) = dial_target(
        r#"<Number sendDigits="wwww1928" url="/whisper" method="GET"
                   statusCallbackEvent="initiated ringing answered completed"
                   statusCallback="/status" statusCallbackMethod="GET" byoc="BY123">+15558675310</Number>"#,
    ) else {
        panic!()
    };
    assert_eq!(number.send_digits(), Some(&DtmfSequence("wwww1928".into())));
    assert_eq!(number.url().map(String::as_str), Some("/whisper"));
    assert_eq!(number.method(), Method::Get);
    assert_eq!(
        number.status_callback_event(),
        CallProgressEvent::ALL.to_vec()
    );
    assert_eq!(
        number.status_callback().map(String::as_str),
        Some("/status")
    );
    assert_eq!(number.status_callback_method(), Method::Get);
    assert_eq!(number.byoc().map(String::as_str), Some("BY123"));
}

#[test]
fn number_answering_machine_detection_defaults_and_attributes() {
    let DialTarget::Number(number) = dial_target("<Number>+15558675310</Number>") else {
        panic!()
    };
    assert_eq!(number.machine_detection(), None);
    assert_eq!(number.machine_detection_timeout(), 30);
    assert_eq!(number.machine_detection_speech_threshold(), 2400);
    assert_eq!(number.machine_detection_speech_end_threshold(), 1200);
    assert_eq!(number.machine_detection_silence_timeout(), 5000);
    assert_eq!(number.amd_status_callback_method(), Method::Post);

    let DialTarget::Number(number) = dial_target(
        r#"<Number machineDetection="DetectMessageEnd" machineDetectionTimeout="10"
                   machineDetectionSpeechThreshold="3000" machineDetectionSpeechEndThreshold="800"
                   machineDetectionSilenceTimeout="4000" amdStatusCallback="/amd"
                   amdStatusCallbackMethod="GET">+15558675310</Number>"#,
    ) else {
        panic!()
    };
    assert_eq!(
        number.machine_detection(),
        Some(&MachineDetection::DetectMessageEnd)
    );
    assert_eq!(number.machine_detection_timeout(), 10);
    assert_eq!(number.machine_detection_speech_threshold(), 3000);
    assert_eq!(number.machine_detection_speech_end_threshold(), 800);
    assert_eq!(number.machine_detection_silence_timeout(), 4000);
    assert_eq!(
        number.amd_status_callback().map(String::as_str),
        Some("/amd")
    );
    assert_eq!(number.amd_status_callback_method(), Method::Get);
}

#[test]
fn sip_reads_credentials_and_uri() {
    let DialTarget::Sip(sip) = dial_target(
        r#"<Sip username="admin" password="1234" url="/screen" method="GET"
                statusCallbackEvent="answered" statusCallback="/s" statusCallbackMethod="GET">sip:jack@example.com?mycustomheader=foo</Sip>"#,
    ) else {
        panic!()
    };
    assert_eq!(sip.uri, "sip:jack@example.com?mycustomheader=foo");
    assert_eq!(sip.username().map(String::as_str), Some("admin"));
    assert_eq!(sip.password().map(String::as_str), Some("1234"));
    assert_eq!(sip.method(), Method::Get);
    assert_eq!(
        sip.status_callback_event(),
        vec![CallProgressEvent::Answered]
    );
    assert_eq!(sip.present_attributes().len(), 7);
    assert_eq!(sip.machine_detection_timeout(), 30);
}

#[test]
fn client_is_read_from_text_or_from_identity_and_parameters() {
    let DialTarget::Client(client) = dial_target("<Client>joey</Client>") else {
        panic!()
    };
    assert_eq!(client.identity, "joey");
    assert!(client.parameters.is_empty());
    assert_eq!(client.method(), Method::Post);

    let DialTarget::Client(client) = dial_target(
        r#"<Client url="/w" statusCallbackEvent="ringing"><Identity>user_jane</Identity>
             <Parameter name="FirstName" value="Jane"/><Parameter name="LastName" value="Doe"/></Client>"#,
    ) else {
        panic!()
    };
    assert_eq!(client.identity, "user_jane");
    assert_eq!(client.url().map(String::as_str), Some("/w"));
    assert_eq!(
        client.status_callback_event(),
        vec![CallProgressEvent::Ringing]
    );
    let parameters: Vec<_> = client
        .parameters
        .iter()
        .map(|p| (p.name().unwrap().as_str(), p.value().unwrap().as_str()))
        .collect();
    assert_eq!(parameters, [("FirstName", "Jane"), ("LastName", "Doe")]);
}

#[test]
fn conference_defaults_match_twilio() {
    let DialTarget::Conference(conference) = dial_target("<Conference>Room 1234</Conference>")
    else {
        panic!()
    };
    assert_eq!(conference.name, "Room 1234");
    assert!(!conference.muted());
    assert_eq!(conference.beep(), ConferenceBeep::True);
    assert!(conference.start_conference_on_enter());
    assert!(!conference.end_conference_on_exit());
    assert_eq!(conference.wait_url(), DEFAULT_CONFERENCE_WAIT_URL);
    assert_eq!(conference.wait_method(), Method::Post);
    assert_eq!(conference.max_participants(), 250);
    assert_eq!(conference.record(), ConferenceRecord::DoNotRecord);
    assert_eq!(conference.trim(), Trim::TrimSilence);
    assert_eq!(conference.status_callback_event(), None);
    assert_eq!(conference.status_callback_method(), Method::Post);
    assert_eq!(
        conference.recording_status_callback_event(),
        vec![RecordingEvent::Completed]
    );
    assert_eq!(conference.jitter_buffer_size(), JitterBufferSize::Large);
}

#[test]
fn conference_reads_every_attribute() {
    let DialTarget::Conference(conference) = dial_target(
        r#"<Conference muted="true" beep="onEnter" startConferenceOnEnter="false"
                       endConferenceOnExit="true" waitUrl="" waitMethod="GET" maxParticipants="10"
                       record="record-from-start" region="ie1" coach="CA123" trim="do-not-trim"
                       statusCallbackEvent="start end join leave mute hold modify speaker announcement"
                       statusCallback="/conf" statusCallbackMethod="GET" recordingStatusCallback="/rec"
                       recordingStatusCallbackMethod="GET" recordingStatusCallbackEvent="in-progress"
                       eventCallbackUrl="/ev" jitterBufferSize="off" participantLabel="agent"
                       recordingConfigurationId="RC1">moderated</Conference>"#,
    ) else {
        panic!()
    };
    assert!(conference.muted());
    assert_eq!(conference.beep(), ConferenceBeep::OnEnter);
    assert!(!conference.start_conference_on_enter());
    assert!(conference.end_conference_on_exit());
    assert_eq!(
        conference.wait_url(),
        "",
        "an empty waitUrl disables hold music"
    );
    assert_eq!(conference.wait_method(), Method::Get);
    assert_eq!(conference.max_participants(), 10);
    assert_eq!(conference.record(), ConferenceRecord::RecordFromStart);
    assert_eq!(conference.region().map(String::as_str), Some("ie1"));
    assert_eq!(conference.coach().map(String::as_str), Some("CA123"));
    assert_eq!(conference.trim(), Trim::DoNotTrim);
    assert_eq!(
        conference.status_callback_event(),
        Some(&ConferenceEvent::ALL.to_vec())
    );
    assert_eq!(
        conference.recording_status_callback_event(),
        vec![RecordingEvent::InProgress]
    );
    assert_eq!(conference.jitter_buffer_size(), JitterBufferSize::Off);
    assert_eq!(
        conference.participant_label().map(String::as_str),
        Some("agent")
    );
    assert_eq!(
        conference.present_attributes().len(),
        Conference::ATTRIBUTES.len()
    );
}

#[test]
fn queue_reads_its_name_and_attributes() {
    let DialTarget::Queue(queue) = dial_target(
        r#"<Queue url="/about_to_connect" method="GET" reservationSid="WR1" postWorkActivitySid="WA1">support</Queue>"#,
    ) else {
        panic!()
    };
    assert_eq!(queue.name, "support");
    assert_eq!(queue.url().map(String::as_str), Some("/about_to_connect"));
    assert_eq!(queue.method(), Method::Get);
    assert_eq!(queue.reservation_sid().map(String::as_str), Some("WR1"));
    assert_eq!(
        queue.post_work_activity_sid().map(String::as_str),
        Some("WA1")
    );
}

#[test]
fn enqueue_defaults_and_attributes() {
    let Verb::Enqueue(enqueue) = verb("<Enqueue>support</Enqueue>") else {
        panic!()
    };
    assert_eq!(enqueue.name, "support");
    assert_eq!(enqueue.method(), Method::Post);
    assert_eq!(enqueue.wait_url(), None, "absent means Twilio's hold music");
    assert_eq!(enqueue.wait_url_method(), Method::Post);
    assert_eq!(enqueue.task, None);

    let Verb::Enqueue(enqueue) = verb(
        r#"<Enqueue action="/left" method="GET" waitUrl="/wait" waitUrlMethod="GET" workflowSid="WW1" maxQueueSize="10">
             <Task priority="5" timeout="200">{"account_number":"12345"}</Task></Enqueue>"#,
    ) else {
        panic!()
    };
    assert_eq!(enqueue.name, "");
    assert_eq!(enqueue.action().map(String::as_str), Some("/left"));
    assert_eq!(enqueue.method(), Method::Get);
    assert_eq!(enqueue.wait_url().map(String::as_str), Some("/wait"));
    assert_eq!(enqueue.wait_url_method(), Method::Get);
    assert_eq!(enqueue.workflow_sid().map(String::as_str), Some("WW1"));
    assert_eq!(enqueue.max_queue_size(), Some(&10));
    let task = enqueue.task.expect("task");
    assert_eq!(task.attributes, r#"{"account_number":"12345"}"#);
    assert_eq!(task.priority(), Some(&5));
    assert_eq!(task.timeout(), Some(&200));
}

#[test]
fn start_forks_a_stream_with_parameters() {
    let Verb::Start(start) = verb(
        r#"<Start action="/started" method="GET"><Stream url="wss://example.com/audio" name="fork" connectorName="conn"
             track="both_tracks" statusCallback="/s" statusCallbackMethod="GET">
             <Parameter name="caller" value="+1555"/></Stream></Start>"#,
    ) else {
        panic!()
    };
    assert_eq!(start.action().map(String::as_str), Some("/started"));
    assert_eq!(start.method(), Method::Get);
    let [stream] = start.streams.as_slice() else {
        panic!()
    };
    assert_eq!(
        stream.url().map(String::as_str),
        Some("wss://example.com/audio")
    );
    assert_eq!(stream.name().map(String::as_str), Some("fork"));
    assert_eq!(stream.connector_name().map(String::as_str), Some("conn"));
    assert_eq!(stream.track(), StreamTrack::BothTracks);
    assert_eq!(stream.status_callback_method(), Method::Get);
    assert_eq!(stream.parameters.len(), 1);
}

#[test]
fn stream_defaults_to_the_inbound_track() {
    let Verb::Connect(connect) =
        verb(r#"<Connect><Stream url="wss://example.com/agent"/></Connect>"#)
    else {
        panic!()
    };
    assert_eq!(connect.stream.track(), StreamTrack::InboundTrack);
    assert_eq!(connect.stream.status_callback_method(), Method::Post);
    assert_eq!(connect.method(), Method::Post);
}

#[test]
fn stop_names_the_stream_to_stop() {
    let Verb::Stop(stop) = verb(r#"<Stop><Stream name="fork"/></Stop>"#) else {
        panic!()
    };
    assert_eq!(stop.streams[0].name().map(String::as_str), Some("fork"));
}

#[test]
fn refer_transfers_to_its_sip_uri() {
    let Verb::Refer(refer) = verb(
        r#"<Refer action="/refer-done" method="GET"><Sip>sip:alice@example.com</Sip></Refer>"#,
    ) else {
        panic!()
    };
    assert_eq!(refer.sip, "sip:alice@example.com");
    assert_eq!(refer.action().map(String::as_str), Some("/refer-done"));
    assert_eq!(refer.method(), Method::Get);
}

#[test]
fn a_typical_ivr_document_keeps_verb_order() {
    let parsed = parse(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <!-- main menu -->
        <Response>
            <Say voice="alice">Welcome to Switchboard.</Say>
            <Gather numDigits="1" action="/menu" method="POST">
                <Say>For sales press 1. For support press 2.</Say>
            </Gather>
            <Say>We didn't receive any input. Goodbye!</Say>
            <Hangup/>
        </Response>"#,
    );
    let names: Vec<_> = parsed.response.verbs.iter().map(Verb::name).collect();
    assert_eq!(names, ["Say", "Gather", "Say", "Hangup"]);
}

#[test]
fn attribute_values_are_case_insensitive_where_twilio_is() {
    let Verb::Gather(gather) = verb(r#"<Gather method="get" actionOnEmptyResult="TRUE"/>"#) else {
        panic!()
    };
    assert_eq!(gather.method(), Method::Get);
    assert!(gather.action_on_empty_result());
}

#[test]
fn a_byte_order_mark_before_the_document_is_ignored() {
    assert_eq!(
        parse("\u{feff}<Response><Hangup/></Response>")
            .response
            .verbs
            .len(),
        1
    );
    let json = parse_json("\u{feff}{\"Response\":[\"Hangup\"]}").expect("valid");
    assert_eq!(json.response.verbs.len(), 1);
}
