-- Personal API keys: tools act as their user through the Platform API. Only a SHA-256 of the
-- key is kept; the key is shown once.
CREATE TABLE personal_api_keys (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    prefix TEXT NOT NULL,
    key_hash BYTEA NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX personal_api_keys_user_idx ON personal_api_keys (user_id, created_at DESC);

-- Per-key request counting for the API's rate limit, in PostgreSQL so that it holds across
-- instances: one fixed one-minute window per key.
CREATE TABLE api_rate_windows (
    key_id BIGINT PRIMARY KEY REFERENCES personal_api_keys (id) ON DELETE CASCADE,
    window_start TIMESTAMPTZ NOT NULL,
    requests INTEGER NOT NULL
);
