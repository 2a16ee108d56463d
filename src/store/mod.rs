//! The SQL store: one schema on SQLite (the embedded default) and PostgreSQL
//! (production), reached through sqlx's `Any` driver so every query is written once.
//!
//! Queries use `$1`-style placeholders, which both backends accept, and keep
//! to the types both share (text, 64-bit integers); times are Unix milliseconds.

mod accounts;
mod calls;
mod conferences;
mod listing;
mod queues;
mod records;

pub use accounts::{
    account_from_row, secret_digest, Account, AccountStatus, ApiKey, ACCOUNT_COLUMNS,
};
pub use calls::{
    call_from_row, insert_call_on, recording_from_row, Call, CallRecording, CallStatus,
    Notification, Queued, Recording, CALL_COLUMNS, NOTIFICATION_COLUMNS, RECORDING_COLUMNS,
};
pub use conferences::{flag, Participant, CONFERENCE_COLUMNS, PARTICIPANT_COLUMNS};
pub use listing::{Cursor, Listing, Page, PageRequest};
pub use queues::{queue_from_row, Queue, DEFAULT_QUEUE_SIZE, MAX_QUEUE_SIZE, QUEUE_COLUMNS};
pub use records::{Column, Record};

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to the store, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the directory for {url}: {source}")]
    Directory { url: String, source: std::io::Error },
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`). Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = if url.starts_with("sqlite:") {
            create_sqlite_parent(url)?;
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            // SQLite allows one writer at a time; a few connections serve readers.
            .max_connections(if backend == Backend::Sqlite { 8 } else { 32 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; busy_timeout waits
                        // for the write lock instead of failing at once.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        // Under WAL, NORMAL syncs at checkpoints, not at every
                        // commit: a commit survives the process crashing, not a
                        // power cut. An fsync per commit held the router to
                        // ~140 calls/s; production durability is PostgreSQL's.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Store { pool, backend })
    }

    /// Applies the backend's migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite creates the file but not its directory.
fn create_sqlite_parent(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
                url: url.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Milliseconds since the Unix epoch, the store's representation of a time.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
