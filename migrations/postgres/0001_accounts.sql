-- Accounts (subaccounts point at their owner) and the API keys that act for them.
-- Times are milliseconds since the Unix epoch, the same on every backend.
CREATE TABLE accounts (
    sid           TEXT PRIMARY KEY,
    owner_sid     TEXT REFERENCES accounts (sid),
    friendly_name TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    type          TEXT NOT NULL DEFAULT 'Full',
    auth_token    TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner_sid, date_created);

CREATE TABLE api_keys (
    sid           TEXT PRIMARY KEY,
    account_sid   TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_sid, date_created);
