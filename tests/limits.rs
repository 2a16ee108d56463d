//! API concurrency limits over real HTTP: slow clients hold requests in flight
//! (they send the headers and half a form body), the limiter admits an
//! account's threshold of them and refuses the rest with 429 / 20429, other
//! accounts are unaffected, and every counter returns to zero, also when
//! clients hang up mid-request.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{eventually, Db, TestApp};
use serde_json::Value;
use switchboard::limits::Threshold;
use switchboard::store::Account;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const BODY: &str = "FriendlyName=a+slow+client";

/// A response as read off the socket: status, lower-cased headers, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A POST whose body is half sent: in flight on the server until finished or dropped.
struct SlowPost {
    writer: OwnedWriteHalf,
    answer: JoinHandle<Answer>,
}

impl SlowPost {
    async fn start(t: &TestApp, account: &Account, resource: &str) -> SlowPost {
        let stream = TcpStream::connect(t.addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", account.sid, account.auth_token));
        let head = format!(
            "POST /2010-04-01/Accounts/{}/{resource}.json HTTP/1.1\r\nHost: {}\r\n\
             Authorization: Basic {credentials}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            account.sid,
            t.addr,
            BODY.len(),
            &BODY[..BODY.len() / 2],
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let answer = tokio::spawn(async move { read_answer(&mut reader).await });
        SlowPost { writer, answer }
    }

    /// Sends the rest of the body and reads the answer.
    async fn finish(mut self) -> Answer {
        self.writer
            .write_all(&BODY.as_bytes()[BODY.len() / 2..])
            .await
            .unwrap();
        self.answer.await.unwrap()
    }

    /// The client hangs up mid-request.
    fn hang_up(self) {
        self.answer.abort();
        drop(self.writer);
    }
}

async fn read_answer(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = reader.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed without answering");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = reader.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed mid-answer");
        buf.extend_from_slice(&chunk[..n]);
    }
    Answer {
        status,
        headers,
        body: String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap(),
    }
}

/// `GET …/Limits.json` of `account`: its list of resource types.
async fn limits_of(t: &TestApp, account: &Account) -> Vec<Value> {
    let response = t
        .http
        .get(t.url(&format!("/2010-04-01/Accounts/{}/Limits.json", account.sid)))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["account_sid"], account.sid.as_str());
    body["limits"].as_array().unwrap().clone()
}

