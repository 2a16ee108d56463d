//! The origination rate over real HTTP: calls an account places beyond its
//! calls per second are answered at once as `queued` with their queue time,
//! placed in their turn, paced together by instances sharing Redis, can be
//! canceled while they wait, and survive the instance that queued them.

mod common;

use common::{api, eventually, finished, Db, TestApp};
use serde_json::Value;
use switchboard::store::Account;

const HANG_UP: &str = "<Response><Hangup/></Response>";

/// `POST …/Calls.json` to a far end that answers, with inline TwiML.
async fn place(t: &TestApp, account: &Account) -> Value {
    let form = [
        ("To", "+15005550006"),
        ("From", "+15005550100"),
        ("Twiml", HANG_UP),
    ];
    let (status, body) = api(t, account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "queued", "{body}");
    body
}

fn queue_time(call: &Value) -> i64 {
    call["queue_time"].as_str().unwrap().parse().unwrap()
}

async fn calls_over_the_rate_are_queued_and_placed_in_turn(db: Db) {
    let t = TestApp::start(db).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let bob = t.app.store.create_account("Bob", None).await.unwrap();
    t.app
        .pacer
        .set_calls_per_second(&alice.sid, 4)
        .await
        .unwrap();

    // Five at once: the first goes now, each other waits a quarter second more.
    let created = futures::future::join_all((0..5).map(|_| place(&t, &alice))).await;
    let mut expected: Vec<i64> = created.iter().map(queue_time).collect();
    expected.sort_unstable();
    assert_eq!(expected[0], 0, "{expected:?}");
    for (n, wait) in expected.iter().enumerate().skip(1) {
        let slot = 250 * i64::try_from(n).unwrap();
        assert!(
            (slot - 200..=slot).contains(wait),
            "call {n} waits for its slot at {slot} ms: {expected:?}"
        );
    }
    // Another account has its own rate: its call goes at once.
    let bobs = place(&t, &bob).await;
    assert_eq!(queue_time(&bobs), 0);
    // The read API shows each account's rate: Alice's own, Bob's the default.
    let (_, limits) = api(&t, &alice, reqwest::Method::GET, "/Limits.json", &[]).await;
    assert_eq!(limits["calls_per_second"], 4, "{limits}");
    let (_, limits) = api(&t, &bob, reqwest::Method::GET, "/Limits.json", &[]).await;
    assert_eq!(limits["calls_per_second"], 1, "{limits}");

    // Every call is placed and completes; each waited at least until its slot.
    let mut waited = Vec::new();
    for call in &created {
        let done = finished(&t, &alice, call["sid"].as_str().unwrap()).await;
        assert_eq!(done["status"], "completed", "{done}");
        waited.push(queue_time(&done));
    }
    waited.sort_unstable();
    for (n, (waited, expected)) in waited.iter().zip(&expected).enumerate() {
        assert!(
            waited >= expected,
            "call {n} was placed before its slot: waited {waited} ms of {expected}"
        );
    }
    let metrics = t.http.get(t.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("switchboard_calls_queued 0"), "{metrics}");
    assert!(
        metrics.contains("switchboard_call_queue_time_seconds_count 6"),
        "{metrics}"
    );
    t.stop().await;
}

#[tokio::test]
async fn calls_over_the_rate_are_queued_and_placed_in_turn_on_sqlite() {
    calls_over_the_rate_are_queued_and_placed_in_turn(Db::Sqlite).await;
}

#[tokio::test]
async fn calls_over_the_rate_are_queued_and_placed_in_turn_on_postgres() {
    calls_over_the_rate_are_queued_and_placed_in_turn(Db::Postgres).await;
}

#[tokio::test]
async fn a_queued_call_canceled_through_the_api_is_never_placed() {
    let t = TestApp::start(Db::Sqlite).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let first = place(&t, &alice).await;
    let second = place(&t, &alice).await;
    assert!(queue_time(&second) > 500, "{second}");
    let sid = second["sid"].as_str().unwrap();
    let (status, canceled) = api(
        &t,
        &alice,
        reqwest::Method::POST,
        &format!("/Calls/{sid}.json"),
        &[("Status", "canceled")],
    )
    .await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    finished(&t, &alice, first["sid"].as_str().unwrap()).await;
    // Past its slot, it is still canceled and was never given a channel.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let call = t.app.store.call(&alice.sid, sid).await.unwrap().unwrap();
    assert_eq!(call.status.as_str(), "canceled");
    assert_eq!(call.channel_uuid, None);
    t.stop().await;
}

