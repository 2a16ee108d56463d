//! The test harness: a real Switchboard server on 127.0.0.1:0 over SQLite or a
//! fresh PostgreSQL database, stopped at the end of the test.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use switchboard::app::App;
use switchboard::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The PostgreSQL server the suite uses; the test command makes sure it runs.
pub fn postgres_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The Redis server the suite uses; the test command makes sure it runs.
pub fn redis_url() -> String {
    std::env::var("SWITCHBOARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A developer's application: an HTTP server that answers each path with the
/// TwiML given for it and records every request it receives.
pub struct AppServer {
    pub addr: SocketAddr,
    pub requests: Arc<std::sync::Mutex<Vec<AppRequest>>>,
    documents: Documents,
}

/// What each path answers: status, content type, body.
type Documents = Arc<std::sync::Mutex<std::collections::HashMap<String, (u16, String, Vec<u8>)>>>;

/// One request an application received.
#[derive(Debug, Clone)]
pub struct AppRequest {
    pub method: String,
    pub path: String,
    pub url: String,
    pub params: Vec<(String, String)>,
    pub signature: Option<String>,
    /// The body as received (JSON deliveries are not form parameters).
    pub body: String,
    /// The status the application answered.
    pub status: u16,
}

impl AppRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl AppServer {
    pub async fn start() -> AppServer {
        use axum::extract::{Request, State};
        type Shared = (
            Arc<std::sync::Mutex<Vec<AppRequest>>>,
            Documents,
            SocketAddr,
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let documents = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        async fn handle(
            State((requests, documents, addr)): State<Shared>,
            request: Request,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            let method = request.method().to_string();
            let path = request.uri().path().to_owned();
            let url = format!("http://{addr}{}", request.uri());
            let signature = request
                .headers()
                .get("x-twilio-signature")
                .map(|v| v.to_str().unwrap().to_owned());
            let query = request.uri().query().unwrap_or_default().to_owned();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap();
            let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let json = body.first() == Some(&b'[') || body.first() == Some(&b'{');
            if !json {
                params.extend(url::form_urlencoded::parse(&body).into_owned());
            }
            let answer = documents.lock().unwrap().get(&path).cloned();
            requests.lock().unwrap().push(AppRequest {
                method,
                path: path.clone(),
                url,
                params,
                signature,
                body: String::from_utf8_lossy(&body).into_owned(),
                status: answer.as_ref().map_or(200, |(status, _, _)| *status),
            });
            match answer {
                Some((status, content_type, body)) => (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::CONTENT_TYPE, content_type)],
                    body,
                )
                    .into_response(),
                None => (axum::http::StatusCode::OK, "").into_response(),
            }
        }
        let router = axum::Router::new().fallback(handle).with_state((
            requests.clone(),
            documents.clone(),
            addr,
        ));
        tokio::spawn(async move { axum::serve(listener, router).await });
        AppServer {
            addr,
            requests,
            documents,
        }
    }

    /// Answers `path` with this TwiML.
    pub fn twiml(&self, path: &str, xml: &str) {
        self.answer(path, 200, "application/xml", xml);
    }

    pub fn answer(&self, path: &str, status: u16, content_type: &str, body: &str) {
        self.documents.lock().unwrap().insert(
            path.to_owned(),
            (status, content_type.to_owned(), body.as_bytes().to_vec()),
        );
    }

    /// Serves `body` (audio, say) at `path`.
    pub fn answer_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (200, content_type.to_owned(), body));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The requests received so far for `path`.
    pub fn requests_to(&self, path: &str) -> Vec<AppRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Every path requested, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }
}

/// Waits (at most 30 s) for `probe` to return something.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A running server and what it needs to be torn down.
pub struct TestApp {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    postgres_db: Option<String>,
    config: Config,
    _dir: tempfile::TempDir,
}

pub struct TestAppBuilder {
    db: Db,
    redis: bool,
    configure: Option<Configure>,
}

/// A change to the configuration a test makes before Switchboard starts.
type Configure = Box<dyn FnOnce(&mut Config)>;

impl TestApp {
    pub fn builder(db: Db) -> TestAppBuilder {
        TestAppBuilder {
            db,
            redis: false,
            configure: None,
        }
    }

    pub async fn start(db: Db) -> TestApp {
        TestApp::builder(db).start().await
    }

    /// The embedded virtual switch's core, to ask it what a real switch
    /// would show (`show channels`, `show bridged_calls`).
    pub fn switch(&self) -> Arc<vswitch::Switch> {
        let guard = self.app.vswitch.lock().unwrap();
        guard
            .as_ref()
            .expect("the embedded virtual switch")
            .switch()
            .clone()
    }

    /// Places an inbound call into the embedded virtual switch: a caller
    /// `from` dialling `to`, behaving as `script` says.
    pub fn inject(&self, from: &str, to: &str, script: &str) {
        self.switch()
            .inject(vswitch::InboundCall {
                from: from.into(),
                to: to.into(),
                script: Some(script.into()),
                caller_name: None,
                context: None,
                variables: Vec::new(),
            })
            .unwrap();
    }

