-- Applications (where a call's instructions come from) and the phone numbers
-- that route inbound calls to them.
CREATE TABLE applications (
    sid                     TEXT PRIMARY KEY,
    account_sid             TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name           TEXT,
    api_version             TEXT NOT NULL,
    voice_url               TEXT,
    voice_method            TEXT NOT NULL,
    voice_fallback_url      TEXT,
    voice_fallback_method   TEXT NOT NULL,
    status_callback         TEXT,
    status_callback_method  TEXT NOT NULL,
    voice_caller_id_lookup  BIGINT NOT NULL,
    sms_url                 TEXT,
    sms_method              TEXT NOT NULL,
    sms_fallback_url        TEXT,
    sms_fallback_method     TEXT NOT NULL,
    sms_status_callback     TEXT,
    message_status_callback TEXT,
    public_application_connect_enabled BIGINT NOT NULL,
    date_created            BIGINT NOT NULL,
    date_updated            BIGINT NOT NULL
);
CREATE INDEX applications_account ON applications (account_sid, date_created, sid);

CREATE TABLE incoming_phone_numbers (
    sid                     TEXT PRIMARY KEY,
    account_sid             TEXT NOT NULL REFERENCES accounts (sid),
    phone_number            TEXT NOT NULL UNIQUE,
    friendly_name           TEXT,
    api_version             TEXT NOT NULL,
    voice_url               TEXT,
    voice_method            TEXT NOT NULL,
    voice_fallback_url      TEXT,
    voice_fallback_method   TEXT NOT NULL,
    status_callback         TEXT,
    status_callback_method  TEXT NOT NULL,
    voice_caller_id_lookup  BIGINT NOT NULL,
    voice_application_sid   TEXT REFERENCES applications (sid),
    sms_url                 TEXT,
    sms_method              TEXT NOT NULL,
    sms_fallback_url        TEXT,
    sms_fallback_method     TEXT NOT NULL,
    sms_application_sid     TEXT REFERENCES applications (sid),
    date_created            BIGINT NOT NULL,
    date_updated            BIGINT NOT NULL
);
CREATE INDEX incoming_phone_numbers_account ON incoming_phone_numbers (account_sid, date_created, sid);
