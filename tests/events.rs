//! The event router end to end: accounts subscribe (webhook sink, SSE
//! stream, WebSocket, the ESL event socket read by greenswitch and modesl),
//! calls run over the embedded virtual switch, and every subscriber sees
//! exactly its own calls' events, in order. A sink that is down gets
//! everything once it recovers, across a restart; one that stays down is
//! disabled with a notification.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, AppServer, Db, TestApp};
use futures::StreamExt;
use serde_json::Value;
use switchboard::store::Account;
use tokio::io::AsyncBufReadExt;

const ALL_TYPES: &[&str] = &[
    "call.initiated",
    "call.ringing",
    "call.answered",
    "call.completed",
    "call.rejected",
    "gather.completed",
    "recording.completed",
    "dial.completed",
    "notification.created",
];
const OUTBOUND: [&str; 4] = [
    "call.initiated",
    "call.ringing",
    "call.answered",
    "call.completed",
];
const INBOUND_GATHER: [&str; 4] = [
    "call.ringing",
    "call.answered",
    "gather.completed",
    "call.completed",
];

async fn v1(
    t: &TestApp,
    account: &Account,
    method: reqwest::Method,
    path: &str,
    form: &[(&str, String)],
) -> (u16, Value) {
    let response = t
        .http
        .request(method, t.url(path))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_sink(t: &TestApp, account: &Account, kind: &str, configuration: Value) -> String {
    let (status, body) = v1(
        t,
        account,
        reqwest::Method::POST,
        "/v1/Sinks",
        &[
            ("Description", format!("{kind} sink")),
            ("SinkType", kind.into()),
            ("SinkConfiguration", configuration.to_string()),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["sid"].as_str().unwrap().starts_with("DG"));
    assert_eq!(body["status"], "active");
    body["sid"].as_str().unwrap().to_owned()
}

async fn subscribe(t: &TestApp, account: &Account, sink: &str, types: &[&str]) -> String {
    let mut form = vec![
        ("Description", "everything".to_owned()),
        ("SinkSid", sink.to_owned()),
    ];
    for kind in types {
        form.push((
            "Types",
            serde_json::json!({"type": kind, "schema_version": 1}).to_string(),
        ));
    }
    let (status, body) = v1(
        t,
        account,
        reqwest::Method::POST,
        "/v1/Subscriptions",
        &form,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["sid"].as_str().unwrap().starts_with("DF"));
    body["sid"].as_str().unwrap().to_owned()
}

/// A webhook sink at `app`'s `path`, subscribed to every type.
async fn webhook_sink(t: &TestApp, account: &Account, app: &AppServer, path: &str) -> String {
    let sink = create_sink(
        t,
        account,
        "webhook",
        serde_json::json!({"destination": app.url(path), "method": "POST"}),
    )
    .await;
    subscribe(t, account, &sink, ALL_TYPES).await;
    sink
}

async fn place(t: &TestApp, account: &Account, to: &str, twiml: &str) -> String {
    let response = t
        .http
        .post(t.url(&format!("/2010-04-01/Accounts/{}/Calls.json", account.sid)))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(&[("To", to), ("From", "+15005550100"), ("Twiml", twiml)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["sid"].as_str().unwrap().to_owned()
}

/// What one subscriber has received: (call sid, event type) in arrival order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String)>>>);

impl Received {
    fn push(&self, call: &str, kind: &str) {
        self.0
            .lock()
            .unwrap()
            .push((call.to_owned(), kind.to_owned()));
    }

    fn push_cloudevent(&self, event: &Value) {
        self.push(
            event["callsid"].as_str().unwrap_or_default(),
            event["type"].as_str().unwrap(),
        );
    }

    /// Each call's event types, in the order received.
    fn by_call(&self) -> BTreeMap<String, Vec<String>> {
        let mut calls: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (call, kind) in self.0.lock().unwrap().iter() {
            calls.entry(call.clone()).or_default().push(kind.clone());
        }
        calls
    }
}

/// Who subscribes, what it has received so far, and what it must receive.
type Subscriber<'a> = (&'a str, Box<dyn Fn() -> Received + 'a>, &'a Calls);

/// Each call's event types, in order.
type Calls = BTreeMap<String, Vec<String>>;

fn expected(calls: &[(&str, &[&str])]) -> Calls {
    calls
        .iter()
        .map(|(call, kinds)| {
            (
                call.to_string(),
                kinds.iter().map(|k| k.to_string()).collect(),
            )
        })
        .collect()
}

/// Reads `GET /v1/Events/stream` as Server-Sent Events.
async fn sse(t: &TestApp, account: &Account, query: &str, last_id: Option<&str>) -> Received {
    let mut request = t
        .http
        .get(t.url(&format!("/v1/Events/stream{query}")))
        .basic_auth(&account.sid, Some(&account.auth_token));
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let received = Received::default();
    let sink = received.clone();
    tokio::spawn(async move {
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if let Ok(event) = serde_json::from_str::<Value>(&data) {
                    let id = block
                        .lines()
                        .find_map(|l| l.strip_prefix("id:"))
                        .map(str::trim);
                    assert_eq!(id, event["id"].as_str(), "the SSE id is the event id");
                    sink.push_cloudevent(&event);
                }
            }
        }
    });
    received
}

/// Reads the same stream over a WebSocket.
async fn websocket(t: &TestApp, account: &Account) -> Received {
    use base64::Engine;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/v1/Events/stream", t.addr)
        .into_client_request()
        .unwrap();
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", account.sid, account.auth_token));
    request.headers_mut().insert(
        "authorization",
        format!("Basic {credentials}").parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let received = Received::default();
    let sink = received.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                let event: Value = serde_json::from_str(&text).unwrap();
                sink.push_cloudevent(&event);
            }
        }
    });
    received
}