async fn concurrent_slow_requests_never_exceed_the_threshold(db: Db) {
    let t = TestApp::start(db).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let bob = t.app.store.create_account("Bob", None).await.unwrap();
    let limits = &t.app.limits;
    let own = Threshold {
        concurrency: 3,
        queue_wait: Duration::ZERO,
    };
    limits
        .set_threshold(&alice.sid, "Keys:create", own)
        .await
        .unwrap();

    // Twenty of Alice's and ten of Bob's (default threshold 100), all at once.
    let alices =
        futures::future::join_all((0..20).map(|_| SlowPost::start(&t, &alice, "Keys"))).await;
    let bobs = futures::future::join_all((0..10).map(|_| SlowPost::start(&t, &bob, "Keys"))).await;

    // Alice's three in flight, her seventeen others answered; Bob's ten all in flight.
    eventually("the limiter to settle", || async {
        let answered = alices.iter().filter(|p| p.answer.is_finished()).count();
        let settled = answered == 17
            && limits.usage(&alice.sid, "Keys:create").current == 3
            && limits.usage(&bob.sid, "Keys:create").current == 10;
        settled.then_some(())
    })
    .await;
    assert!(bobs.iter().all(|p| !p.answer.is_finished()));
    // The read API shows the same counts and each account's threshold.
    for (account, current, threshold) in [(&alice, 3, 3), (&bob, 10, 100)] {
        let limits = limits_of(&t, account).await;
        let keys = limits
            .iter()
            .find(|l| l["resource_type"] == "Keys:create")
            .unwrap();
        assert_eq!(keys["concurrent_requests"], current, "{keys}");
        assert_eq!(keys["threshold"], threshold, "{keys}");
    }
    let (refused, mut held): (Vec<SlowPost>, Vec<SlowPost>) =
        alices.into_iter().partition(|p| p.answer.is_finished());
    for post in refused {
        let answer = post.answer.await.unwrap();
        assert_eq!(answer.status, 429, "{answer:?}");
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert_eq!(answer.header("twilio-concurrent-requests"), Some("3"));
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["code"], 20429);
        assert_eq!(body["status"], 429);
        assert_eq!(
            body["more_info"],
            "https://www.twilio.com/docs/errors/20429"
        );
    }

    // A client that hangs up mid-request frees its slot, and a new request takes it.
    held.pop().unwrap().hang_up();
    eventually("the hung-up request to be released", || async {
        (limits.usage(&alice.sid, "Keys:create").current == 2).then_some(())
    })
    .await;
    let admitted = t
        .http
        .post(t.url(&format!("/2010-04-01/Accounts/{}/Keys.json", alice.sid)))
        .basic_auth(&alice.sid, Some(&alice.auth_token))
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 201);
    assert_eq!(
        admitted.headers()["twilio-concurrent-requests"]
            .to_str()
            .unwrap(),
        "3"
    );

    for post in held.into_iter().chain(bobs) {
        assert_eq!(post.finish().await.status, 201);
    }
    eventually("every counter back to zero", || async {
        (limits.in_flight() == 0).then_some(())
    })
    .await;
    // The server's own high-water mark: Alice never had more than her threshold in flight.
    assert_eq!(limits.usage(&alice.sid, "Keys:create").max, 3);
    assert_eq!(limits.usage(&bob.sid, "Keys:create").max, 10);
    let metrics = t
        .http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchboard_api_concurrent_requests{resource=\"Keys:create\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_api_requests_impeded_total{resource=\"Keys:create\"} 17"),
        "{metrics}"
    );
    t.stop().await;
}

#[tokio::test]
async fn concurrent_slow_requests_never_exceed_the_threshold_on_sqlite() {
    concurrent_slow_requests_never_exceed_the_threshold(Db::Sqlite).await;
}

#[tokio::test]
async fn concurrent_slow_requests_never_exceed_the_threshold_on_postgres() {
    concurrent_slow_requests_never_exceed_the_threshold(Db::Postgres).await;
}

#[tokio::test]
async fn a_resource_type_configured_to_queue_holds_a_request_until_a_slot_frees() {
    let t = TestApp::start(Db::Sqlite).await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let queued = Threshold {
        concurrency: 1,
        queue_wait: Duration::from_secs(60),
    };
    t.app
        .limits
        .set_threshold(&alice.sid, "Applications:create", queued)
        .await
        .unwrap();
    let first = SlowPost::start(&t, &alice, "Applications").await;
    eventually("the first request in flight", || async {
        (t.app
            .limits
            .usage(&alice.sid, "Applications:create")
            .current
            == 1)
            .then_some(())
    })
    .await;
    let second = SlowPost::start(&t, &alice, "Applications").await;
    // The second waits in the queue until the first is done.
    let finished = first.finish().await;
    assert_eq!(finished.status, 201, "{finished:?}");
    let second = second.finish().await;
    assert_eq!(second.status, 201, "{second:?}");
    assert_eq!(second.header("twilio-concurrent-requests"), Some("1"));
    let usage = t.app.limits.usage(&alice.sid, "Applications:create");
    assert_eq!((usage.current, usage.max), (0, 1));
    t.stop().await;
}

/// Starts `n` slow POSTs of `account` to `Keys` on each of `instances`.
async fn slow_posts(instances: &[&TestApp], account: &Account, n: usize) -> Vec<SlowPost> {
    let mut posts = Vec::new();
    for t in instances {
        for _ in 0..n {
            posts.push(SlowPost::start(t, account, "Keys").await);
        }
    }
    posts
}

async fn redis() -> redis::aio::ConnectionManager {
    let client = redis::Client::open(common::redis_url()).unwrap();
    redis::aio::ConnectionManager::new(client).await.unwrap()
}

