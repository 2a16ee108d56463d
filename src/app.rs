//! The running service's shared state, and what happens on its first start.

use std::io::Write;
use std::path::Path;

use url::Url;

use crate::config::{Config, EslNode, MediaNodes};
use crate::media::{Media, MediaError};
use crate::metrics::Metrics;
use crate::router::{CallRouter, RouterConfig};
use crate::store::{Account, Store, StoreError};
use crate::webhook::Webhooks;

/// Shared by every request handler and background task.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub redis: Option<redis::aio::ConnectionManager>,
    pub metrics: Metrics,
    /// API concurrency limits per account and resource type.
    pub limits: std::sync::Arc<crate::limits::Limiter>,
    /// Base of the URLs Switchboard hands out, e.g. `http://127.0.0.1:8080/`.
    pub public_url: Url,
    /// The media layer: Play and Say audio, cached for the media nodes.
    pub media: std::sync::Arc<Media>,
    pub router: CallRouter,
    /// Paces the calls each account places through the API.
    pub pacer: std::sync::Arc<crate::limits::cps::Pacer>,
    /// The event router: sinks, streams, the event socket, the outbox.
    pub events: crate::events::Events,
    /// The built-in virtual switch, when it is the media node.
    pub vswitch: std::sync::Mutex<Option<vswitch::VSwitch>>,
    /// How many media nodes should be connected.
    pub expected_nodes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error("the embedded virtual switch: {0}")]
    VSwitch(String),
    #[error(transparent)]
    Events(#[from] crate::events::SocketError),
    #[error("media layer: {0}")]
    Media(#[from] MediaError),
    #[error("cannot write {path}: {source}")]
    Credentials {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl App {
    /// Connects to the store (migrating it) and to Redis when configured.
    pub async fn open(config: Config, public_url: Url) -> Result<App, StartError> {
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let (redis_client, redis) = match &config.redis_url {
            Some(url) => {
                let (client, conn) = connect_redis(url).await?;
                (Some(client), Some(conn))
            }
            None => (None, None),
        };
        let metrics = Metrics::new();
        let limits = crate::limits::Limiter::new(
            store.clone(),
            config.api_concurrency,
            &crate::api::endpoints(),
            &metrics,
        );
        let limits = match (&redis, &config.redis_url) {
            (Some(conn), Some(url)) => limits
                .with_redis(conn.clone(), config.limits_lease)
                .await
                .map_err(|source| StartError::Redis {
                url: url.clone(),
                source,
            })?,
            _ => limits,
        }
        .with_rate(config.api_rate_per_minute);
        let limits = std::sync::Arc::new(limits);
        limits.start();
        let media = std::sync::Arc::new(
            Media::open(config.media.clone(), store.clone(), &metrics, &public_url).await?,
        );
        let webhooks = Webhooks::new(config.webhook_timeout);
        let events =
            crate::events::Events::start(store.clone(), webhooks.clone(), &config.events).await?;
        let router = CallRouter::new(RouterConfig {
            store: store.clone(),
            webhooks,
            events: events.publisher.clone(),
            media: media.clone(),
            dial_template: config.dial_template.clone(),
            public_url: public_url.clone(),
            recordings_dir: absolute(&config.data_dir.join("recordings")),
        });
        if let (Some(client), Some(conn)) = (redis_client, &redis) {
            router.relay_through(client, conn.clone());
        }
        metrics.register(
            "call_reaction_seconds",
            "Time from the switch waking a call (an event, an execution's end) to its next command, \
             excluding the application's and the media layer's time",
            router.reaction(),
        );
        let pacer = std::sync::Arc::new(crate::limits::cps::Pacer::new(
            store.clone(),
            router.clone(),
            limits.clone(),
            redis.clone(),
            config.calls_per_second,
            &metrics,
        ));
        let (vswitch, nodes) = match &config.media_nodes {
            MediaNodes::Embedded => {
                let (vswitch, node) = start_vswitch(&config).await?;
                (Some(vswitch), vec![node])
            }
            MediaNodes::Esl(nodes) => (None, nodes.clone()),
        };
        let expected_nodes = nodes.len();
        for node in nodes {
            connect_node(router.clone(), node).await;
        }
        // After the nodes: calls left queued by a stopped instance go out now.
        pacer.start(config.limits_lease);
        Ok(App {
            config,
            store,
            redis,
            metrics,
            limits,
            public_url,
            media,
            router,
            pacer,
            events,
            vswitch: std::sync::Mutex::new(vswitch),
            expected_nodes,
        })
    }

    /// Ends every call and stops the media nodes' connections and the embedded switch.
    pub async fn shutdown(&self) {
        // Queued calls stay queued in the store for the next instance.
        self.pacer.shutdown().await;
        self.router.shutdown().await;
        // After the router: the calls' last events and callbacks are written.
        self.events.shutdown().await;
        self.limits.shutdown().await;
        let vswitch = self
            .vswitch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(vswitch) = vswitch {
            vswitch.shutdown().await;
        }
        self.store.close().await;
    }
}

fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Starts the built-in virtual switch on a free loopback port with a fresh password.
async fn start_vswitch(config: &Config) -> Result<(vswitch::VSwitch, EslNode), StartError> {
    crate::webhook::install_tls_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| StartError::VSwitch(e.to_string()))?;
    let password = crate::sid::new_secret();
    let vswitch_config = vswitch::Config {
        password: password.clone(),
        speed: config.vswitch_speed,
        sounds_dir: absolute(&config.data_dir),
        recordings_dir: absolute(&config.data_dir.join("recordings")),
        ..vswitch::Config::default()
    };
    let vswitch =
        vswitch::start(listener, vswitch_config).map_err(|e| StartError::VSwitch(e.to_string()))?;
    let node = EslNode {
        host: "127.0.0.1".into(),
        port: vswitch.local_addr().port(),
        password,
    };
    Ok((vswitch, node))
}

/// Connects a media node now, or keeps trying in the background: a node that
/// is down at start-up joins when it comes up.
async fn connect_node(router: CallRouter, node: EslNode) {
    if let Err(e) = router.add_node(&node).await {
        tracing::error!(error = %e, "media node unreachable; retrying every 5 s");
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                if router.add_node(&node).await.is_ok() {
                    return;
                }
            }
        });
    }
}

/// The Redis client (for connections of their own, as pub/sub needs) and
/// the shared connection everything else uses.
async fn connect_redis(
    url: &str,
) -> Result<(redis::Client, redis::aio::ConnectionManager), StartError> {
    let fail = |source| StartError::Redis {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(fail)?;
    let conn = redis::aio::ConnectionManager::new(client.clone())
        .await
        .map_err(fail)?;
    Ok((client, conn))
}

/// On an empty database, creates the main account and writes its credentials
/// to `DATA_DIR/credentials` (owner-only). Returns the account when it was created.
pub async fn ensure_main_account(
    store: &Store,
    data_dir: &Path,
) -> Result<Option<Account>, StartError> {
    if store.count_accounts().await? > 0 {
        return Ok(None);
    }
    let account = store.create_account("Main account", None).await?;
    let path = data_dir.join("credentials");
    write_credentials(&path, &account)
        .map_err(|source| StartError::Credentials { path, source })?;
    Ok(Some(account))
}

fn write_credentials(path: &Path, account: &Account) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "AccountSid={}", account.sid)?;
    writeln!(file, "AuthToken={}", account.auth_token)?;
    file.sync_all()
}
