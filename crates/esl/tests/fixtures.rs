//! Every recorded FreeSWITCH transcript decodes byte-exact, and re-encodes to the
//! same bytes: frames, events (plain, JSON, XML) and the client's commands.

mod common;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use common::*;
use esl::{
    AnswerState, ChannelState, ClientCodec, Command, ContentType, Event, EventFormat, Frame,
    HangupCause, ServerCodec,
};
use tokio_util::codec::{Decoder, Encoder};

fn summary() -> serde_json::Value {
    serde_json::from_slice(&read("summary.json")).unwrap()
}

#[test]
fn every_recv_matches_summary_json() {
    let summary = summary();
    let scenarios = scenarios();
    assert!(
        scenarios.len() >= 14,
        "expected all fixture files, found {scenarios:?}"
    );
    for name in scenarios {
        let file = format!("{name}.recv");
        let data = read(&file);
        let want = &summary[&file];
        assert!(want.is_object(), "{file} missing from summary.json");
        let (frames, leftover) = decode_all(&data);
        assert_eq!(
            leftover as u64,
            want["leftover"].as_u64().unwrap(),
            "{file}: leftover"
        );
        assert_eq!(
            frames.len() as u64,
            want["frames"].as_u64().unwrap(),
            "{file}: frames"
        );

        let mut types: BTreeMap<String, u64> = BTreeMap::new();
        let mut events: BTreeMap<String, u64> = BTreeMap::new();
        for f in &frames {
            *types
                .entry(f.content_type().unwrap().to_owned())
                .or_default() += 1;
            if let Some(ev) = f.to_event() {
                let ev = ev.unwrap_or_else(|e| panic!("{file}: {e}"));
                *events.entry(summary_key(&ev)).or_default() += 1;
            }
        }
        let want_types: BTreeMap<String, u64> = want["content_types"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        let want_events: BTreeMap<String, u64> = want["events"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(types, want_types, "{file}: content types");
        assert_eq!(events, want_events, "{file}: events");
    }
}

#[test]
fn frames_reencode_to_the_recorded_bytes() {
    for name in scenarios() {
        let data = read(&format!("{name}.recv"));
        let (frames, _) = decode_all(&data);
        let mut server = ServerCodec::new();
        let mut out = BytesMut::new();
        for f in &frames {
            server.encode(f, &mut out).unwrap();
        }
        assert!(
            out[..] == data[..],
            "{name}: re-encoded frames differ from the recording"
        );
    }
}

#[test]
fn events_reserialise_byte_exact() {
    let mut counts = [0usize; 3];
    for name in scenarios() {
        let data = read(&format!("{name}.recv"));
        let (frames, _) = decode_all(&data);
        for (i, f) in frames.iter().enumerate() {
            let Some(format) = f.kind().event_format() else {
                continue;
            };
            let body = f.body().unwrap().clone();
            let ev = Event::parse(format, body.clone()).unwrap();
            let again = ev.to_bytes(format);
            if again != body {
                let a = String::from_utf8_lossy(&again);
                let b = String::from_utf8_lossy(&body);
                let at = a
                    .bytes()
                    .zip(b.bytes())
                    .position(|(x, y)| x != y)
                    .unwrap_or(0);
                panic!(
                    "{name} frame {i} ({format}): differs at byte {at}:\n ours: {:?}\n orig: {:?}",
                    &a[at.saturating_sub(60)..(at + 60).min(a.len())],
                    &b[at.saturating_sub(60)..(at + 60).min(b.len())]
                );
            }
            // And the whole frame, built from the event alone.
            assert_eq!(
                Frame::event(&ev, format).to_bytes(),
                f.to_bytes(),
                "{name} frame {i}"
            );
            // Rebuilding the event from its decoded headers gives the same bytes too.
            let mut rebuilt = Event::empty();
            for (n, v) in ev.headers() {
                rebuilt.add_header(&n, &v);
            }
            if let Some(b) = ev.body() {
                rebuilt.set_body(b.clone());
            }
            assert_eq!(rebuilt.to_bytes(format), body, "{name} frame {i}: rebuilt");
            counts[format as usize] += 1;
        }
    }
    // Every format was exercised.
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
}

#[test]
fn plain_and_json_events_decode_to_the_same_values() {
    // The same FreeSWITCH event serialised both ways decodes to the same headers:
    // convert each plain event to JSON and back, and each JSON event to plain and back.
    for name in [
        "inbound_events_plain",
        "inbound_events_json",
        "inbound_events_xml",
    ] {
        let (frames, _) = decode_all(&read(&format!("{name}.recv")));
        for f in frames {
            let Some(ev) = f.to_event() else { continue };
            let ev = ev.unwrap();
            for format in [EventFormat::Plain, EventFormat::Json, EventFormat::Xml] {
                let back = Event::parse(format, ev.to_bytes(format)).unwrap();
                assert_eq!(back, ev, "{name}: {format} round trip");
            }
        }
    }
}

#[test]
fn commands_decode_and_reencode_to_the_recorded_bytes() {
    for name in scenarios() {
        let sent = read(&format!("{name}.sent"));
        let mut server = ServerCodec::new();
        let mut buf = BytesMut::from(&sent[..]);
        let mut cmds = Vec::new();
        while let Some(c) = server.decode(&mut buf).unwrap() {
            cmds.push(c);
        }
        assert!(buf.is_empty(), "{name}: leftover {:?}", buf);
        let mut client = ClientCodec::new();
        let mut out = BytesMut::new();
        for c in &cmds {
            client.encode(c, &mut out).unwrap();
        }
        assert!(
            out[..] == sent[..],
            "{name}: {:?}\nvs\n{:?}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&sent)
        );
        assert!(!cmds.is_empty());
    }
}

#[test]
fn inbound_auth_and_api() {
    let (f, _) = decode_all(&read("inbound_auth_and_api.recv"));
    assert_eq!(f[0].to_bytes(), Frame::auth_request().to_bytes());
    assert_eq!(
        f[1].to_bytes(),
        Frame::command_reply("+OK accepted").to_bytes()
    );
    assert_eq!(f[2].kind(), ContentType::ApiResponse);
    assert_eq!(f[2].content_length(), Some(338));
    assert!(f[2].body_str().unwrap().starts_with("UP 0 years"));
    assert_eq!(f[3].body_str(), Some("{\"row_count\": 0}\n"));
    assert_eq!(
        f[3].to_bytes(),
        Frame::api_response(Bytes::from_static(b"{\"row_count\": 0}\n")).to_bytes()
    );
    // bgapi: Reply-Text split at the first colon only.
    let bg: Vec<&Frame> = f.iter().filter(|x| x.job_uuid().is_some()).collect();
    assert_eq!(bg.len(), 3);
    for r in &bg {
        let j = r.job_uuid().unwrap();
        assert_eq!(r.reply_text().unwrap(), format!("+OK Job-UUID: {j}"));
        assert_eq!(r.to_bytes(), Frame::bgapi_reply(j).to_bytes());
        assert_eq!(r.reply(), Some(Ok(format!("Job-UUID: {j}"))));
    }
    assert_eq!(
        bg[1].job_uuid(),
        Some("c0ffee00-0000-4000-8000-00000000e51a")
    );
    // BACKGROUND_JOB events correlate by Job-UUID.
    let jobs: Vec<Event> = f
        .iter()
        .filter_map(|x| x.to_event())
        .map(Result::unwrap)
        .filter(|e| e.event_name().as_deref() == Some("BACKGROUND_JOB"))
        .collect();
    assert_eq!(jobs.len(), 3);
    for (r, e) in bg.iter().zip(&jobs) {
        assert_eq!(e.job_uuid().as_deref(), r.job_uuid());
    }
    assert_eq!(jobs[1].header("Job-Command").as_deref(), Some("version"));
    assert!(jobs[1]
        .body_str()
        .unwrap()
        .starts_with("FreeSWITCH Version 1.10.12"));
    assert_eq!(
        jobs[2].body_str(),
        Some("-ERR no_such_command_xyz Command not found!\n")
    );
    // api errors are api/response bodies, not ESL errors.
    let api: Vec<&Frame> = f
        .iter()
        .filter(|x| x.kind() == ContentType::ApiResponse)
        .collect();
    assert_eq!(
        api[2].body_str(),
        Some("-ERR no_such_command_xyz Command not found!\n")
    );
    assert_eq!(
        api[2].reply(),
        Some(Err("-ERR no_such_command_xyz Command not found!".into()))
    );
    assert_eq!(api[3].body_str(), Some("-ERR No such channel!\n"));
    assert!(api[4].body_str().unwrap().starts_with("-USAGE: <call url>"));
    assert!(f
        .iter()
        .any(|x| x.reply_text() == Some("-ERR command not found") && !x.is_ok()));
    assert!(f
        .iter()
        .any(|x| x.reply_text() == Some("+OK filter added. [Event-Name]=[CHANNEL_CREATE]")));
    // The sendevent event: Content-Length twice (a header, then the body length).
    let custom = f
        .iter()
        .filter_map(|x| x.to_event())
        .map(Result::unwrap)
        .find(|e| e.subclass().as_deref() == Some("esl::fixture"))
        .unwrap();
    assert_eq!(custom.header_raw("X-Fixture-Header"), Some("some%20value"));
    assert_eq!(
        custom.header("X-Fixture-Header").as_deref(),
        Some("some value")
    );
    assert_eq!(custom.header("Content-Length").as_deref(), Some("21"));
    assert_eq!(custom.body_str(), Some("hello from sendevent\n"));
    let first = custom.headers().next().unwrap();
    assert_eq!(first.0, "Event-Subclass");
    // exit: +OK bye, then the disconnect notice.
    let n = f.len();
    assert_eq!(f[n - 2].reply_text(), Some("+OK bye"));
    assert_eq!(f[n - 1].to_bytes(), Frame::disconnect_notice().to_bytes());
    assert_eq!(f[n - 1].kind(), ContentType::DisconnectNotice);
}

#[test]
fn wrong_password_and_command_before_auth() {
    let (f, _) = decode_all(&read("inbound_auth_wrong_password.recv"));
    assert_eq!(f[1].reply_text(), Some("-ERR invalid"));
    assert_eq!(f[1].reply(), Some(Err("-ERR invalid".into())));
    assert_eq!(f[2].body_str(), Some(esl::frame::GOODBYE));
    assert_eq!(f[2].to_bytes(), Frame::disconnect_notice().to_bytes());
    let (f, _) = decode_all(&read("inbound_command_before_auth.recv"));
    assert_eq!(f[1].reply_text(), Some("-ERR command not found"));
    assert_eq!(f[2].reply_text(), Some("+OK bye"));
}

#[test]
fn events_plain_typed_headers() {
    let (f, _) = decode_all(&read("inbound_events_plain.recv"));
    let events: Vec<Event> = f
        .iter()
        .filter_map(|x| x.to_event())
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 82);
    let hc: Vec<&Event> = events
        .iter()
        .filter(|e| e.event_name().as_deref() == Some("CHANNEL_HANGUP_COMPLETE"))
        .collect();
    assert_eq!(hc.len(), 2);
    for e in &hc {
        assert_eq!(e.hangup_cause(), Some(HangupCause::NormalClearing));
        assert_eq!(e.channel_state(), Some(ChannelState::Reporting));
        assert_eq!(e.answer_state(), Some(AnswerState::Hangup));
        assert!(e.unique_id().is_some());
    }
    let a_leg = hc
        .iter()
        .find(|e| e.variable("billsec").as_deref() == Some("3"))
        .expect("billsec 3");
    assert_eq!(a_leg.variable("duration").as_deref(), Some("4"));
    // Percent-decoding happens on access.
    let dated = &events[0];
    assert!(dated.header_raw("Event-Date-GMT").unwrap().contains("%20"));
    assert!(dated.header("Event-Date-GMT").unwrap().contains(' '));
    assert_eq!(dated.header("FreeSWITCH-IPv6").as_deref(), Some("fd00::2"));
    // DTMF on the B-leg from uuid_send_dtmf.
    let dtmf: Vec<&Event> = events
        .iter()
        .filter(|e| e.event_name().as_deref() == Some("DTMF"))
        .collect();
    assert_eq!(dtmf.len(), 6);
    assert_eq!(
        dtmf.iter()
            .filter(|e| e.header("DTMF-Source").as_deref() == Some("APP"))
            .count(),
        2
    );
    let early = events
        .iter()
        .find(|e| e.event_name().as_deref() == Some("PLAYBACK_START"))
        .unwrap();
    assert_eq!(early.answer_state(), Some(AnswerState::Early));
}

#[test]
fn events_json_typed_headers() {
    let (f, _) = decode_all(&read("inbound_events_json.recv"));
    let events: Vec<Event> = f
        .iter()
        .filter_map(|x| x.to_event())
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 82);
    assert_eq!(
        events[0].header("FreeSWITCH-IPv6").as_deref(),
        Some("fd00::2")
    );
    let job = events
        .iter()
        .find(|e| e.event_name().as_deref() == Some("BACKGROUND_JOB"))
        .unwrap();
    assert!(job.body_str().unwrap().starts_with("+OK "));
    assert!(!job.has_header("_body"));
    // Cross-check our JSON scanner against serde_json on every event.
    for fr in &f {
        if fr.kind() != ContentType::EventJson {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(fr.body().unwrap()).unwrap();
        let ev = fr.to_event().unwrap().unwrap();
        // A space after the brace takes the general parser instead of the fast path:
        // both must agree.
        let mut spaced = b"{ ".to_vec();
        spaced.extend_from_slice(&fr.body().unwrap()[1..]);
        let general = Event::parse_json(Bytes::from(spaced)).unwrap();
        assert_eq!(general, ev);
        assert_eq!(general.event_name(), ev.event_name());
        let obj = v.as_object().unwrap();
        for (k, val) in obj {
            if k == "_body" {
                assert_eq!(ev.body_str(), val.as_str());
            } else if k != "Content-Length" || !obj.contains_key("_body") {
                // serde_json keeps the last of repeated keys.
                assert_eq!(ev.header_last(k).as_deref(), val.as_str(), "{k}");
            }
        }
    }
}

#[test]
fn events_xml() {
    let (f, _) = decode_all(&read("inbound_events_xml.recv"));
    let events: Vec<Event> = f
        .iter()
        .filter_map(|x| x.to_event())
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 7);
    let job = events
        .iter()
        .find(|e| e.event_name().as_deref() == Some("BACKGROUND_JOB"))
        .unwrap();
    let body = job.body_str().unwrap();
    assert!(
        body.starts_with("+OK ") && body.ends_with('\n') && body.len() == 41,
        "{body:?}"
    );
    assert!(job
        .header("Job-Command-Arg")
        .unwrap()
        .starts_with("{origination_uuid="));
}

