-- Call queues. Who waits in one is live state of the call router; the queue
-- itself (its name and size limit) is an account's resource.
CREATE TABLE queues (
    sid             TEXT PRIMARY KEY,
    account_sid     TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name   TEXT NOT NULL,
    max_size        BIGINT NOT NULL,
    date_created    BIGINT NOT NULL,
    date_updated    BIGINT NOT NULL,
    UNIQUE (account_sid, friendly_name)
);
CREATE INDEX queues_account ON queues (account_sid, date_created, sid);
