//! Calls end to end: the REST API places a call on the embedded virtual
//! switch, the call router runs the application's TwiML, and the application
//! sees exactly Twilio's webhooks.

mod common;

use common::{eventually, finished, AppServer, Db, TestApp};
use serde_json::Value;
use switchboard::store::Account;

async fn place(t: &TestApp, account: &Account, form: &[(&str, String)]) -> Value {
    let response = t
        .http
        .post(t.url(&format!("/2010-04-01/Accounts/{}/Calls.json", account.sid)))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

fn assert_signed(account: &Account, request: &common::AppRequest) {
    let params = if request.method == "POST" {
        request.params.clone()
    } else {
        Vec::new()
    };
    let expected = switchboard::webhook::signature(&account.auth_token, &request.url, &params);
    assert_eq!(
        request.signature.as_deref(),
        Some(expected.as_str()),
        "{}",
        request.path
    );
}

async fn an_outbound_call_says_hello_and_reports_every_status(db: Db) {
    let t = TestApp::start(db).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/start",
        "<Response><Say voice=\"alice\">Hello from Switchboard</Say><Hangup/></Response>",
    );
    let created = place(
        &t,
        &account,
        &[
            ("To", "+15005550006".into()),
            ("From", "+15005550100".into()),
            ("Url", app.url("/start")),
            ("StatusCallback", app.url("/status")),
            ("StatusCallbackEvent", "initiated".into()),
            ("StatusCallbackEvent", "ringing".into()),
            ("StatusCallbackEvent", "answered".into()),
            ("StatusCallbackEvent", "completed".into()),
        ],
    )
    .await;
    assert_eq!(created["status"], "queued");
    assert_eq!(created["direction"], "outbound-api");
    let sid = created["sid"].as_str().unwrap().to_owned();

    let done = finished(&t, &account, &sid).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["start_time"].is_string() && done["end_time"].is_string());

    let fetches = app.requests_to("/start");
    assert_eq!(fetches.len(), 1);
    let fetch = &fetches[0];
    assert_eq!(fetch.method, "POST");
    assert_eq!(fetch.param("CallSid"), Some(sid.as_str()));
    assert_eq!(fetch.param("AccountSid"), Some(account.sid.as_str()));
    assert_eq!(fetch.param("CallStatus"), Some("in-progress"));
    assert_eq!(fetch.param("Direction"), Some("outbound-api"));
    assert_eq!(fetch.param("From"), Some("+15005550100"));
    assert_eq!(fetch.param("To"), Some("+15005550006"));
    assert_eq!(fetch.param("ApiVersion"), Some("2010-04-01"));
    assert_signed(&account, fetch);

    let statuses = eventually("four status callbacks", || async {
        let got = app.requests_to("/status");
        (got.len() == 4).then_some(got)
    })
    .await;
    let seen: Vec<(&str, &str)> = statuses
        .iter()
        .map(|r| {
            (
                r.param("CallStatus").unwrap(),
                r.param("SequenceNumber").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("initiated", "0"),
            ("ringing", "1"),
            ("in-progress", "2"),
            ("completed", "3")
        ]
    );
    for request in &statuses {
        assert_eq!(
            request.param("CallbackSource"),
            Some("call-progress-events")
        );
        assert_signed(&account, request);
    }
    assert!(statuses[3].param("CallDuration").is_some());
    t.stop().await;
}

#[tokio::test]
async fn an_outbound_call_says_hello_and_reports_every_status_on_sqlite() {
    an_outbound_call_says_hello_and_reports_every_status(Db::Sqlite).await;
}

#[tokio::test]
async fn an_outbound_call_says_hello_and_reports_every_status_on_postgres() {
    an_outbound_call_says_hello_and_reports_every_status(Db::Postgres).await;
}

#[tokio::test]
async fn a_busy_number_ends_the_call_busy_without_fetching_the_app() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    let created = place(
        &t,
        &account,
        &[
            ("To", "+15005550003".into()),
            ("From", "+15005550100".into()),
            ("Url", app.url("/start")),
        ],
    )
    .await;
    let done = finished(&t, &account, created["sid"].as_str().unwrap()).await;
    assert_eq!(done["status"], "busy", "{done}");
    assert!(app.requests_to("/start").is_empty());
    t.stop().await;
}

#[tokio::test]
async fn record_and_send_digits_apply_to_the_whole_api_call() {
    let t = TestApp::start(Db::Sqlite).await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    // +15005550009 talks for 3 s (0.15 s here) into whatever records it.
    let form = [
        ("To", "+15005550009".to_owned()),
        ("From", "+15005550100".to_owned()),
        (
            "Twiml",
            r#"<Response><Pause length="1"/></Response>"#.to_owned(),
        ),
        ("Record", "true".to_owned()),
        ("SendDigits", "1w2#".to_owned()),
    ];
    let created = place(&t, &account, &form).await;
    let sid = created["sid"].as_str().unwrap().to_owned();
    let done = finished(&t, &account, &sid).await;
    assert_eq!(done["status"], "completed");
    let list = t
        .http
        .get(t.url(&format!(
            "/2010-04-01/Accounts/{}/Calls/{sid}/Recordings.json",
            account.sid
        )))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let recordings = list["recordings"].as_array().unwrap();
    assert_eq!(recordings.len(), 1, "{list}");
    assert_eq!(recordings[0]["source"], "OutboundAPI");
    // The call lasts a real second (20 s of the switch's); Trim's default,
    // trim-silence, keeps the 3 s the far end talked.
    assert_eq!(recordings[0]["duration"], "3", "{list}");
    // Bad digits are refused before anything is placed.
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Twiml", "<Response/>"),
        ("SendDigits", "12x"),
    ];
    let (status, body) =
        common::api(&t, &account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (400, Some(20001)),
        "{body}"
    );
    t.stop().await;
}

