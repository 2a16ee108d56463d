//! The API as a whole: its OpenAPI document (snapshot-tested so drift shows in
//! review) and tenant isolation on every endpoint it lists.

mod common;

use common::{Db, TestApp};
use serde_json::Value;
use switchboard::store::Account;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

#[tokio::test]
async fn the_openapi_document_matches_its_snapshot() {
    let t = TestApp::start(Db::Sqlite).await;
    let document: Value = t
        .http
        .get(t.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pretty = serde_json::to_string_pretty(&document).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &pretty).unwrap();
    }
    let expected =
        std::fs::read_to_string(SNAPSHOT).expect("run with UPDATE_SNAPSHOTS=1 to create it");
    assert!(
        pretty == expected,
        "the API changed: review it, then run with UPDATE_SNAPSHOTS=1"
    );
    t.stop().await;
}

/// One resource of each kind the API serves, owned by `account`.
async fn populate(t: &TestApp, account: &Account, n: u32) -> Vec<(&'static str, String)> {
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let request = t
            .http
            .post(t.url(&path))
            .basic_auth(&account.sid, Some(&account.auth_token))
            .form(&form);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 201, "{path}");
            response.json::<Value>().await.unwrap()["sid"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let base = format!("/2010-04-01/Accounts/{}", account.sid);
    let mut resources = vec![
        (
            "Applications",
            post(
                format!("{base}/Applications.json"),
                vec![("FriendlyName", "a".into())],
            )
            .await,
        ),
        (
            "IncomingPhoneNumbers",
            post(
                format!("{base}/IncomingPhoneNumbers.json"),
                vec![("PhoneNumber", format!("+1415555{n:04}"))],
            )
            .await,
        ),
        ("Keys", post(format!("{base}/Keys.json"), vec![]).await),
        (
            "Calls",
            post(
                format!("{base}/Calls.json"),
                vec![
                    ("To", "+15005550006".into()),
                    ("From", "+15005550100".into()),
                    ("Twiml", "<Response><Hangup/></Response>".into()),
                ],
            )
            .await,
        ),
        ("Notifications", notification(t, account).await),
        ("Recordings", recording(t, account).await),
    ];
    resources.extend(conference(t, account).await);
    resources.extend(queue(t, account).await);
    let sink = v1_post(
        t,
        account,
        "/v1/Sinks",
        &[
            ("Description", "a".into()),
            ("SinkType", "stream".into()),
            ("SinkConfiguration", "{}".into()),
        ],
    )
    .await;
    let subscription = v1_post(
        t,
        account,
        "/v1/Subscriptions",
        &[
            ("Description", "a".into()),
            ("SinkSid", sink.clone()),
            (
                "Types",
                r#"{"type": "call.completed", "schema_version": 1}"#.into(),
            ),
        ],
    )
    .await;
    resources.push(("Sinks", sink));
    resources.push(("Subscriptions", subscription));
    resources
}

