//! The running service's shared state, and what happens on its first start.

use std::io::Write;
use std::path::Path;

use url::Url;

use crate::config::Config;
use crate::media::{Media, MediaError};
use crate::metrics::Metrics;
use crate::store::{Account, Store, StoreError};

/// Shared by every request handler and background task.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub redis: Option<redis::aio::ConnectionManager>,
    pub metrics: Metrics,
    /// Base of the URLs Switchboard hands out, e.g. `http://127.0.0.1:8080/`.
    pub public_url: Url,
    /// The media layer: Play and Say audio, cached for the media nodes.
    pub media: Media,
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
        let redis = match &config.redis_url {
            Some(url) => Some(connect_redis(url).await?),
            None => None,
        };
        let metrics = Metrics::new();
        let media = Media::open(config.media.clone(), store.clone(), &metrics, &public_url).await?;
        Ok(App {
            config,
            store,
            redis,
            metrics,
            public_url,
            media,
        })
    }
}

async fn connect_redis(url: &str) -> Result<redis::aio::ConnectionManager, StartError> {
    let fail = |source| StartError::Redis {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(fail)?;
    redis::aio::ConnectionManager::new(client)
        .await
        .map_err(fail)
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
