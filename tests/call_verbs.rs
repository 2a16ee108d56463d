//! One scenario per verb over the embedded virtual switch: the exact webhooks
//! an application receives, and the resources a call leaves behind.

mod common;

use common::{
    api, eventually, finished, get, hang_up, place_to, recording_wav, AppServer, Db, TestApp,
};
use serde_json::Value;
use switchboard::store::Account;

#[tokio::test]
async fn an_inbound_call_gathers_digits_and_posts_them_to_the_action() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    let form = [
        ("PhoneNumber", "+14155550100"),
        ("VoiceUrl", &app.url("/inbound")),
    ];
    let (status, _) = api(
        &t,
        &account,
        reqwest::Method::POST,
        "/IncomingPhoneNumbers.json",
        &form,
    )
    .await;
    assert_eq!(status, 201);
    app.twiml(
        "/inbound",
        r#"<Response><Gather numDigits="4" action="/digits" timeout="3"><Say>Enter your code</Say></Gather><Say>We got nothing</Say></Response>"#,
    );
    app.twiml(
        "/digits",
        "<Response><Say>Thank you</Say><Hangup/></Response>",
    );
    t.inject("+14155559999", "+14155550100", "dtmf=1234@1s;hangup=60s");

    let digits = eventually("the digits", || async { app.requests_to("/digits").pop() }).await;
    assert_eq!(digits.param("Digits"), Some("1234"));
    assert_eq!(digits.param("Direction"), Some("inbound"));
    assert_eq!(digits.param("CallStatus"), Some("in-progress"));
    let first = &app.requests_to("/inbound")[0];
    assert_eq!(first.param("CallStatus"), Some("ringing"));
    assert_eq!(first.param("From"), Some("+14155559999"));
    assert_eq!(first.param("To"), Some("+14155550100"));
    let sid = first.param("CallSid").unwrap().to_owned();
    let call = finished(&t, &account, &sid).await;
    assert_eq!(call["status"], "completed");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(app.paths(), ["/inbound", "/digits"]);
    t.stop().await;
}

#[tokio::test]
async fn a_call_to_a_number_nobody_owns_is_rejected() {
    let t = TestApp::start(Db::Sqlite).await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    // The caller would stay 3 s (60 s at speed 20); only a rejection ends it sooner.
    t.inject("+14155559999", "+14155550199", "hangup=60s");
    // Rejected at once: no call record is made for anyone.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, calls) = api(&t, &account, reqwest::Method::GET, "/Calls.json", &[]).await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 0);
    let shown = t.switch().api("show", "channels as json").await;
    assert!(
        shown.contains("\"row_count\": 0") || shown.contains("\"row_count\":0"),
        "{shown}"
    );
    t.stop().await;
}