/// A queue with a caller waiting in it.
async fn queue(t: &TestApp, account: &Account) -> [(&'static str, String); 2] {
    let base = format!("/2010-04-01/Accounts/{}", account.sid);
    let get = |path: String| {
        let request = t
            .http
            .get(t.url(&path))
            .basic_auth(&account.sid, Some(&account.auth_token));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let call = t
        .http
        .post(t.url(&format!("{base}/Calls.json")))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(&[
            ("To", "+15005550006"),
            ("From", "+15005550100"),
            ("Twiml", "<Response><Enqueue>support</Enqueue></Response>"),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let queue = common::eventually("the caller in the queue", || async {
        let queues = get(format!("{base}/Queues.json")).await;
        let sid = queues["queues"][0]["sid"].as_str()?.to_owned();
        let members = get(format!("{base}/Queues/{sid}/Members.json")).await;
        (members["queue_members"][0]["call_sid"] == call.as_str()).then_some(sid)
    })
    .await;
    [("Queues", queue), ("Members", call)]
}

/// A conference with one participant, as the call router records them.
async fn conference(t: &TestApp, account: &Account) -> [(&'static str, String); 2] {
    let sid = switchboard::sid::Sid::new(switchboard::sid::Kind::Conference).to_string();
    let call = switchboard::sid::Sid::new(switchboard::sid::Kind::Call).to_string();
    let store = &t.app.store;
    store
        .insert_conference(&sid, &account.sid, "Room", "us1")
        .await
        .unwrap();
    let participant = switchboard::store::Participant {
        call_sid: call.clone(),
        conference_sid: sid.clone(),
        account_sid: account.sid.clone(),
        label: None,
        muted: false,
        hold: false,
        start_conference_on_enter: true,
        end_conference_on_exit: false,
    };
    store.insert_participant(&participant).await.unwrap();
    [("Conferences", sid), ("Participants", call)]
}

async fn v1_post(t: &TestApp, account: &Account, path: &str, form: &[(&str, String)]) -> String {
    let response = t
        .http
        .post(t.url(path))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{path}");
    response.json::<Value>().await.unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn notification(t: &TestApp, account: &Account) -> String {
    let sid = switchboard::sid::Sid::new(switchboard::sid::Kind::Notification).to_string();
    let notification = switchboard::store::Notification {
        sid: sid.clone(),
        account_sid: account.sid.clone(),
        call_sid: None,
        error_code: "11200".into(),
        log: "0".into(),
        message_text: "HTTP retrieval failure".into(),
        more_info: "https://www.twilio.com/docs/errors/11200".into(),
        request_method: None,
        request_url: None,
        request_variables: None,
        response_body: None,
        date_created: switchboard::store::now_millis(),
    };
    t.app
        .store
        .insert_notification(&notification)
        .await
        .unwrap();
    sid
}

async fn recording(t: &TestApp, account: &Account) -> String {
    let sid = switchboard::sid::Sid::new(switchboard::sid::Kind::Recording).to_string();
    let now = switchboard::store::now_millis();
    let recording = switchboard::store::Recording {
        sid: sid.clone(),
        account_sid: account.sid.clone(),
        call_sid: "CA00000000000000000000000000000000".into(),
        status: "completed".into(),
        source: "RecordVerb".into(),
        channels: 1,
        duration: 1,
        file_path: "/nonexistent.wav".into(),
        start_time: now,
        date_created: now,
        date_updated: now,
    };
    t.app.store.insert_recording(&recording).await.unwrap();
    sid
}

/// Fills a documented path with an account and that account's resource of the path's kind.
fn fill(path: &str, account_sid: &str, resources: &[(&str, String)]) -> String {
    let mut filled = path.replace("{AccountSid}", account_sid);
    for (parent, kind) in [("{ConferenceSid}", "Conferences"), ("{QueueSid}", "Queues")] {
        if let Some((_, sid)) = resources.iter().find(|(k, _)| *k == kind) {
            filled = filled.replace(parent, sid);
        }
    }
    if let Some((_, sid)) = resources
        .iter()
        .find(|(kind, _)| path.contains(&format!("/{kind}/{{Sid}}")))
    {
        filled = filled.replace("{Sid}", sid);
    }
    filled
}

async fn request(t: &TestApp, verb: &str, path: &str, who: &Account) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(verb.to_uppercase().as_bytes()).unwrap();
    let response = t
        .http
        .request(method, t.url(path))
        .basic_auth(&who.sid, Some(&who.auth_token))
        .form(&[("FriendlyName", "intruder"), ("Description", "intruder")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn no_endpoint_lets_one_tenant_reach_anothers_resources(db: Db) {
    let t = TestApp::start(db).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let bob = t.app.store.create_account("Bob", None).await.unwrap();
    let alices = populate(&t, &alice, 1).await;
    let bobs = populate(&t, &bob, 2).await;
    let document: Value = t
        .http
        .get(t.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.contains("{AccountSid}") {
            continue;
        }
        for verb in item.as_object().unwrap().keys() {
            for (owner, owned, intruder) in [(&alice, &alices, &bob), (&bob, &bobs, &alice)] {
                // The owner's path, the intruder's credentials.
                let target = fill(path, &owner.sid, owned);
                let (status, body) = request(&t, verb, &target, intruder).await;
                assert_eq!(
                    (status, body["code"].as_u64()),
                    (404, Some(20404)),
                    "{verb} {target}"
                );
                // The intruder's own account path, the owner's resource.
                if path.contains("{Sid}") {
                    let target = fill(path, &intruder.sid, owned);
                    let (status, body) = request(&t, verb, &target, intruder).await;
                    assert_eq!(
                        (status, body["code"].as_u64()),
                        (404, Some(20404)),
                        "{verb} {target}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        2 * 46,
        "every documented endpoint under an account, both ways"
    );
    // The account-less /v1 endpoints act on the caller's own account: another
    // tenant's sink or subscription is not found, and never listed.
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for verb in item.as_object().unwrap().keys() {
            for (owned, intruder) in [(&alices, &bob), (&bobs, &alice)] {
                if path.contains("{Sid}") {
                    let target = fill(path, "", owned);
                    let (status, body) = request(&t, verb, &target, intruder).await;
                    assert_eq!(
                        (status, body["code"].as_u64()),
                        (404, Some(20404)),
                        "{verb} {target}"
                    );
                } else if verb == "get" && path.ends_with("/stream") {
                    let sink = &owned.iter().find(|(k, _)| *k == "Sinks").unwrap().1;
                    let target = format!("{path}?SinkSid={sink}");
                    let (status, _) = request(&t, verb, &target, intruder).await;
                    assert_eq!(status, 404, "{verb} {target}");
                } else if verb == "get" {
                    let (status, body) = request(&t, verb, path, intruder).await;
                    assert_eq!(status, 200, "{verb} {path}");
                    let listed = body.to_string();
                    for (_, sid) in owned.iter() {
                        assert!(!listed.contains(sid.as_str()), "{path} lists {sid}");
                    }
                } else {
                    continue; // a create acts on the caller's own account
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        2 * 10,
        "every /v1 endpoint but the creates, both ways"
    );
    // Nothing was changed or deleted by the attempts.
    for (owner, owned) in [(&alice, &alices), (&bob, &bobs)] {
        for (kind, sid) in owned {
            if matches!(*kind, "Recordings" | "Participants" | "Members") {
                continue; // its audio file is not there; the others' paths are their parents'
            }
            let path = if matches!(*kind, "Sinks" | "Subscriptions") {
                format!("/v1/{kind}/{sid}")
            } else {
                format!("/2010-04-01/Accounts/{}/{kind}/{sid}.json", owner.sid)
            };
            let (status, body) = request(&t, "get", &path, owner).await;
            assert_eq!(status, 200, "{path}");
            assert_ne!(body["friendly_name"], "intruder", "{path}");
            assert_ne!(body["description"], "intruder", "{path}");
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn no_endpoint_lets_one_tenant_reach_anothers_resources_on_sqlite() {
    no_endpoint_lets_one_tenant_reach_anothers_resources(Db::Sqlite).await;
}

#[tokio::test]
async fn no_endpoint_lets_one_tenant_reach_anothers_resources_on_postgres() {
    no_endpoint_lets_one_tenant_reach_anothers_resources(Db::Postgres).await;
}
