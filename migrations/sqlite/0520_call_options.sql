-- Options of an API-placed call, kept with it so a queued call resumes
-- with them: digits to send once answered, and whether to record it.
ALTER TABLE calls ADD COLUMN send_digits TEXT;
ALTER TABLE calls ADD COLUMN record BIGINT NOT NULL DEFAULT 0;