#[tokio::test]
async fn two_instances_sharing_redis_admit_one_threshold_between_them() {
    let a = TestApp::builder(Db::Sqlite).with_redis().start().await;
    let b = TestApp::builder(Db::Sqlite).with_redis().start().await;
    // Each test instance has its own database: the same account and threshold go in both.
    let alice = a.app.store.create_account("Alice", None).await.unwrap();
    sqlx::query(
        "INSERT INTO accounts (sid, owner_sid, friendly_name, status, type, auth_token, date_created, date_updated)
         VALUES ($1, NULL, 'Alice', 'active', 'Full', $2, 0, 0)",
    )
    .bind(&alice.sid)
    .bind(&alice.auth_token)
    .execute(b.app.store.pool())
    .await
    .unwrap();
    let own = Threshold {
        concurrency: 3,
        queue_wait: Duration::ZERO,
    };
    for t in [&a, &b] {
        t.app
            .limits
            .set_threshold(&alice.sid, "Keys:create", own)
            .await
            .unwrap();
    }
    let posts = slow_posts(&[&a, &b], &alice, 10).await;
    eventually("three in flight across both instances", || async {
        let answered = posts.iter().filter(|p| p.answer.is_finished()).count();
        let usage = a
            .app
            .limits
            .shared_usage(&alice.sid, "Keys:create")
            .await
            .unwrap();
        (answered == 17 && usage.current == 3).then_some(())
    })
    .await;
    // Either instance's read API shows the shared count.
    let limits = limits_of(&b, &alice).await;
    let keys = limits
        .iter()
        .find(|l| l["resource_type"] == "Keys:create")
        .unwrap();
    assert_eq!(keys["concurrent_requests"], 3, "{keys}");
    let (refused, held): (Vec<SlowPost>, Vec<SlowPost>) =
        posts.into_iter().partition(|p| p.answer.is_finished());
    for post in refused {
        let answer = post.answer.await.unwrap();
        assert_eq!(answer.status, 429, "{answer:?}");
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["code"], 20429);
    }
    for post in held {
        assert_eq!(post.finish().await.status, 201);
    }
    eventually("the shared counter back to zero", || async {
        let usage = b
            .app
            .limits
            .shared_usage(&alice.sid, "Keys:create")
            .await
            .unwrap();
        (usage.current == 0 && a.app.limits.in_flight() == 0 && b.app.limits.in_flight() == 0)
            .then_some(usage)
    })
    .await;
    let usage = b
        .app
        .limits
        .shared_usage(&alice.sid, "Keys:create")
        .await
        .unwrap();
    assert_eq!(
        usage.max, 3,
        "the most in flight at once, as Redis counted it"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_crashed_instances_requests_stop_counting_when_its_lease_expires() {
    let t = TestApp::builder(Db::Sqlite).with_redis().start().await;
    let alice = t.app.store.create_account("Alice", None).await.unwrap();
    let own = Threshold {
        concurrency: 3,
        queue_wait: Duration::ZERO,
    };
    t.app
        .limits
        .set_threshold(&alice.sid, "Keys:create", own)
        .await
        .unwrap();
    // What a killed instance leaves behind: its three requests in the shared
    // counter, and a lease nobody renews.
    let dead = switchboard::sid::new_secret();
    let mut conn = redis().await;
    let counter = format!("switchboard:limits:{}:Keys:create", alice.sid);
    let lease = format!("{}{dead}", switchboard::limits::shared::lease_prefix());
    redis::pipe()
        .hset(&counter, &dead, 3)
        .ignore()
        .cmd("SET")
        .arg(&lease)
        .arg(1)
        .arg("PX")
        .arg(1000)
        .ignore()
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let post = || {
        t.http
            .post(t.url(&format!("/2010-04-01/Accounts/{}/Keys.json", alice.sid)))
            .basic_auth(&alice.sid, Some(&alice.auth_token))
            .send()
    };
    let refused = post().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["twilio-concurrent-requests"], "3");
    let admitted = eventually("the dead instance's lease to expire", || async {
        let response = post().await.unwrap();
        (response.status() == 201).then_some(response)
    })
    .await;
    assert_eq!(admitted.headers()["twilio-concurrent-requests"], "1");
    let remaining: bool = redis::cmd("HEXISTS")
        .arg(&counter)
        .arg(&dead)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!remaining, "the dead instance's field is dropped");
    t.stop().await;
}

