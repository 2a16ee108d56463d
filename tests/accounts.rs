//! Accounts over real HTTP and SQL: Basic auth, Twilio's JSON shape, and
//! tenant isolation, on SQLite and on PostgreSQL.

mod common;

use common::{Db, TestApp};
use serde_json::Value;

async fn get(t: &TestApp, path: &str, user: &str, secret: &str) -> (u16, Value) {
    let response = t
        .http
        .get(t.url(path))
        .basic_auth(user, Some(secret))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_twilio_error(body: &Value, status: u16, code: u64) {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn an_account_is_fetched_with_its_own_credentials_only(db: Db) {
    let t = TestApp::start(db).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let bob = t.app.store.create_account("Bob", None).await.unwrap();
    let path = format!("/2010-04-01/Accounts/{}.json", alice.sid);

    let (status, body) = get(&t, &path, &alice.sid, &alice.auth_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sid"], alice.sid.as_str());
    assert_eq!(body["friendly_name"], "Alice");
    assert_eq!(body["status"], "active");
    assert_eq!(body["type"], "Full");
    assert_eq!(body["owner_account_sid"], alice.sid.as_str());
    assert_eq!(body["uri"], path);
    assert_eq!(
        body["subresource_uris"]["calls"],
        format!("/2010-04-01/Accounts/{}/Calls.json", alice.sid)
    );
    assert!(body["date_created"].as_str().unwrap().ends_with(" +0000"));

    let (status, body) = get(&t, &path, &alice.sid, "0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 401);
    assert_twilio_error(&body, 401, 20003);

    let (status, body) = get(&t, &path, "ACnobody", &alice.auth_token).await;
    assert_eq!(status, 401);
    assert_twilio_error(&body, 401, 20003);

    // Bob authenticates, but Alice's account is not his to see.
    let (status, body) = get(&t, &path, &bob.sid, &bob.auth_token).await;
    assert_eq!(status, 404);
    assert_twilio_error(&body, 404, 20404);
    assert_eq!(
        body["message"],
        format!("The requested resource {path} was not found")
    );
    t.stop().await;
}

#[tokio::test]
async fn an_account_is_fetched_with_its_own_credentials_only_on_sqlite() {
    an_account_is_fetched_with_its_own_credentials_only(Db::Sqlite).await;
}

#[tokio::test]
async fn an_account_is_fetched_with_its_own_credentials_only_on_postgres() {
    an_account_is_fetched_with_its_own_credentials_only(Db::Postgres).await;
}

async fn a_subaccount_never_sees_its_owner_or_siblings(db: Db) {
    let t = TestApp::start(db).await;
    let main = t.app.store.create_account("Main", None).await.unwrap();
    let sub1 = t
        .app
        .store
        .create_account("One", Some(&main.sid))
        .await
        .unwrap();
    let sub2 = t
        .app
        .store
        .create_account("Two", Some(&main.sid))
        .await
        .unwrap();
    let path = |sid: &str| format!("/2010-04-01/Accounts/{sid}.json");

    // The owner reaches its subaccount through the subaccount's own path.
    let (status, body) = get(&t, &path(&sub1.sid), &main.sid, &main.auth_token).await;
    assert_eq!(status, 200);
    assert_eq!(body["owner_account_sid"], main.sid.as_str());

    for other in [&main.sid, &sub2.sid] {
        let (status, body) = get(&t, &path(other), &sub1.sid, &sub1.auth_token).await;
        assert_eq!(status, 404, "{other}");
        assert_twilio_error(&body, 404, 20404);
    }
    t.stop().await;
}

#[tokio::test]
async fn a_subaccount_never_sees_its_owner_or_siblings_on_sqlite() {
    a_subaccount_never_sees_its_owner_or_siblings(Db::Sqlite).await;
}

#[tokio::test]
async fn a_subaccount_never_sees_its_owner_or_siblings_on_postgres() {
    a_subaccount_never_sees_its_owner_or_siblings(Db::Postgres).await;
}

#[tokio::test]
async fn an_api_key_authenticates_as_its_account() {
    let t = TestApp::start(Db::Sqlite).await;
    let main = t.app.store.create_account("Main", None).await.unwrap();
    let (key, secret) = t.app.store.create_api_key(&main.sid, "ci").await.unwrap();
    let path = format!("/2010-04-01/Accounts/{}.json", main.sid);

    let (status, body) = get(&t, &path, &key.sid, &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sid"], main.sid.as_str());

    let (status, body) = get(&t, &path, &key.sid, &main.auth_token).await;
    assert_eq!(status, 401);
    assert_twilio_error(&body, 401, 20003);
    t.stop().await;
}

#[tokio::test]
async fn a_request_without_credentials_is_asked_to_authenticate() {
    let t = TestApp::start(Db::Sqlite).await;
    let main = t.app.store.create_account("Main", None).await.unwrap();
    let response = t
        .http
        .get(t.url(&format!("/2010-04-01/Accounts/{}.json", main.sid)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"Twilio API\""
    );
    let request_id = response.headers()["twilio-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        request_id.starts_with("RQ") && request_id.len() == 34,
        "{request_id}"
    );
    assert_twilio_error(&response.json().await.unwrap(), 401, 20003);
    t.stop().await;
}
