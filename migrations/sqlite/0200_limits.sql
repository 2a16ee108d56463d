-- API concurrency thresholds an account has instead of the configured
-- default (SWITCHBOARD_API_CONCURRENCY), per resource type such as
-- `Calls:create`. queue_wait_ms > 0 holds a request over the threshold for
-- at most that long, waiting for a slot, before refusing it with 429.
CREATE TABLE api_limits (
    account_sid    TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    concurrency    BIGINT NOT NULL,
    queue_wait_ms  BIGINT NOT NULL DEFAULT 0,
    date_updated   BIGINT NOT NULL,
    PRIMARY KEY (account_sid, resource_type)
);
