-- The media cache's index. media_files: one row per produced file on disk,
-- named by the hash of its bytes. media_sources: what a Play URL or a Say
-- request currently resolves to, with the origin's validators and freshness.
CREATE TABLE media_files (
    key           TEXT PRIMARY KEY,
    format        TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    last_used     BIGINT NOT NULL,
    date_created  BIGINT NOT NULL
);
CREATE INDEX media_files_lru ON media_files (last_used);

CREATE TABLE media_sources (
    source_key    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    source        TEXT NOT NULL,
    file_key      TEXT NOT NULL REFERENCES media_files (key) ON DELETE CASCADE,
    etag          TEXT,
    last_modified TEXT,
    fresh_until   BIGINT NOT NULL,
    pinned        BIGINT NOT NULL DEFAULT 0,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX media_sources_file ON media_sources (file_key, pinned);
