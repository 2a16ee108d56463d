//! `<Dial>` to several parties at once over the embedded virtual switch: the
//! first to answer is connected, the rest are cancelled, and each party is a
//! child call with its own status callbacks.

mod common;

use common::{api, eventually, recording_wav, AppServer, Db, TestApp};
use serde_json::Value;
use switchboard::store::Account;

async fn call(t: &TestApp, account: &Account, sid: &str) -> Value {
    api(
        t,
        account,
        reqwest::Method::GET,
        &format!("/Calls/{sid}.json"),
        &[],
    )
    .await
    .1
}

async fn the_first_party_to_answer_is_connected_and_the_others_cancelled(db: Db) {
    let t = TestApp::start(db).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    let progress = app.url("/progress");
    // +15005550003 is busy, +15005550004 never answers, the SIP address
    // +15005550007 answers and hangs up after 5 s (a quarter second here).
    app.twiml(
        "/start",
        &format!(
            r#"<Response><Dial action="/dialed" timeout="5" callerId="+15005550199"><Number statusCallback="{progress}" statusCallbackEvent="initiated ringing answered completed">+15005550003</Number><Number>+15005550004</Number><Sip statusCallback="{progress}">sip:+15005550007@carrier.example.com</Sip></Dial><Say>Back to you</Say></Response>"#
        ),
    );
    app.twiml("/dialed", "<Response><Hangup/></Response>");
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Url", &app.url("/start")),
    ];
    let (status, created) = api(&t, &account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(status, 201, "{created}");
    let parent = created["sid"].as_str().unwrap().to_owned();

    let dialed = eventually("the Dial action", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    assert_eq!(dialed.param("CallSid"), Some(parent.as_str()));
    assert_eq!(dialed.param("DialCallStatus"), Some("completed"));
    assert!(dialed.param("DialCallDuration").is_some());
    let connected = dialed.param("DialCallSid").unwrap().to_owned();

    // Three child calls, each ended its own way.
    let children = eventually("three finished children", || async {
        let (_, list) = api(
            &t,
            &account,
            reqwest::Method::GET,
            &format!("/Calls.json?ParentCallSid={parent}"),
            &[],
        )
        .await;
        let calls = list["calls"].as_array().cloned().unwrap_or_default();
        let done = calls.len() == 3
            && calls.iter().all(|c| {
                ["completed", "busy", "canceled", "no-answer"]
                    .contains(&c["status"].as_str().unwrap_or(""))
            });
        done.then_some(calls)
    })
    .await;
    let status_of = |to: &str| {
        children
            .iter()
            .find(|c| c["to"] == to)
            .map(|c| {
                (
                    c["status"].as_str().unwrap().to_owned(),
                    c["sid"].as_str().unwrap().to_owned(),
                    c["from"].clone(),
                )
            })
            .unwrap()
    };
    let (busy, _, from) = status_of("+15005550003");
    assert_eq!(busy, "busy");
    assert_eq!(from, "+15005550199");
    let (lost, _, _) = status_of("+15005550004");
    assert_eq!(lost, "canceled");
    let (answered, sid, _) = status_of("sip:+15005550007@carrier.example.com");
    assert_eq!(answered, "completed");
    assert_eq!(sid, connected);

    // The busy number reported every step it asked for; the SIP party its completion.
    let callbacks = eventually("the children's callbacks", || async {
        let requests = app.requests_to("/progress");
        (requests.len() >= 4).then_some(requests)
    })
    .await;
    let busy_steps: Vec<&str> = callbacks
        .iter()
        .filter(|r| r.param("To") == Some("+15005550003"))
        .map(|r| r.param("CallStatus").unwrap())
        .collect();
    assert_eq!(busy_steps.first(), Some(&"initiated"));
    assert_eq!(busy_steps.last(), Some(&"busy"));
    let sip_steps: Vec<&str> = callbacks
        .iter()
        .filter(|r| r.param("CallSid") == Some(connected.as_str()))
        .map(|r| r.param("CallStatus").unwrap())
        .collect();
    assert_eq!(sip_steps, ["completed"]);
    let done = callbacks
        .iter()
        .find(|r| r.param("CallSid") == Some(connected.as_str()))
        .unwrap();
    assert_eq!(done.param("ParentCallSid"), Some(parent.as_str()));
    eventually("the parent to complete", || async {
        (call(&t, &account, &parent).await["status"] == "completed").then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn the_first_party_to_answer_is_connected_and_the_others_cancelled_on_sqlite() {
    the_first_party_to_answer_is_connected_and_the_others_cancelled(Db::Sqlite).await;
}

#[tokio::test]
async fn the_first_party_to_answer_is_connected_and_the_others_cancelled_on_postgres() {
    the_first_party_to_answer_is_connected_and_the_others_cancelled(Db::Postgres).await;
}

#[tokio::test]
async fn hang_up_on_star_ends_the_dialled_party_and_the_caller_goes_on() {
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
    // The dialled party (+15005550006) would stay on forever.
    app.twiml(
        "/inbound",
        r#"<Response><Dial hangupOnStar="true" answerOnBridge="true" action="/dialed"><Number sendDigits="ww42">+15005550006</Number></Dial></Response>"#,
    );
    app.twiml(
        "/dialed",
        "<Response><Redirect>/after</Redirect></Response>",
    );
    app.twiml(
        "/after",
        "<Response><Say>You pressed star</Say><Hangup/></Response>",
    );
    // At speed 20: * after 1 s of real time, hangup after 10 s.
    t.inject("+14155559999", "+14155550100", "dtmf=*@20s;hangup=200s");
    let dialed = eventually("the Dial action after *", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    assert_eq!(dialed.param("DialCallStatus"), Some("completed"));
    let child = dialed.param("DialCallSid").unwrap().to_owned();
    // The caller is still there: the action's document runs on.
    eventually("the caller to go on", || async {
        app.requests_to("/after").pop()
    })
    .await;
    eventually("the dialled party to be hung up", || async {
        (call(&t, &account, &child).await["status"] == "completed").then_some(())
    })
    .await;
    let parent = dialed.param("CallSid").unwrap().to_owned();
    eventually("the caller's call to complete", || async {
        (call(&t, &account, &parent).await["status"] == "completed").then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn dial_record_keeps_the_bridged_call_as_a_two_channel_recording() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    // The SIP party answers and hangs up after 5 s (a quarter second here).
    app.twiml(
        "/start",
        r#"<Response><Dial record="record-from-answer-dual" recordingStatusCallback="/recorded" action="/dialed"><Sip>sip:+15005550007@carrier.example.com</Sip></Dial></Response>"#,
    );
    app.twiml("/dialed", "<Response><Hangup/></Response>");
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Url", &app.url("/start")),
    ];
    let (status, created) = api(&t, &account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(status, 201, "{created}");
    let parent = created["sid"].as_str().unwrap().to_owned();

    let dialed = eventually("the Dial action", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    assert_eq!(dialed.param("DialCallStatus"), Some("completed"));
    let recording_sid = dialed
        .param("RecordingSid")
        .expect("RecordingSid")
        .to_owned();
    assert!(recording_sid.starts_with("RE"));
    let duration: i64 = dialed.param("RecordingDuration").unwrap().parse().unwrap();
    assert!(
        duration >= 1,
        "the bridge lasted 5 s of switch time: {duration}"
    );
    assert_eq!(
        dialed.param("RecordingUrl"),
        Some(
            format!(
                "{}/2010-04-01/Accounts/{}/Recordings/{recording_sid}",
                t.url(""),
                account.sid
            )
            .as_str()
        )
    );

    // The status callback, before the action, says where it came from.
    let recorded = eventually("the recording status callback", || async {
        app.requests_to("/recorded").pop()
    })
    .await;
    assert_eq!(recorded.param("CallSid"), Some(parent.as_str()));
    assert_eq!(recorded.param("RecordingSid"), Some(recording_sid.as_str()));
    assert_eq!(recorded.param("RecordingStatus"), Some("completed"));
    assert_eq!(recorded.param("RecordingSource"), Some("DialVerb"));
    assert_eq!(recorded.param("RecordingChannels"), Some("2"));

    let (status, recording) = api(
        &t,
        &account,
        reqwest::Method::GET,
        &format!("/Recordings/{recording_sid}.json"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{recording}");
    assert_eq!(recording["call_sid"], parent.as_str());
    assert_eq!(recording["source"], "DialVerb");
    assert_eq!(recording["channels"], 2);
    let wav = recording_wav(&t, &account, &recording_sid).await;
    assert_eq!(wav.spec().channels, 2);
    assert!(wav.duration() > 0);
    t.stop().await;
}

#[tokio::test]
async fn dial_record_with_a_conference_is_refused_not_ignored() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/start",
        r#"<Response><Dial record="record-from-answer"><Conference>Room</Conference></Dial></Response>"#,
    );
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Url", &app.url("/start")),
    ];
    let (status, created) = api(&t, &account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(status, 201, "{created}");
    let sid = created["sid"].as_str().unwrap().to_owned();
    let notification = eventually("a notification", || async {
        let (_, list) = api(
            &t,
            &account,
            reqwest::Method::GET,
            &format!("/Calls/{sid}/Notifications.json"),
            &[],
        )
        .await;
        list["notifications"]
            .as_array()
            .and_then(|n| n.first().cloned())
    })
    .await;
    assert_eq!(notification["error_code"], "12200");
    assert!(
        notification["message_text"]
            .as_str()
            .unwrap()
            .contains("record"),
        "{notification}"
    );
    eventually("the call to end", || async {
        (call(&t, &account, &sid).await["status"] == "completed").then_some(())
    })
    .await;
    t.stop().await;
}

/// A virtual switch started here (so its password is known), a Switchboard
/// using it, and a watcher on the switch's event socket.
struct Watched {
    t: TestApp,
    switch: vswitch::VSwitch,
    events: esl::EventStream,
    _watcher: esl::Client,
    _dir: tempfile::TempDir,
}

async fn on_own_switch() -> Watched {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let switch = vswitch::start(
        listener,
        vswitch::Config {
            password: "watched".into(),
            speed: 20.0,
            sounds_dir: dir.path().to_owned(),
            recordings_dir: dir.path().join("recordings"),
            ..vswitch::Config::default()
        },
    )
    .unwrap();
    let port = switch.local_addr().port();
    let mut config = esl::ClientConfig::new(format!("127.0.0.1:{port}"), "watched");
    config.events = ["PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_BRIDGE"]
        .map(String::from)
        .to_vec();
    let (watcher, events) = esl::Client::connect(config).await.unwrap();
    let t = TestApp::builder(Db::Sqlite)
        .configure(move |config| {
            config.media_nodes =
                switchboard::config::MediaNodes::Esl(vec![switchboard::config::EslNode {
                    host: "127.0.0.1".into(),
                    port,
                    password: "watched".into(),
                }]);
        })
        .start()
        .await;
    Watched {
        t,
        switch,
        events,
        _watcher: watcher,
        _dir: dir,
    }
}

/// What the watched switch has reported, once it has been quiet for a
/// moment: each event's call and its name, with the file of a playback.
async fn seen(events: &mut esl::EventStream) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(300), events.next_event()).await
    {
        let call = event
            .variable("sb_call_sid")
            .unwrap_or_default()
            .into_owned();
        let name = event.event_name().unwrap_or_default().into_owned();
        let file = event
            .header("Playback-File-Path")
            .unwrap_or_default()
            .into_owned();
        seen.push((call, format!("{name} {file}").trim().to_owned()));
    }
    seen
}

/// The events of one call, in order.
fn of(seen: &[(String, String)], call_sid: &str) -> Vec<String> {
    seen.iter()
        .filter(|(call, _)| call == call_sid)
        .map(|(_, what)| what.clone())
        .collect()
}

/// Places a call from +15005550100 to +15005550006 running `/start`.
async fn place_call(t: &TestApp, account: &Account, app: &AppServer) -> String {
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Url", &app.url("/start")),
    ];
    let (status, created) = api(t, account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(status, 201, "{created}");
    created["sid"].as_str().unwrap().to_owned()
}

/// The caller hears the `ringTone` country's ringback while the parties
/// ring, and it stops before the bridge.
#[tokio::test]
async fn the_caller_hears_ringback_until_the_bridge() {
    // Bound by name: the watcher and the directory live as long as the test.
    let Watched {
        t,
        switch,
        mut events,
        _watcher,
        _dir,
    } = on_own_switch().await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    // The SIP party rings, answers, and hangs up after 5 s.
    app.twiml(
        "/start",
        r#"<Response><Dial ringTone="uk" action="/dialed"><Sip>sip:+15005550007@carrier.example.com</Sip></Dial></Response>"#,
    );
    app.twiml("/dialed", "<Response><Hangup/></Response>");
    let caller = place_call(&t, &account, &app).await;
    eventually("the Dial action", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    let tone = "tone_stream://%(400,200,400,450);%(400,2000,400,450);loops=-1";
    assert_eq!(
        of(&seen(&mut events).await, &caller),
        [
            format!("PLAYBACK_START {tone}"),
            format!("PLAYBACK_STOP {tone}"),
            "CHANNEL_BRIDGE".to_owned(),
        ],
        "ringback, then the bridge"
    );
    t.stop().await;
    switch.shutdown().await;
}

/// A party's `url` document runs on its own channel once it answers: the
/// bridge follows when it runs out of verbs, and never after a `<Hangup>`.
#[tokio::test]
async fn a_whisper_runs_on_the_party_before_the_bridge_and_can_screen_it_out() {
    // Bound by name: the watcher and the directory live as long as the test.
    let Watched {
        t,
        switch,
        mut events,
        _watcher,
        _dir,
    } = on_own_switch().await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/start",
        r#"<Response><Dial action="/dialed"><Sip url="/whisper">sip:+15005550007@carrier.example.com</Sip></Dial></Response>"#,
    );
    app.twiml("/whisper", "<Response><Say>A call for you</Say></Response>");
    app.twiml("/dialed", "<Response><Hangup/></Response>");
    let caller = place_call(&t, &account, &app).await;
    let dialed = eventually("the Dial action", || async {
        app.requests_to("/dialed").pop()
    })
    .await;
    let party = dialed.param("DialCallSid").unwrap().to_owned();
    let whisper = app
        .requests_to("/whisper")
        .pop()
        .expect("the whisper request");
    assert_eq!(whisper.param("CallSid"), Some(party.as_str()));
    assert_eq!(whisper.param("ParentCallSid"), Some(caller.as_str()));
    assert_eq!(whisper.param("CallStatus"), Some("in-progress"));
    // The party heard its whisper while the caller heard ringing; then the
    // ringing stopped and the caller was bridged to the party.
    let first = seen(&mut events).await;
    let said = of(&first, &party);
    assert!(
        said.first()
            .is_some_and(|e| e.starts_with("PLAYBACK_START http")),
        "{said:?}"
    );
    let caller_saw = of(&first, &caller);
    assert!(
        caller_saw.ends_with(&["CHANNEL_BRIDGE".to_owned()]),
        "{caller_saw:?}"
    );
    let whispered_at = first.iter().position(|(c, _)| *c == party).unwrap();
    let bridged_at = first
        .iter()
        .position(|(c, e)| *c == caller && e == "CHANNEL_BRIDGE")
        .unwrap();
    assert!(whispered_at < bridged_at, "{first:?}");

    // Screened out: the party is hung up and never bridged; the caller goes on.
    app.twiml("/whisper", "<Response><Hangup/></Response>");
    app.twiml(
        "/dialed",
        "<Response><Say>Nobody took it</Say><Hangup/></Response>",
    );
    let caller = place_call(&t, &account, &app).await;
    let dialed = eventually("the second Dial action", || async {
        app.requests_to("/dialed")
            .into_iter()
            .find(|r| r.param("CallSid") == Some(caller.as_str()))
    })
    .await;
    assert_eq!(dialed.param("DialCallStatus"), Some("completed"));
    let caller_saw = of(&seen(&mut events).await, &caller);
    assert!(
        !caller_saw.contains(&"CHANNEL_BRIDGE".to_owned()),
        "{caller_saw:?}"
    );
    t.stop().await;
    switch.shutdown().await;
}