/// A third-party ESL client reading the event socket; events in `received`,
/// raw channel events' accounts in `channel_accounts`.
struct EslClient {
    received: Received,
    channel_accounts: Arc<Mutex<Vec<String>>>,
    _child: tokio::process::Child,
}

async fn esl_client(mut command: tokio::process::Command) -> EslClient {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the ESL client starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the ESL client subscribes")
        .unwrap();
    assert_eq!(first.as_deref(), Some("READY"));
    let received = Received::default();
    let channel_accounts = Arc::new(Mutex::new(Vec::new()));
    let (sink, accounts) = (received.clone(), channel_accounts.clone());
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let event: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
            let subclass = event["subclass"].as_str().unwrap_or_default();
            if let Some(kind) = subclass.strip_prefix("switchboard::") {
                assert_eq!(event["type"], kind);
                sink.push(event["call_sid"].as_str().unwrap_or_default(), kind);
            } else {
                accounts
                    .lock()
                    .unwrap()
                    .push(event["account_sid"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    EslClient {
        received,
        channel_accounts,
        _child: child,
    }
}

fn interop_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/events")
}

async fn greenswitch(t: &TestApp, account: &Account, event_command: &str) -> EslClient {
    let venv = std::env::var("VSWITCH_INTEROP_VENV").expect(
        "VSWITCH_INTEROP_VENV names the virtualenv with greenswitch (run `bash scripts/test`)",
    );
    let addr = t
        .app
        .events
        .socket_addr()
        .expect("the event socket listens");
    let mut command = tokio::process::Command::new(format!("{venv}/bin/python"));
    command
        .arg(interop_dir().join("greenswitch_events.py"))
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(format!("{}:{}", account.sid, account.auth_token))
        .arg(event_command);
    esl_client(command).await
}

async fn modesl(t: &TestApp, account: &Account, format: &str, names: &str) -> EslClient {
    let node = std::env::var("VSWITCH_INTEROP_NODE")
        .expect("VSWITCH_INTEROP_NODE names the npm prefix with modesl (run `bash scripts/test`)");
    let addr = t
        .app
        .events
        .socket_addr()
        .expect("the event socket listens");
    let mut command = tokio::process::Command::new("node");
    command
        .env("NODE_PATH", format!("{node}/node_modules"))
        .arg(interop_dir().join("modesl_events.js"))
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(format!("{}:{}", account.sid, account.auth_token))
        .arg(format)
        .arg(names);
    esl_client(command).await
}

/// The CloudEvents a webhook sink received with a 2xx answer, each checked
/// for Twilio's signature.
fn sink_deliveries(app: &AppServer, path: &str, account: &Account) -> Vec<Value> {
    let mut events = Vec::new();
    for request in app.requests_to(path) {
        let expected = switchboard::webhook::signature(&account.auth_token, &request.url, &[]);
        assert_eq!(request.signature.as_deref(), Some(expected.as_str()));
        if request.status / 100 != 2 {
            continue;
        }
        let batch: Vec<Value> = serde_json::from_str(&request.body).unwrap();
        events.extend(batch);
    }
    events
}

fn sink_received(app: &AppServer, path: &str, account: &Account) -> Received {
    let received = Received::default();
    for event in sink_deliveries(app, path, account) {
        assert_eq!(event["accountsid"], account.sid.as_str());
        received.push_cloudevent(&event);
    }
    received
}

async fn every_subscriber_receives_exactly_its_own_calls_events_in_order(db: Db) {
    let t = TestApp::start(db).await;
    let app = AppServer::start().await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let bob = t.app.store.create_account("Bob", None).await.unwrap();
    webhook_sink(&t, &alice, &app, "/alice-sink").await;
    webhook_sink(&t, &bob, &app, "/bob-sink").await;
    let alice_sse = sse(&t, &alice, "", None).await;
    let bob_sse = sse(&t, &bob, "", None).await;
    let alice_ws = websocket(&t, &alice).await;
    let bob_ws = websocket(&t, &bob).await;
    let alice_greenswitch = greenswitch(&t, &alice, "event plain ALL").await;
    let bob_greenswitch = greenswitch(&t, &bob, "event plain ALL").await;
    let subclasses: Vec<String> = ALL_TYPES
        .iter()
        .map(|k| format!("switchboard::{k}"))
        .collect();
    let alice_modesl = modesl(
        &t,
        &alice,
        "json",
        &format!("CUSTOM {} CHANNEL_ANSWER", subclasses.join(" ")),
    )
    .await;

    // Alice: one outbound call, one inbound call that gathers digits.
    let (status, _) = v1(
        &t,
        &alice,
        reqwest::Method::POST,
        &format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json",
            alice.sid
        ),
        &[
            ("PhoneNumber", "+14155550100".into()),
            ("VoiceUrl", app.url("/inbound")),
        ],
    )
    .await;
    assert_eq!(status, 201);
    app.twiml(
        "/inbound",
        r#"<Response><Gather numDigits="4" action="/digits" timeout="3"><Say>Code</Say></Gather></Response>"#,
    );
    app.twiml("/digits", "<Response><Hangup/></Response>");
    let alice_out = place(
        &t,
        &alice,
        "+15005550006",
        "<Response><Say>Hello</Say><Hangup/></Response>",
    )
    .await;
    t.inject("+14155559999", "+14155550100", "dtmf=1234@1s;hangup=60s");
    // Bob: one outbound call. And a call to a number nobody owns.
    let bob_out = place(
        &t,
        &bob,
        "+15005550006",
        "<Response><Pause length=\"1\"/><Hangup/></Response>",
    )
    .await;
    t.inject("+14155559999", "+14155550199", "hangup=60s");

    let alice_in = eventually("the inbound call's digits", || async {
        app.requests_to("/digits")
            .pop()
            .map(|r| r.param("CallSid").unwrap().to_owned())
    })
    .await;
    let alice_expected = expected(&[(&alice_out, &OUTBOUND), (&alice_in, &INBOUND_GATHER)]);
    let bob_expected = expected(&[(&bob_out, &OUTBOUND)]);

    let subscribers: Vec<Subscriber> = vec![
        (
            "Alice's webhook sink",
            Box::new(|| sink_received(&app, "/alice-sink", &alice)),
            &alice_expected,
        ),
        (
            "Bob's webhook sink",
            Box::new(|| sink_received(&app, "/bob-sink", &bob)),
            &bob_expected,
        ),
        (
            "Alice's SSE stream",
            Box::new(|| alice_sse.clone()),
            &alice_expected,
        ),
        (
            "Bob's SSE stream",
            Box::new(|| bob_sse.clone()),
            &bob_expected,
        ),
        (
            "Alice's WebSocket",
            Box::new(|| alice_ws.clone()),
            &alice_expected,
        ),
        (
            "Bob's WebSocket",
            Box::new(|| bob_ws.clone()),
            &bob_expected,
        ),
        (
            "Alice's greenswitch",
            Box::new(|| alice_greenswitch.received.clone()),
            &alice_expected,
        ),
        (
            "Bob's greenswitch",
            Box::new(|| bob_greenswitch.received.clone()),
            &bob_expected,
        ),
        (
            "Alice's modesl",
            Box::new(|| alice_modesl.received.clone()),
            &alice_expected,
        ),
    ];
    for (who, received, want) in &subscribers {
        eventually(who, || async {
            (received().by_call() == **want).then_some(())
        })
        .await;
    }
    // Nothing more arrives: no duplicates, no other tenant's events, no
    // event of the call nobody owns.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (who, received, want) in &subscribers {
        assert_eq!(&received().by_call(), *want, "{who}");
    }
    // The raw FreeSWITCH events on the event socket are the account's own too.
    for (client, account) in [
        (&alice_greenswitch, &alice),
        (&bob_greenswitch, &bob),
        (&alice_modesl, &alice),
    ] {
        let accounts = client.channel_accounts.lock().unwrap().clone();
        assert!(
            !accounts.is_empty(),
            "channel events reached {}",
            account.sid
        );
        assert!(accounts.iter().all(|a| *a == account.sid), "{accounts:?}");
    }
    // The rejected call is in the log, owned by nobody.
    let rejected: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE type = 'call.rejected' AND account_sid = ''",
    )
    .fetch_one(t.app.store.pool())
    .await
    .unwrap();
    assert_eq!(rejected, 1);
    t.stop().await;
}