/// A limiter sharing its counters through the test Redis, with a lease so
/// long that no refresh rewrites the counts while the test runs: whatever
/// reaches zero got there by its releases alone.
async fn shared_limiter(dir: &std::path::Path) -> std::sync::Arc<switchboard::limits::Limiter> {
    shared_limiter_keeping_spare(dir, None).await
}

/// The same, keeping unused spare slots for `window` if given (so that a
/// test's exact grants do not depend on how fast the machine runs it).
async fn shared_limiter_keeping_spare(
    dir: &std::path::Path,
    window: Option<Duration>,
) -> std::sync::Arc<switchboard::limits::Limiter> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let store = switchboard::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let limiter = switchboard::limits::Limiter::new(
        store,
        100,
        &switchboard::api::endpoints(),
        &switchboard::metrics::Metrics::new(),
    )
    .with_redis(redis().await, Duration::from_secs(600))
    .await
    .unwrap();
    let limiter = match window {
        Some(window) => limiter.with_spare_window(window),
        None => limiter,
    };
    let limiter = std::sync::Arc::new(limiter);
    limiter.start();
    limiter
}

/// This instance's fields of a counter in Redis: (slots reserved, requests in flight published).
async fn fields_of(
    conn: &mut redis::aio::ConnectionManager,
    account: &str,
    resource_type: &str,
) -> (HashMap<String, i64>, HashMap<String, i64>) {
    let counter = format!("switchboard:limits:{account}:{resource_type}");
    let reserved = redis::cmd("HGETALL")
        .arg(&counter)
        .query_async(conn)
        .await
        .unwrap();
    let busy = redis::cmd("HGETALL")
        .arg(format!("{counter}:busy"))
        .query_async(conn)
        .await
        .unwrap();
    (reserved, busy)
}

#[tokio::test]
async fn every_slot_goes_back_to_redis_without_a_lease_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let limiter = shared_limiter(dir.path()).await;
    let account = format!("AC{}", switchboard::sid::new_secret());
    let threshold = Threshold {
        concurrency: 5,
        queue_wait: Duration::from_secs(10),
    };
    // Two hundred requests through five slots, queuing for each other.
    let requests = (0..200).map(|i| {
        let limiter = limiter.clone();
        let account = account.clone();
        tokio::spawn(async move {
            let guard = limiter
                .acquire(&account, "Calls:read", threshold, None)
                .await
                .expect("admitted within the queue wait");
            assert!(guard.current <= 5, "{}", guard.current);
            if i % 3 == 0 {
                tokio::task::yield_now().await;
            }
            if i % 7 == 0 {
                panic!("a handler fails while holding its slot");
            }
        })
    });
    let outcomes = futures::future::join_all(requests).await;
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 29);
    let usage = eventually("every request finished", || async {
        let usage = limiter.shared_usage(&account, "Calls:read").await.unwrap();
        (usage.current == 0).then_some(usage)
    })
    .await;
    assert_eq!(usage.max, 5, "never more than the threshold at once");
    // The slots reserved go back once the counter idles: nothing is left behind.
    let conn = redis().await;
    let fields = eventually("every slot given back", || async {
        let fields = fields_of(&mut conn.clone(), &account, "Calls:read").await;
        (fields.0.is_empty() && fields.1.is_empty()).then_some(fields)
    })
    .await;
    assert_eq!(fields, Default::default());
    assert_eq!(limiter.reserved(&account, "Calls:read"), 0);
    let shared = limiter
        .shared()
        .unwrap()
        .usage(&account, "Calls:read")
        .await
        .unwrap();
    assert_eq!(
        shared.max_reserved, 5,
        "never more than the threshold reserved"
    );
    assert_eq!(limiter.in_flight(), 0);
    limiter.shutdown().await;
}

