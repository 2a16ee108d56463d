-- Conferences and their live participants. A participant is named by its
-- call's SID (`sid`), as Twilio's Participants resource is; it is deleted when
-- it leaves, so the table holds who is in a room now.
CREATE TABLE conferences (
    sid                         TEXT PRIMARY KEY,
    account_sid                 TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name               TEXT NOT NULL,
    status                      TEXT NOT NULL,
    region                      TEXT NOT NULL,
    reason_conference_ended     TEXT,
    call_sid_ending_conference  TEXT,
    date_created                BIGINT NOT NULL,
    date_updated                BIGINT NOT NULL
);
CREATE INDEX conferences_account ON conferences (account_sid, date_created, sid);

CREATE TABLE conference_participants (
    sid                         TEXT NOT NULL,
    conference_sid              TEXT NOT NULL REFERENCES conferences (sid),
    account_sid                 TEXT NOT NULL REFERENCES accounts (sid),
    label                       TEXT,
    muted                       BIGINT NOT NULL,
    hold                        BIGINT NOT NULL,
    start_conference_on_enter   BIGINT NOT NULL,
    end_conference_on_exit      BIGINT NOT NULL,
    status                      TEXT NOT NULL,
    date_created                BIGINT NOT NULL,
    date_updated                BIGINT NOT NULL,
    PRIMARY KEY (conference_sid, sid)
);
CREATE INDEX conference_participants_account ON conference_participants (account_sid, date_created, sid);