#[tokio::test]
async fn every_subscriber_receives_exactly_its_own_calls_events_in_order_on_sqlite() {
    every_subscriber_receives_exactly_its_own_calls_events_in_order(Db::Sqlite).await;
}

#[tokio::test]
async fn every_subscriber_receives_exactly_its_own_calls_events_in_order_on_postgres() {
    every_subscriber_receives_exactly_its_own_calls_events_in_order(Db::Postgres).await;
}

fn quick_retries(db: Db) -> common::TestAppBuilder {
    TestApp::builder(db).configure(|config| {
        config.events.retry_max = Duration::from_millis(300);
    })
}

async fn a_sink_that_was_down_receives_everything_once_it_recovers_across_a_restart(db: Db) {
    let t = quick_retries(db).start().await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.answer("/sink", 503, "text/plain", "down for maintenance");
    webhook_sink(&t, &account, &app, "/sink").await;
    let first = place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    // The sink refused the first event a few times: it is waiting in the outbox.
    eventually("failed deliveries", || async {
        (app.requests_to("/sink").len() >= 3).then_some(())
    })
    .await;
    eventually("the call to end", || async {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE type = 'call.completed'")
                .fetch_one(t.app.store.pool())
                .await
                .unwrap();
        (n == 1).then_some(())
    })
    .await;
    // Switchboard restarts while the sink is still down.
    let t = t.restart().await;
    let second = place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink_deliveries(&app, "/sink", &account).is_empty());
    app.answer("/sink", 200, "text/plain", "");
    let want = expected(&[(&first, &OUTBOUND), (&second, &OUTBOUND)]);
    eventually("every event after recovery", || async {
        (sink_received(&app, "/sink", &account).by_call() == want).then_some(())
    })
    .await;
    // In publishing order, each once.
    let ids: Vec<i64> = sink_deliveries(&app, "/sink", &account)
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // A delivered request leaves the outbox once its answer is in: nothing stays.
    eventually("an empty outbox", || async {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(t.app.store.pool())
            .await
            .unwrap();
        (left == 0).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn a_sink_that_was_down_receives_everything_once_it_recovers_across_a_restart_on_sqlite() {
    a_sink_that_was_down_receives_everything_once_it_recovers_across_a_restart(Db::Sqlite).await;
}

#[tokio::test]
async fn a_sink_that_was_down_receives_everything_once_it_recovers_across_a_restart_on_postgres() {
    a_sink_that_was_down_receives_everything_once_it_recovers_across_a_restart(Db::Postgres).await;
}

async fn a_sink_that_keeps_failing_is_disabled_with_a_notification(db: Db) {
    let t = TestApp::builder(db)
        .configure(|config| {
            config.events.retry_max = Duration::from_millis(200);
            config.events.sink_disable_after = Duration::from_secs(1);
        })
        .start()
        .await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.answer("/sink", 500, "text/plain", "broken");
    let sink = webhook_sink(&t, &account, &app, "/sink").await;
    let notified = sse(&t, &account, "?Types=notification.created", None).await;
    place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    eventually("the sink to be disabled", || async {
        let (_, body) = v1(
            &t,
            &account,
            reqwest::Method::GET,
            &format!("/v1/Sinks/{sink}"),
            &[],
        )
        .await;
        (body["status"] == "failed").then_some(())
    })
    .await;
    let (_, notifications) = v1(
        &t,
        &account,
        reqwest::Method::GET,
        &format!("/2010-04-01/Accounts/{}/Notifications.json", account.sid),
        &[],
    )
    .await;
    let notification = notifications["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["error_code"] == "91300")
        .unwrap_or_else(|| panic!("{notifications}"))
        .clone();
    assert!(notification["message_text"]
        .as_str()
        .unwrap()
        .contains(&sink));
    eventually("notification.created on the stream", || async {
        (notified.by_call().get("").map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    // A disabled sink is not tried again.
    let tried = app.requests_to("/sink").len();
    place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.requests_to("/sink").len(), tried);
    t.stop().await;
}

#[tokio::test]
async fn a_sink_that_keeps_failing_is_disabled_with_a_notification_on_sqlite() {
    a_sink_that_keeps_failing_is_disabled_with_a_notification(Db::Sqlite).await;
}

#[tokio::test]
async fn a_sink_that_keeps_failing_is_disabled_with_a_notification_on_postgres() {
    a_sink_that_keeps_failing_is_disabled_with_a_notification(Db::Postgres).await;
}

#[tokio::test]
async fn a_stream_resumes_after_the_last_event_id() {
    let t = TestApp::start(Db::Sqlite).await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    let live = sse(&t, &account, "", None).await;
    let first = place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    let want_first = expected(&[(&first, &OUTBOUND)]);
    eventually("the first call's events", || async {
        (live.by_call() == want_first).then_some(())
    })
    .await;
    let last_id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM events")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    // Events published while the subscriber is away…
    let second = place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    eventually("the second call to end", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE call_sid = $1")
            .bind(&second)
            .fetch_one(t.app.store.pool())
            .await
            .unwrap();
        (n == 4).then_some(())
    })
    .await;
    // …are replayed on reconnect, then the stream goes on live.
    let resumed = sse(&t, &account, "", Some(&last_id.to_string())).await;
    let third = place(
        &t,
        &account,
        "+15005550006",
        "<Response><Hangup/></Response>",
    )
    .await;
    let want = expected(&[(&second, &OUTBOUND), (&third, &OUTBOUND)]);
    eventually("the replayed and live events", || async {
        (resumed.by_call() == want).then_some(())
    })
    .await;
    // Filters apply to the replay too.
    let answered = sse(&t, &account, "?Types=call.answered", Some("0")).await;
    let want = expected(&[
        (&first, &["call.answered"]),
        (&second, &["call.answered"]),
        (&third, &["call.answered"]),
    ]);
    eventually("only call.answered", || async {
        (answered.by_call() == want).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn a_status_callback_that_fails_is_retried_through_the_outbox() {
    let t = quick_retries(Db::Sqlite).start().await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    app.answer("/status", 503, "text/plain", "");
    let response = t
        .http
        .post(t.url(&format!("/2010-04-01/Accounts/{}/Calls.json", account.sid)))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(&[
            ("To", "+15005550006"),
            ("From", "+15005550100"),
            ("Twiml", "<Response><Hangup/></Response>"),
            ("StatusCallback", &app.url("/status")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    eventually("a refused callback", || async {
        (!app.requests_to("/status").is_empty()).then_some(())
    })
    .await;
    app.answer("/status", 200, "text/plain", "");
    let delivered = eventually("the callback, retried", || async {
        app.requests_to("/status")
            .into_iter()
            .find(|r| r.status == 200)
    })
    .await;
    assert_eq!(delivered.param("CallStatus"), Some("completed"));
    let expected =
        switchboard::webhook::signature(&account.auth_token, &delivered.url, &delivered.params);
    assert_eq!(delivered.signature.as_deref(), Some(expected.as_str()));
    t.stop().await;
}

#[tokio::test]
async fn sinks_and_subscriptions_refuse_bad_input_with_twilio_errors() {
    let t = TestApp::start(Db::Sqlite).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let bob = t.app.store.create_account("Bob", None).await.unwrap();
    let post = |account: &Account, path: &str, form: Vec<(&'static str, String)>| {
        let (t, account, path) = (&t, account.clone(), path.to_owned());
        async move { v1(t, &account, reqwest::Method::POST, &path, &form).await }
    };
    for (form, needle) in [
        (
            vec![
                ("Description", "x".to_owned()),
                ("SinkType", "kinesis".into()),
                ("SinkConfiguration", "{}".into()),
            ],
            "SinkType",
        ),
        (
            vec![
                ("Description", "x".to_owned()),
                ("SinkType", "webhook".into()),
                ("SinkConfiguration", r#"{"destination": "ftp://x"}"#.into()),
            ],
            "destination",
        ),
        (
            vec![
                ("Description", "x".to_owned()),
                ("SinkType", "webhook".into()),
                ("SinkConfiguration", "not json".into()),
            ],
            "SinkConfiguration",
        ),
        (
            vec![
                ("SinkType", "stream".to_owned()),
                ("SinkConfiguration", "{}".into()),
            ],
            "Description",
        ),
    ] {
        let (status, body) = post(&alice, "/v1/Sinks", form).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (400, Some(20001)),
            "{body}"
        );
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    let bobs = create_sink(&t, &bob, "stream", serde_json::json!({})).await;
    let alices = create_sink(&t, &alice, "stream", serde_json::json!({})).await;
    for (sink, types, needle) in [
        (bobs.clone(), r#"{"type": "call.answered"}"#, "SinkSid"),
        (alices.clone(), r#"{"type": "call.exploded"}"#, "Types"),
        (
            alices.clone(),
            r#"{"type": "call.answered", "schema_version": 9}"#,
            "schema_version",
        ),
    ] {
        let form = vec![
            ("Description", "x".to_owned()),
            ("SinkSid", sink),
            ("Types", types.to_owned()),
        ];
        let (status, body) = post(&alice, "/v1/Subscriptions", form).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (400, Some(20001)),
            "{body}"
        );
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    // A stream sink's subscriptions filter its stream; another's sink is not found.
    let subscription = subscribe(&t, &alice, &alices, &["call.completed"]).await;
    let (status, _) = v1(
        &t,
        &alice,
        reqwest::Method::DELETE,
        &format!("/v1/Sinks/{alices}"),
        &[],
    )
    .await;
    assert_eq!(status, 400, "a sink in use is not deleted");
    let response = t
        .http
        .get(t.url(&format!("/v1/Events/stream?SinkSid={bobs}")))
        .basic_auth(&alice.sid, Some(&alice.auth_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let stream = sse(&t, &alice, &format!("?SinkSid={alices}"), None).await;
    let call = place(&t, &alice, "+15005550006", "<Response><Hangup/></Response>").await;
    let want = expected(&[(&call, &["call.completed"])]);
    eventually("the sink's types only", || async {
        (stream.by_call() == want).then_some(())
    })
    .await;
    // Lists are the account's own, in Twilio's v1 envelope.
    let (_, sinks) = v1(
        &t,
        &alice,
        reqwest::Method::GET,
        "/v1/Sinks?InUse=true",
        &[],
    )
    .await;
    let listed: Vec<&str> = sinks["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [alices.as_str()]);
    assert_eq!(sinks["meta"]["key"], "sinks");
    let (_, types) = v1(&t, &alice, reqwest::Method::GET, "/v1/Types", &[]).await;
    assert_eq!(types["types"].as_array().unwrap().len(), 13);
    // A subscription, then its sink, are deleted; then they are gone.
    for path in [
        format!("/v1/Subscriptions/{subscription}"),
        format!("/v1/Sinks/{alices}"),
    ] {
        let (status, _) = v1(&t, &alice, reqwest::Method::DELETE, &path, &[]).await;
        assert_eq!(status, 204, "{path}");
        let (status, _) = v1(&t, &alice, reqwest::Method::GET, &path, &[]).await;
        assert_eq!(status, 404, "{path}");
    }
    // The event socket refuses a wrong token and closes.
    let addr = t.app.events.socket_addr().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(format!("auth {}:wrong\n\n", alice.sid).as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.contains("Reply-Text: -ERR invalid"), "{answer}");
    assert!(answer.contains("text/disconnect-notice"), "{answer}");
    // `userauth AccountSid@domain:AuthToken` works too; `event json` with a type name.
    let mut esl = tokio::net::TcpStream::connect(addr).await.unwrap();
    esl.write_all(
        format!(
            "userauth {}@default:{}\n\nevent json call.completed\n\n",
            alice.sid, alice.auth_token
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("+OK event listener enabled json") {
        let n = tokio::time::timeout(Duration::from_secs(5), esl.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("Reply-Text: +OK accepted"));
    let call = place(&t, &alice, "+15005550006", "<Response><Hangup/></Response>").await;
    let wanted = format!("\"variable_sb_call_sid\":\"{call}\"");
    while !String::from_utf8_lossy(&seen).contains(&wanted) {
        let n = tokio::time::timeout(Duration::from_secs(10), esl.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("Content-Type: text/event-json"), "{text}");
    assert!(
        text.contains("\"Event-Subclass\":\"switchboard::call.completed\""),
        "{text}"
    );
    assert!(!text.contains("switchboard::call.answered"), "{text}");
    t.stop().await;
}

#[tokio::test]
async fn each_verb_publishes_its_events_in_the_order_the_call_runs_them() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let account = t.app.store.create_account("Acme", None).await.unwrap();
    let events = sse(&t, &account, "", None).await;
    app.twiml(
        "/start",
        r#"<Response><Record maxLength="1" timeout="0" playBeep="false" trim="do-not-trim" action="/next"/></Response>"#,
    );
    app.twiml(
        "/next",
        r#"<Response><Dial timeLimit="1"><Number>+15005550006</Number></Dial><Play>missing.wav</Play><Enqueue waitUrl="/wait">support</Enqueue><Dial><Conference>room</Conference></Dial></Response>"#,
    );
    app.twiml("/wait", "<Response><Leave/></Response>");
    let response = t
        .http
        .post(t.url(&format!("/2010-04-01/Accounts/{}/Calls.json", account.sid)))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(&[
            // Answers and stays up until the API hangs up.
            ("To", "+15005550000"),
            ("From", "+15005550100"),
            ("Url", &app.url("/start")),
        ])
        .send()
        .await
        .unwrap();
    let call = response.json::<Value>().await.unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("the caller in the conference", || async {
        let calls = events.by_call();
        let kinds = calls.get(&call)?;
        kinds
            .contains(&"conference.participant.joined".to_owned())
            .then_some(())
    })
    .await;
    let response = t
        .http
        .post(t.url(&format!(
            "/2010-04-01/Accounts/{}/Calls/{call}.json",
            account.sid
        )))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(&[("Status", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let want = expected(&[(
        &call,
        &[
            "call.initiated",
            "call.ringing",
            "call.answered",
            "recording.completed",
            "dial.completed",
            "notification.created",
            "queue.member.joined",
            "queue.member.left",
            "conference.participant.joined",
            "conference.participant.left",
            "call.completed",
        ],
    )]);
    eventually("every verb's event", || async {
        (events.by_call() == want).then_some(())
    })
    .await;
    t.stop().await;
}