#[tokio::test]
async fn record_makes_a_recording_and_posts_it_to_the_action() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml("/start", r#"<Response><Say>Leave a message</Say><Record maxLength="10" timeout="2" playBeep="true" action="/recorded"/></Response>"#);
    app.twiml("/recorded", "<Response><Hangup/></Response>");
    // This far end talks for 3 s into each recording.
    let sid = place_to(&t, &account, "+15005550009", app.url("/start")).await;
    let recorded = eventually("the recording", || async {
        app.requests_to("/recorded").pop()
    })
    .await;
    let recording_sid = recorded.param("RecordingSid").unwrap().to_owned();
    assert!(recording_sid.starts_with("RE"));
    let duration: i64 = recorded
        .param("RecordingDuration")
        .unwrap()
        .parse()
        .unwrap();
    assert!(duration > 0, "{duration}");
    let url = recorded.param("RecordingUrl").unwrap();
    assert!(
        url.ends_with(&format!(
            "/2010-04-01/Accounts/{}/Recordings/{recording_sid}",
            account.sid
        )),
        "{url}"
    );
    finished(&t, &account, &sid).await;

    let (status, recording) = api(
        &t,
        &account,
        reqwest::Method::GET,
        &format!("/Recordings/{recording_sid}.json"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(recording["call_sid"], sid.as_str());
    assert_eq!(recording["duration"], duration.to_string());
    let (_, listed) = api(
        &t,
        &account,
        reqwest::Method::GET,
        &format!("/Calls/{sid}/Recordings.json"),
        &[],
    )
    .await;
    assert_eq!(listed["recordings"][0]["sid"], recording_sid.as_str());
    let wav = recording_wav(&t, &account, &recording_sid).await;
    assert!(wav.duration() > 0);
    t.stop().await;
}

#[tokio::test]
async fn record_trims_the_silence_that_ended_it_unless_told_not_to() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    // This far end talks for 3 s into each recording, then is silent: 2 s of
    // silence end the recording, 5 s long, and trim-silence (the default) cuts them.
    app.twiml(
        "/trimmed",
        r#"<Response><Record timeout="2" playBeep="false" action="/done"/></Response>"#,
    );
    app.twiml("/whole", r#"<Response><Record timeout="2" playBeep="false" trim="do-not-trim" action="/done"/></Response>"#);
    app.twiml("/done", "<Response><Hangup/></Response>");
    let mut durations = Vec::new();
    for path in ["/trimmed", "/whole"] {
        let account = t.app.store.create_account("Acme", None).await.unwrap();
        let sid = place_to(&t, &account, "+15005550009", app.url(path)).await;
        finished(&t, &account, &sid).await;
        let done = app
            .requests_to("/done")
            .into_iter()
            .find(|r| r.param("CallSid") == Some(sid.as_str()))
            .expect("the action hears of the recording");
        let recording_sid = done.param("RecordingSid").unwrap().to_owned();
        let recording = get(&t, &account, &format!("/Recordings/{recording_sid}.json")).await;
        assert_eq!(
            recording["duration"],
            done.param("RecordingDuration").unwrap()
        );
        let wav = recording_wav(&t, &account, &recording_sid).await;
        let ms = u64::from(wav.duration()) * 1000 / u64::from(wav.spec().sample_rate);
        durations.push((done.param("RecordingDuration").unwrap().to_owned(), ms));
    }
    let (trimmed, whole) = (&durations[0], &durations[1]);
    assert_eq!(trimmed.0, "3", "{durations:?}");
    assert!((2980..=3020).contains(&trimmed.1), "{durations:?}");
    assert_eq!(whole.0, "5", "{durations:?}");
    assert_eq!(whole.1, 5000, "{durations:?}");
    t.stop().await;
}

/// The first two `/status` requests about call `sid`, once both came.
async fn recording_statuses(app: &AppServer, sid: &str) -> Vec<common::AppRequest> {
    eventually("two recording status callbacks", || async {
        let reports: Vec<_> = app
            .requests_to("/status")
            .into_iter()
            .filter(|r| r.param("CallSid") == Some(sid))
            .collect();
        (reports.len() == 2).then_some(reports)
    })
    .await
}

fn statuses_of(reports: &[common::AppRequest]) -> Vec<&str> {
    reports
        .iter()
        .map(|r| r.param("RecordingStatus").unwrap())
        .collect()
}

#[tokio::test]
async fn record_reports_each_status_its_events_ask_for_and_a_silent_one_is_absent() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let record = r#"<Record timeout="2" playBeep="false" action="/done" recordingStatusCallback="/status" recordingStatusCallbackEvent="in-progress completed absent"/>"#;
    app.twiml(
        "/start",
        &format!("<Response>{record}<Redirect>/after</Redirect></Response>"),
    );
    app.twiml("/done", "<Response><Hangup/></Response>");
    app.twiml("/after", "<Response><Hangup/></Response>");
    // +15005550009 talks into the recording; +15005550006 answers and says nothing.
    let mut calls = Vec::new();
    for to in ["+15005550009", "+15005550006"] {
        let account = t.app.store.create_account("Acme", None).await.unwrap();
        let sid = place_to(&t, &account, to, app.url("/start")).await;
        finished(&t, &account, &sid).await;
        calls.push(sid);
    }
    let spoken = recording_statuses(&app, &calls[0]).await;
    assert_eq!(statuses_of(&spoken), ["in-progress", "completed"]);
    assert_eq!(
        spoken[0].param("RecordingSid"),
        spoken[1].param("RecordingSid")
    );
    assert_eq!(spoken[1].param("RecordingDuration"), Some("3"));
    assert_eq!(spoken[1].param("RecordingSource"), Some("RecordVerb"));
    let done = &app.requests_to("/done")[0];
    assert_eq!(done.param("RecordingSid"), spoken[1].param("RecordingSid"));

    // Silence only: trimmed to nothing, reported absent (Twilio's 16102),
    // and the document goes on without the action.
    let silent = recording_statuses(&app, &calls[1]).await;
    assert_eq!(statuses_of(&silent), ["in-progress", "absent"]);
    assert_eq!(silent[1].param("ErrorCode"), Some("16102"));
    assert_eq!(app.requests_to("/done").len(), 1);
    let after = app.requests_to("/after");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].param("CallSid"), Some(calls[1].as_str()));
    t.stop().await;
}

