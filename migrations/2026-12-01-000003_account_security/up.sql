-- Account security (DESIGN §14).

-- Two-factor: the TOTP secret is stored encrypted (AES-256-GCM with a key derived from the
-- session key or DATA_KEY: nonce, then ciphertext). It is enabled once a code confirmed it; the
-- last time step accepted keeps a code from working twice. `pending_email` waits for its link.
ALTER TABLE users
    ADD COLUMN totp_secret BYTEA CHECK (totp_secret IS NULL OR octet_length(totp_secret) BETWEEN 28 AND 128),
    ADD COLUMN totp_enabled_at TIMESTAMPTZ,
    ADD COLUMN totp_last_step BIGINT,
    ADD COLUMN pending_email TEXT CHECK (pending_email IS NULL OR char_length(pending_email) BETWEEN 3 AND 254);

-- Ten single-use recovery codes per account, only their SHA-256 kept.
CREATE TABLE recovery_codes (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL CHECK (octet_length(code_hash) = 32),
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- An email change is confirmed by a link sent to the new address.
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));

-- The organization's sign-in policy.
ALTER TABLE organizations ADD COLUMN require_two_factor BOOLEAN NOT NULL DEFAULT false;

-- Personal keys expire (or not, when chosen), remember where they were last used, and their
-- owner is reminded a week before.
ALTER TABLE personal_api_keys
    ADD COLUMN expires_at TIMESTAMPTZ,
    ADD COLUMN last_used_ip TEXT,
    ADD COLUMN expiry_reminded_at TIMESTAMPTZ;
CREATE INDEX personal_api_keys_expiry_idx ON personal_api_keys (expires_at)
    WHERE revoked_at IS NULL AND expiry_reminded_at IS NULL AND expires_at IS NOT NULL;

-- The account's security log reads failed sign-ins by the address they named.
CREATE INDEX audit_events_sign_in_failed_idx ON audit_events (target, created_at DESC)
    WHERE action = 'user.sign_in_failed';