    /// Two instances sharing one PostgreSQL database and one Redis, as
    /// behind a load balancer. Stop the second first: the first drops the
    /// database when it stops.
    pub async fn two_sharing_a_database() -> (TestApp, TestApp) {
        let first = TestApp::builder(Db::Postgres).with_redis().start().await;
        let shared = first.config.database_url.clone();
        let second = TestApp::builder(Db::Sqlite)
            .with_redis()
            .configure(move |config| config.database_url = shared)
            .start()
            .await;
        (first, second)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops Switchboard as SIGTERM does and starts it again on the same
    /// database and data directory (on a new port).
    pub async fn restart(mut self) -> TestApp {
        self.stop_server().await;
        let (addr, app, shutdown, server) = serve(self.config.clone()).await;
        TestApp {
            addr,
            app,
            http: self.http.clone(),
            shutdown: Some(shutdown),
            server: Some(server),
            postgres_db: self.postgres_db.take(),
            config: self.config.clone(),
            _dir: self._dir,
        }
    }

    async fn stop_server(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        self.app.shutdown().await;
    }

    /// Stops the server (graceful) and drops the test's PostgreSQL database.
    pub async fn stop(mut self) {
        self.stop_server().await;
        if let Some(name) = self.postgres_db.take() {
            let admin = switchboard::store::Store::connect(&postgres_url())
                .await
                .unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(admin.pool())
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

impl TestAppBuilder {
    pub fn with_redis(mut self) -> Self {
        self.redis = true;
        self
    }

    /// Changes the configuration before Switchboard starts.
    pub fn configure(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.configure = Some(Box::new(f));
        self
    }

    pub async fn start(self) -> TestApp {
        // RUST_LOG=debug shows the server's log beside a failing test.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded(dir.path());
        // Far ends ring and talk 20 times faster than life.
        config.vswitch_speed = 20.0;
        let mut postgres_db = None;
        if self.db == Db::Postgres {
            let name = format!("sb_test_{}", switchboard::sid::new_secret());
            let admin = switchboard::store::Store::connect(&postgres_url())
                .await
                .expect("PostgreSQL must be reachable (the test command starts it)");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.pool())
                .await
                .unwrap();
            admin.close().await;
            let mut url = url::Url::parse(&postgres_url()).unwrap();
            url.set_path(&name);
            config.database_url = url.to_string();
            postgres_db = Some(name);
        }
        if self.redis {
            config.redis_url = Some(redis_url());
        }
        if let Some(configure) = self.configure {
            configure(&mut config);
        }
        let (addr, app, tx, server) = serve(config.clone()).await;
        TestApp {
            addr,
            app,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            postgres_db,
            config,
            _dir: dir,
        }
    }
}

type Served = (
    SocketAddr,
    Arc<App>,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
);

async fn serve(config: Config) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let public_url = config.public_url_for(addr);
    let app = Arc::new(App::open(config, public_url).await.expect("app opens"));
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(switchboard::server::serve(listener, app.clone(), async {
        let _ = rx.await;
    }));
    (addr, app, tx, server)
}

/// A request to `/2010-04-01/Accounts/{account}{path}` with the account's
/// credentials: its status and JSON body (`Null` when there is none).
pub async fn api(
    t: &TestApp,
    account: &switchboard::store::Account,
    method: reqwest::Method,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = t
        .http
        .request(
            method,
            t.url(&format!("/2010-04-01/Accounts/{}{path}", account.sid)),
        )
        .basic_auth(&account.sid, Some(&account.auth_token))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A GET of the account's `path` that must answer 200.
pub async fn get(
    t: &TestApp,
    account: &switchboard::store::Account,
    path: &str,
) -> serde_json::Value {
    let (status, body) = api(t, account, reqwest::Method::GET, path, &[]).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// An outbound call to `+15005550006` (it answers) running `url`; its SID.
pub async fn place(t: &TestApp, account: &switchboard::store::Account, url: String) -> String {
    place_to(t, account, "+15005550006", url).await
}

/// An outbound call to `to` (one of the virtual switch's far ends) running
/// `url`; its SID.
pub async fn place_to(
    t: &TestApp,
    account: &switchboard::store::Account,
    to: &str,
    url: String,
) -> String {
    let form = [("To", to), ("From", "+15005550100"), ("Url", &url)];
    let (status, body) = api(t, account, reqwest::Method::POST, "/Calls.json", &form).await;
    assert_eq!(status, 201, "{body}");
    body["sid"].as_str().unwrap().to_owned()
}

/// Ends a live call through the API (`Status=completed`), which must answer 200.
pub async fn hang_up(t: &TestApp, account: &switchboard::store::Account, sid: &str) {
    let path = format!("/Calls/{sid}.json");
    let form = [("Status", "completed")];
    let (status, body) = api(t, account, reqwest::Method::POST, &path, &form).await;
    assert_eq!(status, 200, "{body}");
}

/// The call once it has ended, however it ended.
pub async fn finished(
    t: &TestApp,
    account: &switchboard::store::Account,
    sid: &str,
) -> serde_json::Value {
    eventually("the call to end", || async {
        let call = get(t, account, &format!("/Calls/{sid}.json")).await;
        let over = ["completed", "busy", "no-answer", "failed", "canceled"]
            .contains(&call["status"].as_str().unwrap_or(""));
        over.then_some(call)
    })
    .await
}

/// A recording's audio as the API serves it (`…/Recordings/{Sid}.wav`).
pub async fn recording_wav(
    t: &TestApp,
    account: &switchboard::store::Account,
    recording_sid: &str,
) -> hound::WavReader<std::io::Cursor<Vec<u8>>> {
    let response = t
        .http
        .get(t.url(&format!(
            "/2010-04-01/Accounts/{}/Recordings/{recording_sid}.wav",
            account.sid
        )))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{recording_sid}.wav");
    let audio = response.bytes().await.unwrap().to_vec();
    hound::WavReader::new(std::io::Cursor::new(audio)).expect("a WAV file")
}