#[tokio::test]
async fn dial_bridges_a_number_and_reports_the_outcome() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    // +15005550007 answers, then hangs up after 5 s.
    app.twiml("/start", r#"<Response><Dial action="/dialed" timeout="10"><Number>+15005550007</Number></Dial></Response>"#);
    app.twiml("/dialed", "<Response><Hangup/></Response>");
    let sid = place_to(&t, &account, "+15005550006", app.url("/start")).await;
    let dialed = eventually("the dial outcome", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    assert_eq!(dialed.param("DialCallStatus"), Some("completed"));
    let child_sid = dialed.param("DialCallSid").unwrap().to_owned();
    assert!(dialed.param("DialCallDuration").is_some());
    finished(&t, &account, &sid).await;
    let (_, child) = api(
        &t,
        &account,
        reqwest::Method::GET,
        &format!("/Calls/{child_sid}.json"),
        &[],
    )
    .await;
    assert_eq!(child["parent_call_sid"], sid.as_str());
    assert_eq!(child["direction"], "outbound-dial");
    assert_eq!(child["to"], "+15005550007");
    assert_eq!(child["status"], "completed");
    t.stop().await;
}

#[tokio::test]
async fn dialling_a_busy_number_reports_busy() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/start",
        r#"<Response><Dial action="/dialed"><Number>+15005550003</Number></Dial></Response>"#,
    );
    app.twiml("/dialed", "<Response><Hangup/></Response>");
    place_to(&t, &account, "+15005550006", app.url("/start")).await;
    let dialed = eventually("the dial outcome", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    assert_eq!(dialed.param("DialCallStatus"), Some("busy"));
    assert_eq!(dialed.param("DialCallDuration"), None);
    t.stop().await;
}

async fn notifications_of(t: &TestApp, account: &Account, sid: &str) -> Vec<Value> {
    let (_, body) = api(
        t,
        account,
        reqwest::Method::GET,
        &format!("/Calls/{sid}/Notifications.json"),
        &[],
    )
    .await;
    body["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_broken_application_becomes_a_notification_and_the_call_ends_cleanly() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.answer("/error", 500, "text/plain", "oops");
    app.twiml("/malformed", "<Response><Say>unclosed</Response>");
    app.twiml(
        "/unsupported",
        r#"<Response><Connect><Stream url="wss://example.com/stream"/></Connect></Response>"#,
    );
    app.twiml("/fallback", "<Response><Hangup/></Response>");
    for (path, code, words) in [
        ("/error", "11200", "500"),
        ("/malformed", "12100", ""),
        ("/unsupported", "12200", "Connect is not supported"),
    ] {
        let sid = place_to(&t, &account, "+15005550006", app.url(path)).await;
        let call = finished(&t, &account, &sid).await;
        assert_eq!(call["status"], "completed", "{path}");
        let notifications = notifications_of(&t, &account, &sid).await;
        assert_eq!(notifications.len(), 1, "{path}: {notifications:?}");
        assert_eq!(notifications[0]["error_code"], code, "{path}");
        assert_eq!(notifications[0]["log"], "0");
        assert!(
            notifications[0]["message_text"]
                .as_str()
                .unwrap()
                .contains(words),
            "{notifications:?}"
        );
        assert_eq!(notifications[0]["request_url"], app.url(path));
    }
    // With a FallbackUrl, the failure is recorded and the fallback runs.
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Url", &app.url("/error")),
        ("FallbackUrl", &app.url("/fallback")),
    ];
    let (_, created) = api(&t, &account, reqwest::Method::POST, "/Calls.json", &form).await;
    let sid = created["sid"].as_str().unwrap();
    finished(&t, &account, sid).await;
    let fallback = app
        .requests_to("/fallback")
        .pop()
        .expect("the fallback was requested");
    assert_eq!(fallback.param("ErrorCode"), Some("11200"));
    assert_eq!(fallback.param("ErrorUrl"), Some(app.url("/error").as_str()));
    t.stop().await;
}

