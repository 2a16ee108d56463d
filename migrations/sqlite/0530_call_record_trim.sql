-- Whether an API-placed call's whole-call recording has its leading and
-- trailing silence cut (`Trim`, Twilio's default trim-silence).
ALTER TABLE calls ADD COLUMN record_trim BIGINT NOT NULL DEFAULT 1;
