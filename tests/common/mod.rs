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

/// A running server and what it needs to be torn down.
pub struct TestApp {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    postgres_db: Option<String>,
    _dir: tempfile::TempDir,
}

pub struct TestAppBuilder {
    db: Db,
    redis: bool,
}

impl TestApp {
    pub fn builder(db: Db) -> TestAppBuilder {
        TestAppBuilder { db, redis: false }
    }

    pub async fn start(db: Db) -> TestApp {
        TestApp::builder(db).start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server (graceful) and drops the test's PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        self.app.store.close().await;
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

    pub async fn start(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded(dir.path());
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let public_url = config.public_url_for(addr);
        let app = Arc::new(App::open(config, public_url).await.expect("app opens"));
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(switchboard::server::serve(listener, app.clone(), async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            app,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            postgres_db,
            _dir: dir,
        }
    }
}
