//! The media cache: produced files in a local directory, named by the hash of
//! their bytes and written atomically, with their index in SQL.
//!
//! Two tables: `media_files` (one row per file on disk) and `media_sources`
//! (what a Play URL or a Say request currently resolves to, with the origin's
//! validators). Eviction removes least-recently-used files beyond the size
//! cap, never one a pinned source points to.
//!
//! Rows belong to one cache directory (its `cache-id` file): instances that
//! share a PostgreSQL database each index their own directory and never
//! forget or evict each other's files.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::transcode::Format;
use super::MediaError;
use crate::store::{now_millis, Store};

/// Recording every hit in SQL would make each play a write; once a minute per
/// file is precise enough for LRU.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A produced file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub key: String,
    pub format: Format,
    pub bytes: u64,
    pub duration_ms: u64,
}

/// What a source (a Play URL or a Say request) resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub source_key: String,
    pub file: FileEntry,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Unix millis until which the origin need not be asked again.
    pub fresh_until: i64,
    pub pinned: bool,
}

pub struct Cache {
    dir: PathBuf,
    /// This directory's identity in the shared index.
    id: String,
    store: Store,
    max_bytes: u64,
    touched: Mutex<HashMap<String, Instant>>,
}

/// The content address of a file: the first 128 bits of its SHA-256, in hex.
pub fn content_key(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// Whether `key` has the shape of a content key (so it is safe in a path).
pub fn is_key(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn storage(err: impl std::fmt::Display) -> MediaError {
    MediaError::Storage(err.to_string())
}

impl Cache {
    /// Opens the directory, clearing unfinished writes and forgetting indexed
    /// files that are no longer on disk.
    pub async fn open(dir: &Path, store: Store, max_bytes: u64) -> Result<Cache, MediaError> {
        let scratch = dir.join("tmp");
        tokio::fs::create_dir_all(&scratch).await.map_err(|e| {
            MediaError::Storage(format!("cannot create {}: {e}", scratch.display()))
        })?;
        let mut leftovers = tokio::fs::read_dir(&scratch).await.map_err(storage)?;
        while let Some(entry) = leftovers.next_entry().await.map_err(storage)? {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
        let cache = Cache {
            id: cache_id(dir).await?,
            dir: dir.to_owned(),
            store,
            max_bytes,
            touched: Mutex::new(HashMap::new()),
        };
        let keys: Vec<String> = sqlx::query("SELECT key FROM media_files WHERE cache_id = $1")
            .bind(&cache.id)
            .fetch_all(cache.store.pool())
            .await
            .map_err(storage)?
            .iter()
            .map(|row| row.try_get("key"))
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        for key in keys {
            if !tokio::fs::try_exists(cache.path(&key))
                .await
                .unwrap_or(false)
            {
                cache.forget(&key).await?;
            }
        }
        Ok(cache)
    }

    /// Where a file lives: fanned out by its first two hex digits.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.wav"))
    }

    /// A private directory for temporary files (speech synthesis, writes).
    pub fn scratch(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// The source's current entry, if its file is still on disk.
    pub async fn source(&self, source_key: &str) -> Result<Option<SourceEntry>, MediaError> {
        let row = sqlx::query(
            "SELECT s.source_key, s.etag, s.last_modified, s.fresh_until, s.pinned, \
                    f.key, f.format, f.bytes, f.duration_ms \
             FROM media_sources s \
             JOIN media_files f ON f.cache_id = s.cache_id AND f.key = s.file_key \
             WHERE s.cache_id = $1 AND s.source_key = $2",
        )
        .bind(&self.id)
        .bind(source_key)
        .fetch_optional(self.store.pool())
        .await
        .map_err(storage)?;
        let Some(row) = row else { return Ok(None) };
        let format: String = row.try_get("format").map_err(storage)?;
        let entry = SourceEntry {
            source_key: row.try_get("source_key").map_err(storage)?,
            etag: row.try_get("etag").map_err(storage)?,
            last_modified: row.try_get("last_modified").map_err(storage)?,
            fresh_until: row.try_get("fresh_until").map_err(storage)?,
            pinned: row.try_get::<i64, _>("pinned").map_err(storage)? != 0,
            file: FileEntry {
                key: row.try_get("key").map_err(storage)?,
                format: Format::parse(&format)
                    .ok_or_else(|| storage(format!("unknown format {format:?} in the index")))?,
                bytes: row.try_get::<i64, _>("bytes").map_err(storage)? as u64,
                duration_ms: row.try_get::<i64, _>("duration_ms").map_err(storage)? as u64,
            },
        };
        // Another instance sharing the index, or an operator, may have removed it.
        if !tokio::fs::try_exists(self.path(&entry.file.key))
            .await
            .unwrap_or(false)
        {
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Stores a produced file under its content key (atomically: temporary
    /// file, fsync, rename) and indexes it.
    pub async fn put_file(
        &self,
        wav: Vec<u8>,
        format: Format,
        duration_ms: u64,
    ) -> Result<FileEntry, MediaError> {
        let key = content_key(&wav);
        let path = self.path(&key);
        let scratch = self.scratch();
        let bytes = wav.len() as u64;
        tokio::task::spawn_blocking(move || write_atomically(&scratch, &path, &wav))
            .await
            .map_err(storage)?
            .map_err(storage)?;
        let now = now_millis();
        sqlx::query(
            "INSERT INTO media_files \
                 (cache_id, key, format, bytes, duration_ms, last_used, date_created) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (cache_id, key) DO UPDATE SET last_used = excluded.last_used",
        )
        .bind(&self.id)
        .bind(&key)
        .bind(format.as_str())
        .bind(bytes as i64)
        .bind(duration_ms as i64)
        .bind(now)
        .execute(self.store.pool())
        .await
        .map_err(storage)?;
        Ok(FileEntry {
            key,
            format,
            bytes,
            duration_ms,
        })
    }

    /// Points a source at a file, with the origin's validators.
    pub async fn set_source(
        &self,
        entry: &SourceEntry,
        kind: &str,
        description: &str,
    ) -> Result<(), MediaError> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO media_sources (cache_id, source_key, kind, source, file_key, etag, \
                 last_modified, fresh_until, pinned, date_created, date_updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (cache_id, source_key) DO UPDATE SET file_key = excluded.file_key, \
                 etag = excluded.etag, last_modified = excluded.last_modified, \
                 fresh_until = excluded.fresh_until, \
                 pinned = CASE WHEN excluded.pinned = 1 THEN 1 ELSE media_sources.pinned END, \
                 date_updated = excluded.date_updated",
        )
        .bind(&self.id)
        .bind(&entry.source_key)
        .bind(kind)
        .bind(description)
        .bind(&entry.file.key)
        .bind(&entry.etag)
        .bind(&entry.last_modified)
        .bind(entry.fresh_until)
        .bind(i64::from(entry.pinned))
        .bind(now)
        .execute(self.store.pool())
        .await
        .map_err(storage)?;
        Ok(())
    }

    /// After a 304: the cached copy is good until `fresh_until`.
    pub async fn refresh(&self, source_key: &str, fresh_until: i64) -> Result<(), MediaError> {
        sqlx::query(
            "UPDATE media_sources SET fresh_until = $1, date_updated = $2 \
             WHERE cache_id = $3 AND source_key = $4",
        )
        .bind(fresh_until)
        .bind(now_millis())
        .bind(&self.id)
        .bind(source_key)
        .execute(self.store.pool())
        .await
        .map_err(storage)?;
        Ok(())
    }

    /// Pins (or unpins) a source: its file is never evicted while pinned.
    pub async fn pin(&self, source_key: &str, pinned: bool) -> Result<(), MediaError> {
        sqlx::query("UPDATE media_sources SET pinned = $1 WHERE cache_id = $2 AND source_key = $3")
            .bind(i64::from(pinned))
            .bind(&self.id)
            .bind(source_key)
            .execute(self.store.pool())
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// Records a use of `key` for LRU, at most once per [`TOUCH_EVERY`].
    pub async fn touch(&self, key: &str) -> Result<(), MediaError> {
        {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match touched.get(key) {
                Some(last) if now.duration_since(*last) < TOUCH_EVERY => return Ok(()),
                _ => touched.insert(key.to_owned(), now),
            };
        }
        sqlx::query("UPDATE media_files SET last_used = $1 WHERE cache_id = $2 AND key = $3")
            .bind(now_millis())
            .bind(&self.id)
            .bind(key)
            .execute(self.store.pool())
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// Bytes held by indexed files.
    pub async fn total_bytes(&self) -> Result<u64, MediaError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM media_files WHERE cache_id = $1",
        )
        .bind(&self.id)
        .fetch_one(self.store.pool())
        .await
        .map_err(storage)?;
        Ok(total as u64)
    }

    /// Removes least-recently-used unpinned files until the cache fits its
    /// cap; `keep` (the file just produced) is never chosen. Returns the keys removed.
    pub async fn evict(&self, keep: &str) -> Result<Vec<String>, MediaError> {
        let mut total = self.total_bytes().await?;
        if total <= self.max_bytes {
            return Ok(Vec::new());
        }
        let candidates = sqlx::query(
            "SELECT f.key, f.bytes FROM media_files f \
             WHERE f.cache_id = $1 AND f.key <> $2 AND NOT EXISTS \
                 (SELECT 1 FROM media_sources s \
                  WHERE s.cache_id = f.cache_id AND s.file_key = f.key AND s.pinned = 1) \
             ORDER BY f.last_used, f.key",
        )
        .bind(&self.id)
        .bind(keep)
        .fetch_all(self.store.pool())
        .await
        .map_err(storage)?;
        let mut evicted = Vec::new();
        for row in candidates {
            if total <= self.max_bytes {
                break;
            }
            let key: String = row.try_get("key").map_err(storage)?;
            let bytes: i64 = row.try_get("bytes").map_err(storage)?;
            self.forget(&key).await?;
            let _ = tokio::fs::remove_file(self.path(&key)).await;
            total = total.saturating_sub(bytes as u64);
            evicted.push(key);
        }
        if total > self.max_bytes {
            tracing::warn!(
                total,
                cap = self.max_bytes,
                "media cache over its cap: the rest is pinned or in use"
            );
        }
        Ok(evicted)
    }

    /// Drops a file and the sources pointing at it from the index.
    async fn forget(&self, key: &str) -> Result<(), MediaError> {
        let mut tx = self.store.pool().begin().await.map_err(storage)?;
        sqlx::query("DELETE FROM media_sources WHERE cache_id = $1 AND file_key = $2")
            .bind(&self.id)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        sqlx::query("DELETE FROM media_files WHERE cache_id = $1 AND key = $2")
            .bind(&self.id)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        self.touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        Ok(())
    }
}

/// The directory's identity: made once, kept in the directory itself, so it
/// follows the files (a copied or restored directory keeps its index rows).
async fn cache_id(dir: &Path) -> Result<String, MediaError> {
    let path = dir.join("cache-id");
    match tokio::fs::read_to_string(&path).await {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(storage(format!("{}: {e}", path.display()))),
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let scratch = dir.join("tmp");
    let bytes = format!("{id}\n").into_bytes();
    tokio::task::spawn_blocking(move || write_atomically(&scratch, &path, &bytes))
        .await
        .map_err(storage)?
        .map_err(storage)?;
    Ok(id)
}

fn write_atomically(scratch: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = scratch.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_keys_are_hex_and_depend_only_on_the_bytes() {
        let a = content_key(b"RIFF one");
        assert_eq!(a, content_key(b"RIFF one"));
        assert_ne!(a, content_key(b"RIFF two"));
        assert!(is_key(&a));
        for bad in [
            "../../etc/passwd",
            "ABCDEF00ABCDEF00ABCDEF00ABCDEF00",
            "abc",
        ] {
            assert!(!is_key(bad), "{bad}");
        }
    }
}