#[test]
fn log_data() {
    let (f, _) = decode_all(&read("inbound_log.recv"));
    let logs: Vec<&Frame> = f
        .iter()
        .filter(|x| x.kind() == ContentType::LogData)
        .collect();
    assert_eq!(logs.len(), 16);
    for l in &logs {
        let rebuilt = Frame::log_data(&esl::LogData {
            level: l.header("Log-Level").unwrap().parse().unwrap(),
            text_channel: l.header("Text-Channel").unwrap().parse().unwrap(),
            file: l.header("Log-File").unwrap(),
            func: l.header("Log-Func").unwrap(),
            line: l.header("Log-Line").unwrap().parse().unwrap(),
            user_data: l.header("User-Data").unwrap(),
            text: l.body_str().unwrap(),
        });
        assert_eq!(rebuilt.to_bytes(), l.to_bytes());
    }
    assert!(f
        .iter()
        .any(|x| x.reply_text() == Some("+OK log level 6 [6]")));
}

#[test]
fn outbound_socket() {
    let (f, _) = decode_all(&read("outbound_socket.recv"));
    let connect = &f[0];
    assert_eq!(connect.kind(), ContentType::CommandReply);
    assert!(connect.header_count() > 100);
    assert_eq!(connect.reply_text(), Some("%2BOK%0A"));
    assert_eq!(connect.reply(), Some(Ok(String::new())));
    assert_eq!(connect.header("Socket-Mode"), Some("async"));
    assert_eq!(connect.header("Control"), Some("full"));
    assert_eq!(connect.header("Event-Name"), Some("CHANNEL_DATA"));
    assert!(connect.content_length().is_none());
    // The channel data reads as an event.
    let data = Event::from_frame_headers(connect);
    assert_eq!(data.event_name().as_deref(), Some("CHANNEL_DATA"));
    assert_eq!(
        data.variable("current_application").as_deref(),
        Some("socket")
    );
    assert_eq!(
        data.variable("current_application_data").as_deref(),
        Some("127.0.0.1:8084 async full")
    );
    assert!(data.unique_id().is_some());
    // The emulator side: the same reply rebuilt from the channel data alone.
    let mut channel = Event::empty();
    for (n, v) in data.headers().take(connect.header_count() - 4) {
        channel.add_header(&n, &v);
    }
    assert_eq!(
        Frame::connect_reply(&channel, true, true).to_bytes(),
        connect.to_bytes()
    );
    assert_eq!(f[1].reply_text(), Some("+OK Events Enabled"));
    assert_eq!(f[2].reply_text(), Some("+OK will linger"));
    let uuid = data.unique_id().unwrap().into_owned();
    let api: Vec<&Frame> = f
        .iter()
        .filter(|x| x.kind() == ContentType::ApiResponse)
        .collect();
    assert_eq!(api[0].body_str(), Some("_undef_"));
    assert_eq!(api[1].body_str(), Some("7200"));
    let notices: Vec<&Frame> = f
        .iter()
        .filter(|x| x.kind() == ContentType::DisconnectNotice)
        .collect();
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[0].content_disposition(), Some("linger"));
    assert_eq!(notices[0].header("Linger-Time"), Some("-1"));
    assert_eq!(
        notices[0].to_bytes(),
        Frame::linger_notice(&uuid, notices[0].header("Channel-Name").unwrap(), -1).to_bytes()
    );
    assert_eq!(notices[1].content_disposition(), Some("disconnect"));
    assert_eq!(
        notices[1].to_bytes(),
        Frame::outbound_disconnect_notice(&uuid).to_bytes()
    );

    let (f, _) = decode_all(&read("outbound_socket_json.recv"));
    let notices: Vec<&Frame> = f
        .iter()
        .filter(|x| x.kind() == ContentType::DisconnectNotice)
        .collect();
    assert_eq!(notices[0].header("Linger-Time"), Some("3"));
    assert!(f
        .iter()
        .any(|x| x.reply_text() == Some("+OK will linger 3 seconds")));
}