#[tokio::test]
async fn the_rest_api_redirects_a_live_call_and_hangs_it_up() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml("/hold", r#"<Response><Pause length="60"/></Response>"#);
    app.twiml("/second", r#"<Response><Pause length="60"/></Response>"#);
    let sid = place_to(&t, &account, "+15005550006", app.url("/hold")).await;
    eventually("the first document", || async {
        app.requests_to("/hold").pop()
    })
    .await;
    let (status, body) = api(
        &t,
        &account,
        reqwest::Method::POST,
        &format!("/Calls/{sid}.json"),
        &[("Url", &app.url("/second"))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let second = eventually("the redirect", || async {
        app.requests_to("/second").pop()
    })
    .await;
    assert_eq!(second.param("CallSid"), Some(sid.as_str()));
    hang_up(&t, &account, &sid).await;
    let call = finished(&t, &account, &sid).await;
    assert_eq!(call["status"], "completed");
    let (status, body) = api(
        &t,
        &account,
        reqwest::Method::POST,
        &format!("/Calls/{sid}.json"),
        &[("Url", &app.url("/second"))],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21220)));
    t.stop().await;
}

#[tokio::test]
async fn webhook_signatures_satisfy_twilios_own_request_validator() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml("/start", r#"<Response><Gather numDigits="1" action="/next?source=menu" method="GET" timeout="2"/></Response>"#);
    app.twiml("/next", "<Response><Hangup/></Response>");
    // +15005550008 presses 1234# two seconds after answering.
    place_to(&t, &account, "+15005550008", app.url("/start")).await;
    let get = eventually("the GET action", || async {
        app.requests_to("/next").pop()
    })
    .await;
    eprintln!("{get:?}");
    assert_eq!(get.method, "GET");
    assert_eq!(get.param("Digits"), Some("1"));
    assert_eq!(get.param("source"), Some("menu"));
    let post = app.requests_to("/start").pop().unwrap();
    let python =
        std::env::var("SWITCHBOARD_TEST_PYTHON").expect("run the suite with `bash scripts/test`");
    for request in [&post, &get] {
        let params: serde_json::Map<String, Value> = if request.method == "POST" {
            request
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        } else {
            Default::default()
        };
        let script = "import json,sys\nfrom twilio.request_validator import RequestValidator\n\
                      a=json.load(sys.stdin)\nprint(RequestValidator(a['token']).validate(a['url'], a['params'], a['signature']))";
        let input = serde_json::json!({"token": account.auth_token, "url": request.url, "params": params, "signature": request.signature});
        let mut child = tokio::process::Command::new(&python)
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use tokio::io::AsyncWriteExt;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .await
            .unwrap();
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "True",
            "{} {}",
            request.method,
            request.url
        );
    }
    t.stop().await;
}

/// A second of 16 kHz tone, as an application would host it.
fn wav_bytes() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..16_000 {
        let sample = ((i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 8_000.0) as i16;
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

#[tokio::test]
async fn play_and_say_go_through_the_media_layer_and_a_second_play_is_a_cache_hit() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    let wav = wav_bytes();
    app.answer_bytes("/hello.wav", "audio/wav", wav);
    app.twiml(
        "/start",
        "<Response><Say>Welcome</Say><Play>/hello.wav</Play><Hangup/></Response>",
    );
    for _ in 0..2 {
        let sid = place_to(&t, &account, "+15005550006", app.url("/start")).await;
        let call = finished(&t, &account, &sid).await;
        assert_eq!(call["status"], "completed");
        let (_, notifications) = api(
            &t,
            &account,
            reqwest::Method::GET,
            &format!("/Calls/{sid}/Notifications.json"),
            &[],
        )
        .await;
        assert_eq!(
            notifications["notifications"],
            serde_json::json!([]),
            "{notifications}"
        );
    }
    // Two calls played it; the application's server was asked once.
    assert_eq!(app.requests_to("/hello.wav").len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn stopping_switchboard_hangs_up_live_calls_and_records_them() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml("/hold", r#"<Response><Pause length="600"/></Response>"#);
    let sid = place_to(&t, &account, "+15005550006", app.url("/hold")).await;
    eventually("the call to be in its Pause", || async {
        app.requests_to("/hold").pop()
    })
    .await;
    // Without the hangup this would wait ten minutes.
    t.app.router.shutdown().await;
    let call = t.app.store.call(&account.sid, &sid).await.unwrap().unwrap();
    assert_eq!(call.status.as_str(), "completed");
    assert!(call.end_time.is_some());
    t.stop().await;
}
