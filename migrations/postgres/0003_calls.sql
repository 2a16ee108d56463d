-- Calls, the notifications (errors and warnings) raised while running them,
-- and the recordings they made.
CREATE TABLE calls (
    sid                TEXT PRIMARY KEY,
    account_sid        TEXT NOT NULL REFERENCES accounts (sid),
    parent_call_sid    TEXT,
    direction          TEXT NOT NULL,
    from_number        TEXT NOT NULL,
    to_number          TEXT NOT NULL,
    caller_name        TEXT,
    forwarded_from     TEXT,
    status             TEXT NOT NULL,
    answered_by        TEXT,
    phone_number_sid   TEXT,
    application_sid    TEXT,
    -- Where the call's instructions come from: a URL, or TwiML given inline.
    url                TEXT,
    method             TEXT NOT NULL,
    fallback_url       TEXT,
    fallback_method    TEXT NOT NULL,
    twiml              TEXT,
    status_callback    TEXT,
    status_callback_method TEXT NOT NULL,
    status_callback_events TEXT NOT NULL,
    timeout_secs       BIGINT NOT NULL,
    -- The media node and channel that carry it.
    node               TEXT,
    channel_uuid       TEXT,
    start_time         BIGINT,
    end_time           BIGINT,
    duration           BIGINT,
    price              TEXT,
    date_created       BIGINT NOT NULL,
    date_updated       BIGINT NOT NULL
);
CREATE INDEX calls_account ON calls (account_sid, date_created, sid);
CREATE INDEX calls_parent ON calls (parent_call_sid);

CREATE TABLE notifications (
    sid             TEXT PRIMARY KEY,
    account_sid     TEXT NOT NULL REFERENCES accounts (sid),
    call_sid        TEXT,
    error_code      TEXT NOT NULL,
    log             TEXT NOT NULL,
    message_text    TEXT NOT NULL,
    message_date    BIGINT NOT NULL,
    more_info       TEXT NOT NULL,
    request_method  TEXT,
    request_url     TEXT,
    request_variables TEXT,
    response_body   TEXT,
    response_headers TEXT,
    date_created    BIGINT NOT NULL,
    date_updated    BIGINT NOT NULL
);
CREATE INDEX notifications_account ON notifications (account_sid, date_created, sid);
CREATE INDEX notifications_call ON notifications (call_sid, date_created);

CREATE TABLE recordings (
    sid             TEXT PRIMARY KEY,
    account_sid     TEXT NOT NULL REFERENCES accounts (sid),
    call_sid        TEXT NOT NULL,
    conference_sid  TEXT,
    status          TEXT NOT NULL,
    source          TEXT NOT NULL,
    channels        BIGINT NOT NULL,
    duration        BIGINT NOT NULL,
    file_path       TEXT NOT NULL,
    start_time      BIGINT NOT NULL,
    date_created    BIGINT NOT NULL,
    date_updated    BIGINT NOT NULL
);
CREATE INDEX recordings_account ON recordings (account_sid, date_created, sid);
CREATE INDEX recordings_call ON recordings (call_sid, date_created);
