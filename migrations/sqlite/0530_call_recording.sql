-- More options of an API-placed call, kept with it like those of 0520: how
-- its whole-call recording is made and reported (Trim, RecordingChannels,
-- RecordingTrack, RecordingStatusCallback, -Method and -Event), and the
-- longest it may last (TimeLimit, seconds).
ALTER TABLE calls ADD COLUMN record_trim BIGINT NOT NULL DEFAULT 1;
ALTER TABLE calls ADD COLUMN record_channels BIGINT NOT NULL DEFAULT 1;
ALTER TABLE calls ADD COLUMN record_track TEXT NOT NULL DEFAULT 'both';
ALTER TABLE calls ADD COLUMN recording_status_callback TEXT;
ALTER TABLE calls ADD COLUMN recording_status_callback_method TEXT NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN recording_status_callback_events TEXT NOT NULL DEFAULT 'completed';
ALTER TABLE calls ADD COLUMN time_limit_secs BIGINT;