#[tokio::test]
async fn an_admission_carries_this_instances_releases_and_sees_them_applied() {
    let dir = tempfile::tempdir().unwrap();
    let limiter = shared_limiter(dir.path()).await;
    let account = format!("AC{}", switchboard::sid::new_secret());
    let one = Threshold {
        concurrency: 1,
        queue_wait: Duration::ZERO,
    };
    // One slot, taken and given back in turn: each admission must find the
    // previous release already applied, whether it rode along or not.
    for _ in 0..50 {
        let guard = limiter
            .acquire(&account, "Calls:create", one, None)
            .await
            .expect("the previous request's slot is free");
        assert_eq!(guard.current, 1);
    }
    limiter.shutdown().await;
    let mut conn = redis().await;
    let left: Option<i64> = redis::cmd("HGET")
        .arg(format!("switchboard:limits:{account}:Calls:create"))
        .arg(limiter.instance())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, None);
}

fn threshold(concurrency: u32) -> Threshold {
    Threshold {
        concurrency,
        queue_wait: Duration::ZERO,
    }
}

#[tokio::test]
async fn requests_within_this_instances_reservation_cost_no_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let limiter = shared_limiter_keeping_spare(dir.path(), Some(Duration::from_secs(3600))).await;
    let shared = limiter.shared().unwrap().clone();
    let account = format!("AC{}", switchboard::sid::new_secret());
    let before = shared.reservations_asked();
    // A thousand requests one after the other: the first reserves a grant,
    // the spare it keeps admits every other one here.
    for _ in 0..1000 {
        let guard = limiter
            .acquire(&account, "Calls:read", threshold(100), None)
            .await
            .unwrap();
        assert_eq!(guard.current, 1);
    }
    assert_eq!(shared.reservations_asked() - before, 1);
    let max_grant = switchboard::limits::shared::MAX_GRANT;
    assert_eq!(limiter.reserved(&account, "Calls:read"), max_grant);
    // Twenty-four at a time: beyond the sixteen reserved, a few more grants,
    // then local again.
    let before = shared.reservations_asked();
    let tasks = (0..24).map(|_| {
        let limiter = limiter.clone();
        let account = account.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                let guard = limiter
                    .acquire(&account, "Calls:read", threshold(100), None)
                    .await
                    .unwrap();
                assert!(guard.current <= 24, "{}", guard.current);
                tokio::task::yield_now().await;
            }
        })
    });
    for task in futures::future::join_all(tasks).await {
        task.unwrap();
    }
    let asked = shared.reservations_asked() - before;
    assert!(
        (1..=8).contains(&asked),
        "2400 requests, {asked} round trips"
    );
    // Redis holds at least what this instance admits into (slots given back
    // may still be on their way), and the read API shows what is in flight,
    // not what is reserved.
    let mut conn = redis().await;
    let (reserved, _) = fields_of(&mut conn, &account, "Calls:read").await;
    let in_redis = reserved.get(limiter.instance()).copied().unwrap_or(0);
    let held = limiter.reserved(&account, "Calls:read");
    assert!(
        in_redis >= i64::from(held),
        "{in_redis} in Redis, {held} here"
    );
    let usage = limiter.shared_usage(&account, "Calls:read").await.unwrap();
    assert_eq!(usage.current, 0);
    limiter.shutdown().await;
    let (reserved, busy) = fields_of(&mut conn, &account, "Calls:read").await;
    assert!(
        reserved.is_empty() && busy.is_empty(),
        "{reserved:?} {busy:?}"
    );
}

