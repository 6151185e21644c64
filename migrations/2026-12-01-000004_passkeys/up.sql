-- Passkeys (WebAuthn, DESIGN §14). The user handle a passkey carries is a random id of the
-- account (not its number or address), made when its first passkey is registered.
ALTER TABLE users
    ADD COLUMN webauthn_handle BYTEA UNIQUE CHECK (webauthn_handle IS NULL OR octet_length(webauthn_handle) = 16),
    -- Kept with the passkeys in one transaction: "has two-factor" is then a column test.
    ADD COLUMN passkey_count INTEGER NOT NULL DEFAULT 0 CHECK (passkey_count >= 0);

CREATE TABLE passkeys (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    credential_id BYTEA NOT NULL UNIQUE,
    -- The credential as webauthn-rs keeps it (public key, counter, flags): no secret.
    credential JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- A WebAuthn ceremony in progress: its state stays on the server (a client-held state could be
-- replayed), found by the SHA-256 of a token the session holds, used once, for five minutes.
CREATE TABLE webauthn_challenges (
    token_hash BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('register', 'authenticate', 'discover')),
    state JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webauthn_challenges_expiry_idx ON webauthn_challenges (expires_at);
