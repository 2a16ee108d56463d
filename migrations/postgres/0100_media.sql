-- The media cache's index. media_files: one row per produced file on disk,
-- named by the hash of its bytes. media_sources: what a Play URL or a Say
-- request currently resolves to, with the origin's validators and freshness.
-- cache_id names the cache directory a row describes: instances sharing a
-- database each index their own directory.
CREATE TABLE media_files (
    cache_id      TEXT NOT NULL,
    key           TEXT NOT NULL,
    format        TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    last_used     BIGINT NOT NULL,
    date_created  BIGINT NOT NULL,
    PRIMARY KEY (cache_id, key)
);
CREATE INDEX media_files_lru ON media_files (cache_id, last_used);

CREATE TABLE media_sources (
    cache_id      TEXT NOT NULL,
    source_key    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    source        TEXT NOT NULL,
    file_key      TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    fresh_until   BIGINT NOT NULL,
    pinned        BIGINT NOT NULL DEFAULT 0,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL,
    PRIMARY KEY (cache_id, source_key),
    FOREIGN KEY (cache_id, file_key) REFERENCES media_files (cache_id, key) ON DELETE CASCADE
);
CREATE INDEX media_sources_file ON media_sources (cache_id, file_key, pinned);
