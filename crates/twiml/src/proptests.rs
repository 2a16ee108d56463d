//! Property tests: any valid model written as XML or JSON reads back as the
//! same model, and no input — random or a damaged valid document — makes
//! the readers panic.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::model::*;
use crate::value::arbitrary::{non_empty_text, text};
use crate::{parse_json, parse_xml};

fn say() -> BoxedStrategy<Say> {
    (Say::arbitrary_attributes(), text())
        .prop_map(|(mut say, text)| {
            say.text = text;
            say
        })
        .boxed()
}

fn play() -> BoxedStrategy<Play> {
    (Play::arbitrary_attributes(), text())
        .prop_map(|(mut play, url)| {
            play.url = url;
            // Play needs something to play.
            if play.url.is_empty() && play.digits.is_none() {
                play.url = "hold.mp3".into();
            }
            play
        })
        .boxed()
}

fn parameter() -> BoxedStrategy<Parameter> {
    (Parameter::arbitrary_attributes(), non_empty_text())
        .prop_map(|(mut parameter, name)| {
            parameter.name = Some(name);
            parameter
        })
        .boxed()
}

fn stream(needs_url: bool) -> BoxedStrategy<Stream> {
    (
        Stream::arbitrary_attributes(),
        non_empty_text(),
        vec(parameter(), 0..3),
    )
        .prop_map(move |(mut stream, url, parameters)| {
            if needs_url {
                stream.url = Some(url);
            }
            stream.parameters = parameters;
            stream
        })
        .boxed()
}

fn phone_number() -> BoxedStrategy<String> {
    "\\+?[0-9]([0-9 ().-]{0,10}[0-9])?".boxed()
}

fn sip_uri() -> BoxedStrategy<String> {
    "sips?:[a-z0-9]{1,8}@[a-z0-9.]{1,12}(\\?x-h=[a-z]{1,4})?".boxed()
}

fn dial_target() -> BoxedStrategy<DialTarget> {
    prop_oneof![
        (Number::arbitrary_attributes(), phone_number()).prop_map(|(mut n, number)| {
            n.number = number;
            DialTarget::Number(n)
        }),
        (Sip::arbitrary_attributes(), sip_uri()).prop_map(|(mut s, uri)| {
            s.uri = uri;
            DialTarget::Sip(s)
        }),
        (
            Client::arbitrary_attributes(),
            non_empty_text(),
            vec(parameter(), 0..3)
        )
            .prop_map(|(mut c, identity, parameters)| {
                c.identity = identity;
                c.parameters = parameters;
                DialTarget::Client(c)
            }),
    ]
    .boxed()
}

fn dial() -> BoxedStrategy<Dial> {
    let targets = prop_oneof![
        vec(dial_target(), 1..4),
        (Conference::arbitrary_attributes(), non_empty_text()).prop_map(|(mut c, name)| {
            c.name = name;
            vec![DialTarget::Conference(c)]
        }),
        (Queue::arbitrary_attributes(), non_empty_text()).prop_map(|(mut q, name)| {
            q.name = name;
            vec![DialTarget::Queue(q)]
        }),
    ];
    (Dial::arbitrary_attributes(), targets)
        .prop_map(|(mut dial, targets)| {
            dial.targets = targets;
            dial
        })
        .boxed()
}