/// The same account in a second instance's own database.
async fn copy_account(account: &Account, to: &TestApp) {
    sqlx::query(
        "INSERT INTO accounts (sid, owner_sid, friendly_name, status, type, auth_token, date_created, date_updated)
         VALUES ($1, NULL, 'Alice', 'active', 'Full', $2, 0, 0)",
    )
    .bind(&account.sid)
    .bind(&account.auth_token)
    .execute(to.app.store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn two_instances_sharing_redis_pace_an_account_together() {
    let a = TestApp::builder(Db::Sqlite).with_redis().start().await;
    let b = TestApp::builder(Db::Sqlite).with_redis().start().await;
    let alice = a.app.store.create_account("Alice", None).await.unwrap();
    copy_account(&alice, &b).await;
    for t in [&a, &b] {
        t.app
            .pacer
            .set_calls_per_second(&alice.sid, 2)
            .await
            .unwrap();
    }
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(place(&a, &alice).await);
        created.push(place(&b, &alice).await);
    }
    // One account, one rate: each call, whichever instance took it, waits
    // half a second more than the one before (less the time one request
    // takes). Paced apart, each instance's first call would go at once.
    let waits: Vec<i64> = created.iter().map(queue_time).collect();
    assert_eq!(waits[0], 0, "{waits:?}");
    for pair in waits.windows(2) {
        assert!(
            (200..=501).contains(&(pair[1] - pair[0])),
            "the next call's slot comes half a second later: {waits:?}"
        );
    }
    for (i, c) in created.iter().enumerate() {
        let t = if i % 2 == 0 { &a } else { &b };
        let done = finished(t, &alice, c["sid"].as_str().unwrap()).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    a.stop().await;
    b.stop().await;
}

/// A call another instance queued before it stopped: the row it left.
async fn orphan(t: &TestApp, account: &Account, instance: &str) -> String {
    let sid = format!("CA{}", switchboard::sid::new_secret());
    let now = switchboard::store::now_millis();
    sqlx::query(
        "INSERT INTO calls (sid, account_sid, direction, from_number, to_number, status, method,
             fallback_method, twiml, status_callback_method, status_callback_events, timeout_secs,
             date_created, date_updated, queue_time, queued_by)
         VALUES ($1, $2, 'outbound-api', '+15005550100', '+15005550006', 'queued', 'POST', 'POST',
             $3, 'POST', 'completed', 60, $4, $4, 3000, $5)",
    )
    .bind(&sid)
    .bind(&account.sid)
    .bind(HANG_UP)
    .bind(now)
    .bind(instance)
    .execute(t.app.store.pool())
    .await
    .unwrap();
    sid
}

async fn calls_queued_by_a_stopped_instance_are_resumed_or_failed(db: Db) {
    let t = TestApp::start(db).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let gone = t.app.store.create_account("Gone", None).await.unwrap();
    let queued = orphan(&t, &alice, "an-instance-that-stopped").await;
    let stranded = orphan(&t, &gone, "an-instance-that-stopped").await;
    sqlx::query("UPDATE accounts SET status = 'closed' WHERE sid = $1")
        .bind(&gone.sid)
        .execute(t.app.store.pool())
        .await
        .unwrap();
    // What every start does (without Redis an instance is alone with its
    // database). The start's own pass may still be running and take some of
    // them first: each call is adopted once either way, as checked below.
    assert!(t.app.pacer.adopt_orphans().await.unwrap() <= 2);
    let done = finished(&t, &alice, &queued).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The closed account's call ends failed, with a notification saying why.
    let failed = eventually("the stranded call to fail", || async {
        let call = t
            .app
            .store
            .call(&gone.sid, &stranded)
            .await
            .unwrap()
            .unwrap();
        (call.status.as_str() == "failed").then_some(call)
    })
    .await;
    assert!(failed.end_time.is_some());
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT error_code FROM notifications WHERE call_sid = $1")
            .bind(&stranded)
            .fetch_all(t.app.store.pool())
            .await
            .unwrap();
    assert_eq!(codes, ["13227"]);
    // Nothing is adopted twice.
    assert_eq!(t.app.pacer.adopt_orphans().await.unwrap(), 0);
    t.stop().await;
}

#[tokio::test]
async fn calls_queued_by_a_stopped_instance_are_resumed_or_failed_on_sqlite() {
    calls_queued_by_a_stopped_instance_are_resumed_or_failed(Db::Sqlite).await;
}

#[tokio::test]
async fn calls_queued_by_a_stopped_instance_are_resumed_or_failed_on_postgres() {
    calls_queued_by_a_stopped_instance_are_resumed_or_failed(Db::Postgres).await;
}
