//! Limits across real Switchboard processes (the built binary) sharing one
//! database and one Redis: an instance killed mid-load leaves its peer's
//! admissions alone and its own counts stop counting when its lease expires;
//! a credential's request rate is refused over HTTP with 429 / 20429 and
//! `Retry-After`, and shared by the instances; calls waiting for their
//! origination slot survive the instance that queued them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use common::{eventually, Db};
use serde_json::Value;
use switchboard::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// One `switchboard serve` process.
struct Instance {
    addr: String,
    child: Child,
}

impl Instance {
    fn start(data_dir: &std::path::Path, env: &[(&str, String)]) -> Instance {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHBOARD_DATA_DIR", data_dir)
            .env("SWITCHBOARD_LISTEN", "127.0.0.1:0")
            // Several instances run at once: each its own event socket port.
            .env("SWITCHBOARD_EVENT_SOCKET", "127.0.0.1:0")
            .env("SWITCHBOARD_VSWITCH_SPEED", "20");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = stderr
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = line.split("listen=").nth(1)?;
                Some(rest.split_whitespace().next()?.to_owned())
            })
            .expect("serve logs the address it listens on");
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || stderr.for_each(drop));
        Instance { addr, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGKILL: no shutdown, no release, no lease ended.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // A failing test must not leave servers behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The credentials the first start wrote: (AccountSid, AuthToken).
fn credentials(data_dir: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(data_dir.join("credentials")).unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .to_owned()
    };
    (value("AccountSid="), value("AuthToken="))
}

/// A database two processes share: a SQLite file or a fresh PostgreSQL database.
struct Database {
    url: String,
    postgres: Option<String>,
    _dir: tempfile::TempDir,
}