fn verb() -> BoxedStrategy<Verb> {
    let prompt = prop_oneof![
        say().prop_map(GatherPrompt::Say),
        play().prop_map(GatherPrompt::Play),
        Pause::arbitrary_attributes().prop_map(GatherPrompt::Pause),
    ];
    let task = (Task::arbitrary_attributes(), text()).prop_map(|(mut task, attributes)| {
        task.attributes = attributes;
        task
    });
    prop_oneof![
        say().prop_map(Verb::Say),
        play().prop_map(Verb::Play),
        Pause::arbitrary_attributes().prop_map(Verb::Pause),
        (Gather::arbitrary_attributes(), vec(prompt, 0..4)).prop_map(|(mut g, prompts)| {
            g.prompts = prompts;
            Verb::Gather(g)
        }),
        Record::arbitrary_attributes().prop_map(Verb::Record),
        (Hangup::arbitrary_attributes(), vec(parameter(), 0..2)).prop_map(|(mut h, parameters)| {
            h.parameters = parameters;
            Verb::Hangup(h)
        }),
        (Reject::arbitrary_attributes(), vec(parameter(), 0..2)).prop_map(|(mut r, parameters)| {
            r.parameters = parameters;
            Verb::Reject(r)
        }),
        (Redirect::arbitrary_attributes(), non_empty_text()).prop_map(|(mut r, url)| {
            r.url = url;
            Verb::Redirect(r)
        }),
        dial().prop_map(Verb::Dial),
        (
            Enqueue::arbitrary_attributes(),
            non_empty_text(),
            proptest::option::of(task)
        )
            .prop_map(|(mut e, name, task)| {
                e.name = name;
                e.task = task;
                Verb::Enqueue(e)
            }),
        Leave::arbitrary_attributes().prop_map(Verb::Leave),
        (Start::arbitrary_attributes(), vec(stream(true), 1..3)).prop_map(|(mut s, streams)| {
            s.streams = streams;
            Verb::Start(s)
        }),
        (Stop::arbitrary_attributes(), vec(stream(false), 1..3)).prop_map(|(mut s, streams)| {
            s.streams = streams;
            Verb::Stop(s)
        }),
        (Connect::arbitrary_attributes(), stream(true)).prop_map(|(mut c, stream)| {
            c.stream = stream;
            Verb::Connect(c)
        }),
        Echo::arbitrary_attributes().prop_map(Verb::Echo),
        (Refer::arbitrary_attributes(), sip_uri()).prop_map(|(mut r, sip)| {
            r.sip = sip;
            Verb::Refer(r)
        }),
    ]
    .boxed()
}

fn response() -> BoxedStrategy<Response> {
    vec(verb(), 0..6)
        .prop_map(|verbs| Response { verbs })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_model_written_as_xml_reads_back_the_same(response in response()) {
        let xml = response.to_xml();
        let parsed = parse_xml(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert_eq!(parsed.response, response, "{}", xml);
    }

    #[test]
    fn any_model_written_as_json_reads_back_the_same(response in response()) {
        let json = response.to_json();
        let parsed = parse_json(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(parsed.response, response, "{}", json);
    }

    #[test]
    fn xml_and_json_forms_describe_the_same_features(response in response()) {
        let from_xml = parse_xml(&response.to_xml()).map(|p| p.response.features());
        let from_json = parse_json(&response.to_json()).map(|p| p.response.features());
        prop_assert_eq!(from_xml, Ok(response.features()));
        prop_assert_eq!(from_json, Ok(response.features()));
    }

    #[test]
    fn arbitrary_text_never_panics_the_readers(input in any::<String>()) {
        let _ = parse_xml(&input);
        let _ = parse_json(&input);
    }

    #[test]
    fn markup_like_text_never_panics_the_readers(
        input in "[<>/=\"'&;#a-zA-Z0-9 !?\\[\\]{}:,-]{0,200}"
    ) {
        let _ = parse_xml(&input);
        let _ = parse_json(&input);
    }

    #[test]
    fn damaged_valid_documents_never_panic_the_readers(
        response in response(),
        cuts in vec((any::<prop::sample::Index>(), any::<char>()), 1..4),
    ) {
        for form in [response.to_xml(), response.to_json()] {
            let mut chars: Vec<char> = form.chars().collect();
            for (at, replacement) in &cuts {
                let i = at.index(chars.len());
                chars[i] = *replacement;
            }
            let damaged: String = chars.into_iter().collect();
            let _ = parse_xml(&damaged);
            let _ = parse_json(&damaged);
        }
    }
}