#[tokio::test]
async fn grants_shrink_to_one_slot_as_the_threshold_nears() {
    let dir = tempfile::tempdir().unwrap();
    let a = shared_limiter_keeping_spare(dir.path(), Some(Duration::from_secs(3600))).await;
    let account = format!("AC{}", switchboard::sid::new_secret());
    let shared = a.shared().unwrap().clone();
    // Ten slots, one instance: grants of half the headroom, then one at a time.
    let mut held = Vec::new();
    let mut reserved = Vec::new();
    let mut asked = Vec::new();
    for _ in 0..10 {
        let before = shared.reservations_asked();
        held.push(
            a.acquire(&account, "Calls:create", threshold(10), None)
                .await
                .unwrap(),
        );
        reserved.push(a.reserved(&account, "Calls:create"));
        asked.push(shared.reservations_asked() - before);
    }
    assert_eq!(reserved, [5, 5, 5, 5, 5, 7, 7, 8, 9, 10]);
    assert_eq!(asked, [1, 0, 0, 0, 0, 1, 0, 1, 1, 1]);
    // The eleventh is refused here, without asking Redis.
    let before = shared.reservations_asked();
    assert!(a
        .acquire(&account, "Calls:create", threshold(10), None)
        .await
        .is_err());
    assert_eq!(shared.reservations_asked(), before);
    // A second instance finds no headroom: refused by Redis, one round trip.
    let dir_b = tempfile::tempdir().unwrap();
    let b = shared_limiter_keeping_spare(dir_b.path(), Some(Duration::from_secs(3600))).await;
    let Err(switchboard::limits::Refused::Concurrency(impeded)) = b
        .acquire(&account, "Calls:create", threshold(10), None)
        .await
    else {
        panic!("the threshold is reserved by the first instance");
    };
    assert_eq!((impeded.current, impeded.threshold), (10, 10));
    // Four finish on the first instance: it keeps one grant's worth (one
    // slot) and gives three back at once, which the second may reserve, one
    // live instance's share at a time: 3 / (2 × 2) rounds down, to one slot.
    held.truncate(6);
    assert_eq!(a.reserved(&account, "Calls:create"), 7);
    let first = eventually("the second instance's grant", || async {
        b.acquire(&account, "Calls:create", threshold(10), None)
            .await
            .ok()
    })
    .await;
    assert_eq!(b.reserved(&account, "Calls:create"), 1);
    drop((first, held));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn spare_slots_go_back_beyond_one_grant_at_once_and_entirely_once_unused() {
    let dir = tempfile::tempdir().unwrap();
    let limiter = shared_limiter(dir.path()).await;
    let account = format!("AC{}", switchboard::sid::new_secret());
    let max_grant = switchboard::limits::shared::MAX_GRANT;
    // Twenty at once: two grants of sixteen.
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(
            limiter
                .acquire(&account, "Calls:read", threshold(100), None)
                .await
                .unwrap(),
        );
    }
    assert_eq!(limiter.reserved(&account, "Calls:read"), 2 * max_grant);
    // Nineteen finish: thirty-one spare, of which fifteen go back at once
    // and sixteen serve what comes next.
    let last = held.pop().unwrap();
    held.clear();
    assert_eq!(limiter.reserved(&account, "Calls:read"), 1 + max_grant);
    // Unused for a while, the spare goes back too, though a request is
    // still in flight: Redis holds just its slot.
    let conn = redis().await;
    let instance = limiter.instance().to_owned();
    eventually("the unused spare given back", || async {
        let (reserved, busy) = fields_of(&mut conn.clone(), &account, "Calls:read").await;
        (reserved.get(&instance) == Some(&1) && busy.get(&instance) == Some(&1)).then_some(())
    })
    .await;
    assert_eq!(limiter.reserved(&account, "Calls:read"), 1);
    // Idle, the counter holds nothing: another instance could have it all.
    drop(last);
    eventually("every slot given back", || async {
        let (reserved, busy) = fields_of(&mut conn.clone(), &account, "Calls:read").await;
        (reserved.is_empty() && busy.is_empty()).then_some(())
    })
    .await;
    assert_eq!(limiter.reserved(&account, "Calls:read"), 0);
    limiter.shutdown().await;
}