impl Database {
    async fn new(db: Db) -> Database {
        let dir = tempfile::tempdir().unwrap();
        match db {
            Db::Sqlite => Database {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("shared.db").display()
                ),
                postgres: None,
                _dir: dir,
            },
            Db::Postgres => {
                let name = format!("sb_test_{}", switchboard::sid::new_secret());
                let admin = Store::connect(&common::postgres_url()).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(admin.pool())
                    .await
                    .unwrap();
                admin.close().await;
                let mut url = url::Url::parse(&common::postgres_url()).unwrap();
                url.set_path(&name);
                Database {
                    url: url.to_string(),
                    postgres: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    async fn store(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }

    async fn drop_it(self) {
        if let Some(name) = &self.postgres {
            let admin = Store::connect(&common::postgres_url()).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(admin.pool())
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// Instances over one database (and Redis, when given), each with its own data directory.
struct Cluster {
    db: Database,
    dirs: Vec<tempfile::TempDir>,
    env: Vec<(&'static str, String)>,
    account: (String, String),
}

impl Cluster {
    /// Starts the first instance, which creates the main account.
    async fn start(db: Db, env: &[(&'static str, &str)]) -> (Cluster, Instance) {
        switchboard::webhook::install_tls_provider();
        let db = Database::new(db).await;
        let mut env: Vec<(&'static str, String)> =
            env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        env.push(("SWITCHBOARD_DATABASE_URL", db.url.clone()));
        let dir = tempfile::tempdir().unwrap();
        let first = Instance::start(dir.path(), &env);
        let account = credentials(dir.path());
        let cluster = Cluster {
            db,
            dirs: vec![dir],
            env,
            account,
        };
        (cluster, first)
    }

    fn another(&mut self) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let instance = Instance::start(dir.path(), &self.env);
        self.dirs.push(dir);
        instance
    }

    /// An instance on the first instance's data directory: a restart.
    fn restart_first(&self) -> Instance {
        Instance::start(self.dirs[0].path(), &self.env)
    }

    fn sid(&self) -> &str {
        &self.account.0
    }

    fn basic(&self) -> String {
        let (sid, token) = &self.account;
        base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"))
    }

    async fn set_threshold(&self, resource_type: &str, concurrency: i64) {
        let store = self.db.store().await;
        sqlx::query(
            "INSERT INTO api_limits (account_sid, resource_type, concurrency, queue_wait_ms, date_updated)
             VALUES ($1, $2, $3, 0, 0)",
        )
        .bind(self.sid())
        .bind(resource_type)
        .bind(concurrency)
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;
    }
}

const BODY: &str = "FriendlyName=a+slow+client";

/// An answer as read off the socket: status, lower-cased headers, body.
type Answer = (u16, Vec<(String, String)>, String);

/// A POST whose body is half sent: in flight on the server until finished or dropped.
struct SlowPost {
    writer: OwnedWriteHalf,
    answer: JoinHandle<Answer>,
}

impl SlowPost {
    async fn start(instance: &Instance, cluster: &Cluster) -> SlowPost {
        let stream = TcpStream::connect(&instance.addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let head = format!(
            "POST /2010-04-01/Accounts/{}/Keys.json HTTP/1.1\r\nHost: {}\r\n\
             Authorization: Basic {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            cluster.sid(),
            instance.addr,
            cluster.basic(),
            BODY.len(),
            &BODY[..BODY.len() / 2],
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let answer = tokio::spawn(async move { read_answer(&mut reader).await });
        SlowPost { writer, answer }
    }

    async fn finish(mut self) -> u16 {
        self.writer
            .write_all(&BODY.as_bytes()[BODY.len() / 2..])
            .await
            .unwrap();
        self.answer.await.unwrap().0
    }
}

/// Reads one answer: status, lower-cased headers, body (by its Content-Length).
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
    let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap();
    (status, headers, body)
}

/// Starts `n` slow posts on `instance`.
async fn slow_posts(instance: &Instance, cluster: &Cluster, n: usize) -> Vec<SlowPost> {
    let mut posts = Vec::new();
    for _ in 0..n {
        posts.push(SlowPost::start(instance, cluster).await);
    }
    posts
}

/// Waits until `n` of `posts` are answered, and checks they were refused for
/// the account's concurrency; answers the others, still in flight.
async fn refused(posts: Vec<SlowPost>, n: usize) -> Vec<SlowPost> {
    eventually("the refusals", || async {
        (posts.iter().filter(|p| p.answer.is_finished()).count() == n).then_some(())
    })
    .await;
    let (refused, held): (Vec<SlowPost>, Vec<SlowPost>) =
        posts.into_iter().partition(|p| p.answer.is_finished());
    for post in refused {
        let (status, _, body) = post.answer.await.unwrap();
        assert_eq!(status, 429, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], 20429);
    }
    held
}

async fn redis() -> redis::aio::ConnectionManager {
    let client = redis::Client::open(common::redis_url()).unwrap();
    redis::aio::ConnectionManager::new(client).await.unwrap()
}

/// Each instance's share of the account's `Keys:create` counter in Redis.
async fn shares(conn: &mut redis::aio::ConnectionManager, account: &str) -> Vec<(String, i64)> {
    let mut fields: Vec<(String, i64)> = redis::cmd("HGETALL")
        .arg(format!("switchboard:limits:{account}:Keys:create"))
        .query_async(conn)
        .await
        .unwrap();
    fields.sort_by_key(|(_, n)| *n);
    fields
}

async fn lease_exists(conn: &mut redis::aio::ConnectionManager, instance: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(format!(
            "{}{instance}",
            switchboard::limits::shared::lease_prefix()
        ))
        .query_async(conn)
        .await
        .unwrap()
}

async fn a_killed_instance_leaves_its_peer_alone_and_its_counts_expire(db: Db) {
    let redis_url = common::redis_url();
    let env = [
        ("SWITCHBOARD_REDIS_URL", redis_url.as_str()),
        ("SWITCHBOARD_LIMITS_LEASE_MS", "3000"),
    ];
    let (mut cluster, survivor) = Cluster::start(db, &env).await;
    let victim = cluster.another();
    cluster.set_threshold("Keys:create", 6).await;
    let mut conn = redis().await;

    // Load both: two in flight on the survivor, four on the victim, the
    // victim's six others and the survivor's next two refused.
    let survivors = slow_posts(&survivor, &cluster, 2).await;
    eventually("the survivor's two in flight", || async {
        let shares = shares(&mut conn.clone(), cluster.sid()).await;
        (shares.len() == 1 && shares[0].1 == 2).then_some(())
    })
    .await;
    let victims = refused(slow_posts(&victim, &cluster, 10).await, 6).await;
    assert_eq!(victims.len(), 4);
    let extra = refused(slow_posts(&survivor, &cluster, 2).await, 2).await;
    assert!(extra.is_empty());
    let before = shares(&mut conn, cluster.sid()).await;
    let [(survivor_id, 2), (victim_id, 4)] = before.as_slice() else {
        panic!("each instance's share: {before:?}");
    };
    let (survivor_id, victim_id) = (survivor_id.clone(), victim_id.clone());

    victim.kill();
    assert!(lease_exists(&mut conn, &victim_id).await);
    // The survivor's requests in flight complete as if nothing happened.
    for post in survivors {
        assert_eq!(post.finish().await, 201);
    }
    // While the victim's lease lives its four still count: the survivor
    // admits the two left of six, and refuses beyond.
    let mut held = refused(slow_posts(&survivor, &cluster, 3).await, 1).await;
    assert_eq!(held.len(), 2);
    assert!(
        lease_exists(&mut conn, &victim_id).await,
        "the refusal came while the victim's lease lived"
    );
    // Once it expires, the victim's four stop counting and the survivor has all six.
    eventually("the victim's lease to expire", || async {
        (!lease_exists(&mut conn.clone(), &victim_id).await).then_some(())
    })
    .await;
    held.extend(refused(slow_posts(&survivor, &cluster, 5).await, 1).await);
    assert_eq!(held.len(), 6);
    let during = shares(&mut conn, cluster.sid()).await;
    assert_eq!(
        during,
        [(survivor_id.clone(), 6)],
        "the victim's field is dropped"
    );
    for post in held {
        assert_eq!(post.finish().await, 201);
    }
    eventually("every count back to zero", || async {
        shares(&mut conn.clone(), cluster.sid())
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let limits: Value = reqwest::Client::new()
        .get(survivor.url(&format!(
            "/2010-04-01/Accounts/{}/Limits.json",
            cluster.sid()
        )))
        .basic_auth(&cluster.account.0, Some(&cluster.account.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = limits["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["resource_type"] == "Keys:create")
        .unwrap()
        .clone();
    assert_eq!(keys["concurrent_requests"], 0, "{keys}");
    assert_eq!(
        keys["max_concurrent_requests"], 6,
        "never more than six at once"
    );
    survivor.stop();
    cluster.db.drop_it().await;
}

#[tokio::test]
async fn a_killed_instance_leaves_its_peer_alone_and_its_counts_expire_on_sqlite() {
    a_killed_instance_leaves_its_peer_alone_and_its_counts_expire(Db::Sqlite).await;
}

#[tokio::test]
async fn a_killed_instance_leaves_its_peer_alone_and_its_counts_expire_on_postgres() {
    a_killed_instance_leaves_its_peer_alone_and_its_counts_expire(Db::Postgres).await;
}

/// `GET …/Accounts/{sid}.json` with `credential` (an account or API key
/// SID and its secret): status, `Retry-After`, body.
async fn fetch_account(
    instance: &Instance,
    account_sid: &str,
    credential: (&str, &str),
) -> (u16, Option<u64>, Value) {
    let response = reqwest::Client::new()
        .get(instance.url(&format!("/2010-04-01/Accounts/{account_sid}.json")))
        .basic_auth(credential.0, Some(credential.1))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, response.json().await.unwrap())
}

fn assert_over_the_rate((status, retry_after, body): (u16, Option<u64>, Value)) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], 20429, "{body}");
    assert_eq!(body["status"], 429, "{body}");
    // Four a minute: the next comes within a quarter minute.
    let retry_after = retry_after.expect("Retry-After");
    assert!((1..=15).contains(&retry_after), "{retry_after}");
}

/// Checks four requests a minute per credential across `instances` (in turn).
async fn four_a_minute_per_credential(cluster: &Cluster, instances: &[&Instance]) {
    let account = (cluster.account.0.as_str(), cluster.account.1.as_str());
    for i in 0..4 {
        let (status, _, body) =
            fetch_account(instances[i % instances.len()], account.0, account).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    for instance in instances {
        assert_over_the_rate(fetch_account(instance, account.0, account).await);
    }
    // An API key of the same account has a rate of its own.
    let store = cluster.db.store().await;
    let (key, secret) = store.create_api_key(account.0, "rate test").await.unwrap();
    store.close().await;
    let key = (key.sid.as_str(), secret.as_str());
    for i in 0..4 {
        let (status, _, body) = fetch_account(instances[i % instances.len()], account.0, key).await;
        assert_eq!(status, 200, "the key's request {i}: {body}");
    }
    assert_over_the_rate(fetch_account(instances[0], account.0, key).await);
}

#[tokio::test]
async fn one_instance_refuses_a_credential_over_its_request_rate() {
    let (cluster, instance) =
        Cluster::start(Db::Sqlite, &[("SWITCHBOARD_API_RATE_PER_MINUTE", "4")]).await;
    four_a_minute_per_credential(&cluster, &[&instance]).await;
    instance.stop();
}

async fn two_instances_sharing_redis_share_a_credentials_request_rate(db: Db) {
    let redis_url = common::redis_url();
    let env = [
        ("SWITCHBOARD_REDIS_URL", redis_url.as_str()),
        ("SWITCHBOARD_API_RATE_PER_MINUTE", "4"),
    ];
    let (mut cluster, a) = Cluster::start(db, &env).await;
    let b = cluster.another();
    // Alone, each instance would admit four: together they admit four.
    four_a_minute_per_credential(&cluster, &[&a, &b]).await;
    a.stop();
    b.stop();
    cluster.db.drop_it().await;
}

#[tokio::test]
async fn two_instances_sharing_redis_share_a_credentials_request_rate_on_sqlite() {
    two_instances_sharing_redis_share_a_credentials_request_rate(Db::Sqlite).await;
}

#[tokio::test]
async fn two_instances_sharing_redis_share_a_credentials_request_rate_on_postgres() {
    two_instances_sharing_redis_share_a_credentials_request_rate(Db::Postgres).await;
}

/// `POST …/Calls.json` of a call that answers and hangs up: its SID and queue time.
async fn place(instance: &Instance, cluster: &Cluster) -> (String, i64) {
    let response = reqwest::Client::new()
        .post(instance.url(&format!(
            "/2010-04-01/Accounts/{}/Calls.json",
            cluster.sid()
        )))
        .basic_auth(&cluster.account.0, Some(&cluster.account.1))
        .form(&[
            ("To", "+15005550006"),
            ("From", "+15005550100"),
            ("Twiml", "<Response><Hangup/></Response>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    let queue_time = body["queue_time"].as_str().unwrap().parse().unwrap();
    (body["sid"].as_str().unwrap().to_owned(), queue_time)
}

async fn status_of(instance: &Instance, cluster: &Cluster, sid: &str) -> String {
    let call: Value = reqwest::Client::new()
        .get(instance.url(&format!(
            "/2010-04-01/Accounts/{}/Calls/{sid}.json",
            cluster.sid()
        )))
        .basic_auth(&cluster.account.0, Some(&cluster.account.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    call["status"].as_str().unwrap().to_owned()
}

/// Places four calls at one a second and kills the instance at once: the
/// three still waiting are in the store, queued by a dead instance.
async fn queue_and_kill(instance: Instance, cluster: &Cluster) -> Vec<String> {
    let mut waiting = Vec::new();
    for n in 0..4 {
        let (sid, queue_time) = place(&instance, cluster).await;
        if n > 0 {
            assert!(queue_time > 500, "call {n} waits its turn: {queue_time} ms");
            waiting.push(sid);
        }
    }
    instance.kill();
    waiting
}

#[tokio::test]
async fn calls_queued_by_a_killed_instance_are_placed_after_its_restart() {
    let (cluster, first) = Cluster::start(Db::Sqlite, &[]).await;
    let waiting = queue_and_kill(first, &cluster).await;
    let restarted = cluster.restart_first();
    for sid in &waiting {
        let status = eventually("the queued call to be placed and end", || async {
            let status = status_of(&restarted, &cluster, sid).await;
            (status == "completed").then_some(status)
        })
        .await;
        assert_eq!(status, "completed");
    }
    restarted.stop();
}

#[tokio::test]
async fn calls_queued_by_a_killed_instance_are_taken_over_by_its_peer() {
    let redis_url = common::redis_url();
    let env = [
        ("SWITCHBOARD_REDIS_URL", redis_url.as_str()),
        ("SWITCHBOARD_LIMITS_LEASE_MS", "1500"),
    ];
    let (mut cluster, victim) = Cluster::start(Db::Postgres, &env).await;
    let peer = cluster.another();
    let waiting = queue_and_kill(victim, &cluster).await;
    for sid in &waiting {
        eventually("the peer to place the queued call", || async {
            (status_of(&peer, &cluster, sid).await == "completed").then_some(())
        })
        .await;
    }
    peer.stop();
    cluster.db.drop_it().await;
}
