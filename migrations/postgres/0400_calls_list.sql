-- Calls lists page newest first (date_created, sid) and filter by Status, To,
-- From or a StartTime range. Each equality filter has an index in the list's
-- order, so a page reads its own rows only, however many calls the account has;
-- a StartTime lower bound that few calls meet is found by start time.
CREATE INDEX calls_account_status ON calls (account_sid, status, date_created, sid);
CREATE INDEX calls_account_to ON calls (account_sid, to_number, date_created, sid);
CREATE INDEX calls_account_from ON calls (account_sid, from_number, date_created, sid);
CREATE INDEX calls_account_start ON calls (account_sid, start_time);
