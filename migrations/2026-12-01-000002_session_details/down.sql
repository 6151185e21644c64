DROP INDEX sessions_sid_idx;
ALTER TABLE sessions
    DROP COLUMN sid,
    DROP COLUMN created_at,
    DROP COLUMN last_seen_at,
    DROP COLUMN ip,
    DROP COLUMN user_agent;
