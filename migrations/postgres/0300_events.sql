-- The event router: every event published (the log streams resume from),
-- the sinks and subscriptions that say who receives which types, and the
-- durable outbox of webhook requests (sink deliveries and call callbacks)
-- still to be delivered.
CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    -- Empty for an event no account owns (a call to an unknown number).
    account_sid  TEXT NOT NULL,
    -- The account's owner, so a parent's subscription can include subaccounts.
    owner_sid    TEXT,
    call_sid     TEXT,
    type         TEXT NOT NULL,
    time         BIGINT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX events_account ON events (account_sid, id);
CREATE INDEX events_owner ON events (owner_sid, id);
CREATE INDEX events_time ON events (time);

CREATE TABLE sinks (
    sid                 TEXT PRIMARY KEY,
    account_sid         TEXT NOT NULL REFERENCES accounts (sid),
    description         TEXT NOT NULL,
    -- webhook or stream
    sink_type           TEXT NOT NULL,
    -- JSON, as given: {"destination": "https://…", "method": "POST"} for a webhook
    sink_configuration  TEXT NOT NULL,
    -- active, or failed once deliveries kept failing (auto-disabled)
    status              TEXT NOT NULL,
    -- When the current run of failed deliveries began; NULL while healthy.
    failing_since       BIGINT,
    date_created        BIGINT NOT NULL,
    date_updated        BIGINT NOT NULL
);
CREATE INDEX sinks_account ON sinks (account_sid, date_created, sid);

CREATE TABLE subscriptions (
    sid                 TEXT PRIMARY KEY,
    account_sid         TEXT NOT NULL REFERENCES accounts (sid),
    sink_sid            TEXT NOT NULL REFERENCES sinks (sid),
    description         TEXT NOT NULL,
    include_subaccounts BIGINT NOT NULL DEFAULT 0,
    date_created        BIGINT NOT NULL,
    date_updated        BIGINT NOT NULL
);
CREATE INDEX subscriptions_account ON subscriptions (account_sid, date_created, sid);
CREATE INDEX subscriptions_sink ON subscriptions (sink_sid);

CREATE TABLE subscribed_events (
    subscription_sid  TEXT NOT NULL REFERENCES subscriptions (sid),
    type              TEXT NOT NULL,
    schema_version    BIGINT NOT NULL,
    PRIMARY KEY (subscription_sid, type)
);

-- One signed request to deliver. Requests of one lane (a sink, or a call's
-- callbacks) go out in id order; a failing head holds its lane back.
CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    lane             TEXT NOT NULL,
    -- Whose AuthToken signs the request.
    account_sid      TEXT NOT NULL,
    sink_sid         TEXT,
    url              TEXT NOT NULL,
    method           TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    body             TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    date_created     BIGINT NOT NULL
);
CREATE INDEX outbox_lane ON outbox (lane, id);
CREATE INDEX outbox_due ON outbox (next_attempt_at);

-- Which instance delivers a lane now: instances sharing the database never
-- deliver one lane at once, so its order holds. A lease left by a stopped
-- instance lapses at `until`.
CREATE TABLE outbox_leases (
    lane    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    until   BIGINT NOT NULL
);
