-- The origination rate: calls per second an account may place through the
-- API instead of the configured default (SWITCHBOARD_CALLS_PER_SECOND).
CREATE TABLE call_rates (
    account_sid       TEXT PRIMARY KEY,
    calls_per_second  BIGINT NOT NULL,
    date_updated      BIGINT NOT NULL
);

-- A call placed through the API waits for its account's next origination
-- slot. queue_time: milliseconds from its creation to its origination
-- (expected while it waits, actual once placed). queued_by: the instance
-- whose queue holds it, '' once handed to a media node; a queued call whose
-- instance is gone is resumed by another.
ALTER TABLE calls ADD COLUMN queue_time BIGINT;
ALTER TABLE calls ADD COLUMN queued_by TEXT;
CREATE INDEX calls_queued ON calls (status, queued_by);