#[test]
fn sent_commands_parse_to_typed_commands() {
    let mut codec = ServerCodec::new();
    let mut buf = BytesMut::from(&read("inbound_auth_and_api.sent")[..]);
    let mut cmds = Vec::new();
    while let Some(c) = codec.decode(&mut buf).unwrap() {
        cmds.push(c);
    }
    assert_eq!(
        cmds[0],
        Command::Auth {
            password: "ClueCon".into()
        }
    );
    assert_eq!(cmds[1], Command::api("status"));
    assert_eq!(
        cmds[5],
        Command::bgapi("version", "c0ffee00-0000-4000-8000-00000000e51a")
    );
    assert!(matches!(&cmds[10], Command::Other { line, .. } if line == "no_such_esl_command"));
    let se = cmds
        .iter()
        .find(|c| matches!(c, Command::SendEvent { .. }))
        .unwrap();
    assert_eq!(se.header("X-Fixture-Header"), Some("some value"));
    assert_eq!(se.body().unwrap().as_ref(), b"hello from sendevent\n");
    assert_eq!(cmds.last(), Some(&Command::Exit));

    let mut buf = BytesMut::from(&read("outbound_socket.sent")[..]);
    let mut cmds = Vec::new();
    while let Some(c) = codec.decode(&mut buf).unwrap() {
        cmds.push(c);
    }
    assert_eq!(cmds[0], Command::Connect);
    assert_eq!(
        cmds[1],
        Command::MyEvents {
            uuid: None,
            format: None
        }
    );
    assert_eq!(cmds[2], Command::Linger { seconds: None });
    assert_eq!(cmds[3], Command::execute(None, "answer", None));
    assert_eq!(cmds[7], Command::hangup(None, "NORMAL_CLEARING"));
}