#[tokio::test]
async fn an_api_call_is_recorded_as_asked_and_ends_at_its_time_limit() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    // The document would hold the call a minute; TimeLimit ends it after
    // 2 s of the switch's time (a tenth of a second here).
    let form = [
        ("To", "+15005550009".to_owned()),
        ("From", "+15005550100".to_owned()),
        (
            "Twiml",
            r#"<Response><Pause length="60"/></Response>"#.to_owned(),
        ),
        ("TimeLimit", "2".to_owned()),
        ("Record", "true".to_owned()),
        ("RecordingChannels", "dual".to_owned()),
        ("Trim", "do-not-trim".to_owned()),
        ("RecordingStatusCallback", app.url("/recording")),
        ("RecordingStatusCallbackMethod", "GET".to_owned()),
        (
            "RecordingStatusCallbackEvent",
            "in-progress completed".to_owned(),
        ),
    ];
    let sid = place(&t, &account, &form).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = finished(&t, &account, &sid).await;
    assert_eq!(done["status"], "completed", "{done}");
    let reports = eventually("in-progress and completed", || async {
        let r = app.requests_to("/recording");
        (r.len() == 2).then_some(r)
    })
    .await;
    let statuses: Vec<_> = reports
        .iter()
        .map(|r| r.param("RecordingStatus").unwrap())
        .collect();
    assert_eq!(statuses, ["in-progress", "completed"]);
    assert!(reports.iter().all(|r| r.method == "GET"));
    let completed = &reports[1];
    assert_eq!(completed.param("CallSid"), Some(sid.as_str()));
    assert_eq!(completed.param("RecordingSource"), Some("OutboundAPI"));
    assert_eq!(completed.param("RecordingChannels"), Some("2"));
    // Untrimmed: from just after the answer to the end, at most the 2 s limit.
    let seconds: i64 = completed
        .param("RecordingDuration")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&seconds), "{seconds}");
    let wav = common::recording_wav(&t, &account, completed.param("RecordingSid").unwrap()).await;
    assert_eq!(wav.spec().channels, 2);

    // Options Twilio does not know are refused before anything is placed.
    for (name, value) in [
        ("Trim", "sometimes"),
        ("RecordingChannels", "stereo"),
        ("RecordingTrack", "left"),
        ("RecordingStatusCallbackEvent", "in-progress done"),
        ("TimeLimit", "0"),
    ] {
        let form = [
            ("To", "+15005550006"),
            ("From", "+15005550100"),
            ("Twiml", "<Response/>"),
            ("Record", "true"),
            (name, value),
        ];
        let (status, body) =
            common::api(&t, &account, reqwest::Method::POST, "/Calls.json", &form).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (400, Some(20001)),
            "{name}: {body}"
        );
        assert!(body["message"].as_str().unwrap().contains(name), "{body}");
    }
    t.stop().await;
}

#[tokio::test]
async fn another_instance_sharing_redis_and_the_database_steers_a_live_call() {
    let (a, b) = TestApp::two_sharing_a_database().await;
    let app = AppServer::start().await;
    app.twiml("/hold", r#"<Response><Pause length="60"/></Response>"#);
    app.twiml("/second", r#"<Response><Pause length="60"/></Response>"#);
    let account = a.app.store.create_account("Acme", None).await.unwrap();
    // A runs the call on its media node; the API requests go to B.
    let sid = common::place(&a, &account, app.url("/hold")).await;
    eventually("the first document", || async {
        app.requests_to("/hold").pop()
    })
    .await;
    let path = format!("/Calls/{sid}.json");
    let second = app.url("/second");
    let (status, body) = common::api(
        &b,
        &account,
        reqwest::Method::POST,
        &path,
        &[("Url", &second)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let redirected = eventually("the redirect", || async {
        app.requests_to("/second").pop()
    })
    .await;
    assert_eq!(redirected.param("CallSid"), Some(sid.as_str()));
    common::hang_up(&b, &account, &sid).await;
    let done = finished(&b, &account, &sid).await;
    assert_eq!(done["status"], "completed", "{done}");
    // A row that says in-progress while no instance runs the call (its
    // instance died): the relay hears no answer, and the API says so.
    sqlx::query("UPDATE calls SET status = 'in-progress' WHERE sid = $1")
        .bind(&sid)
        .execute(a.app.store.pool())
        .await
        .unwrap();
    for t in [&a, &b] {
        let (status, body) = common::api(
            t,
            &account,
            reqwest::Method::POST,
            &path,
            &[("Url", &second)],
        )
        .await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (400, Some(21220)),
            "{body}"
        );
    }
    assert_eq!(app.requests_to("/second").len(), 1);
    b.stop().await;
    a.stop().await;
}