#[tokio::test]
async fn two_instances_under_load_never_exceed_a_small_threshold_between_them() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = shared_limiter(dir_a.path()).await;
    let b = shared_limiter(dir_b.path()).await;
    let account = format!("AC{}", switchboard::sid::new_secret());
    // Counted by the requests themselves, between admission and release.
    let in_flight = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let tasks = (0..16).map(|i| {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (account, in_flight, peak) = (account.clone(), in_flight.clone(), peak.clone());
        tokio::spawn(async move {
            let (mut admitted, mut refused) = (0, 0);
            for n in 0..150 {
                let queued = Threshold {
                    concurrency: 5,
                    queue_wait: Duration::from_millis(if n % 2 == 0 { 0 } else { 200 }),
                };
                match limiter.acquire(&account, "Calls:read", queued, None).await {
                    Ok(guard) => {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        assert!(now <= 5, "{now} in flight");
                        tokio::time::sleep(Duration::from_micros(200)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                        admitted += 1;
                    }
                    Err(_) => refused += 1,
                }
            }
            (admitted, refused)
        })
    });
    let outcomes: Vec<(u32, u32)> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let admitted: u32 = outcomes.iter().map(|o| o.0).sum();
    let refused: u32 = outcomes.iter().map(|o| o.1).sum();
    assert_eq!(admitted + refused, 16 * 150);
    assert!(
        admitted > 0 && refused > 0,
        "{admitted} admitted, {refused} refused"
    );
    assert!(peak.load(Ordering::SeqCst) <= 5);
    // Redis's own bound: never more than five reserved across both.
    let shared = a
        .shared()
        .unwrap()
        .usage(&account, "Calls:read")
        .await
        .unwrap();
    assert!(shared.max_reserved <= 5, "{shared:?}");
    assert!(shared.max <= 5, "{shared:?}");
    let conn = redis().await;
    eventually("both instances idle hold nothing", || async {
        let (reserved, busy) = fields_of(&mut conn.clone(), &account, "Calls:read").await;
        (reserved.is_empty() && busy.is_empty()).then_some(())
    })
    .await;
    assert_eq!(a.in_flight() + b.in_flight(), 0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_reservation_whose_request_went_away_mid_round_trip_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = switchboard::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    // A short lease: the refresh that rewrites uncertain fields runs every 300 ms.
    let limiter = switchboard::limits::Limiter::new(
        store,
        100,
        &switchboard::api::endpoints(),
        &switchboard::metrics::Metrics::new(),
    )
    .with_redis(redis().await, Duration::from_millis(900))
    .await
    .unwrap();
    let limiter = Arc::new(limiter);
    limiter.start();
    let conn = redis().await;
    let instance = limiter.instance().to_owned();
    // A request's future is polled until its reservation is on the wire,
    // and dropped before the answer, as axum drops a handler whose client
    // left; tried again should the request not have left yet.
    let mut account = String::new();
    for _ in 0..20 {
        account = format!("AC{}", switchboard::sid::new_secret());
        let mut request = Box::pin(limiter.acquire(&account, "Calls:create", threshold(3), None));
        assert!(futures::poll!(&mut request).is_pending());
        tokio::task::yield_now().await;
        assert!(futures::poll!(&mut request).is_pending());
        drop(request);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (reserved, _) = fields_of(&mut conn.clone(), &account, "Calls:create").await;
        if reserved.contains_key(&instance) {
            break;
        }
    }
    let (reserved, _) = fields_of(&mut conn.clone(), &account, "Calls:create").await;
    assert_eq!(reserved.get(&instance), Some(&1), "a grant reached Redis");
    assert_eq!(limiter.reserved(&account, "Calls:create"), 0);
    // Redis granted a slot nobody here knows of, until the refresh rewrites it.
    eventually("the lost grant rewritten", || async {
        let (reserved, _) = fields_of(&mut conn.clone(), &account, "Calls:create").await;
        (!reserved.contains_key(&instance)).then_some(())
    })
    .await;
    assert_eq!(limiter.reserved(&account, "Calls:create"), 0);
    // All three slots are there to take.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            limiter
                .acquire(&account, "Calls:create", threshold(3), None)
                .await
                .unwrap(),
        );
    }
    drop(held);
    limiter.shutdown().await;
}
