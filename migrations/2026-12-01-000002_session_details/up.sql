-- What the account's sessions page shows, and what the idle and absolute lifetimes need: a
-- public id (never the key), when the session started and was last active (written at most once
-- a minute), and the IP and user agent it started from.
ALTER TABLE sessions
    ADD COLUMN sid TEXT,
    ADD COLUMN created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN ip TEXT,
    ADD COLUMN user_agent TEXT;
CREATE UNIQUE INDEX sessions_sid_idx ON sessions (sid);
