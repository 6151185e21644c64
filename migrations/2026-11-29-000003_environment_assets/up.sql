-- Assets of an environment: configuration values and environment API keys. They belong to the
-- organization: removing the member who created one leaves it in place (creator set to NULL
-- only when the account itself is deleted).

CREATE TABLE config_values (
    id BIGSERIAL PRIMARY KEY,
    environment_id BIGINT NOT NULL,
    organization_id BIGINT NOT NULL,
    key TEXT NOT NULL CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$'),
    value TEXT NOT NULL CHECK (char_length(value) <= 4096),
    secret BOOLEAN NOT NULL DEFAULT FALSE,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    updated_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (environment_id, organization_id) REFERENCES environments (id, organization_id) ON DELETE CASCADE,
    UNIQUE (environment_id, key)
);

CREATE TABLE environment_api_keys (
    id BIGSERIAL PRIMARY KEY,
    environment_id BIGINT NOT NULL,
    organization_id BIGINT NOT NULL,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- The first characters of the key, shown so people can tell keys apart.
    prefix TEXT NOT NULL,
    -- Only a SHA-256 of the key is kept; the key itself is shown once.
    key_hash BYTEA NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    FOREIGN KEY (environment_id, organization_id) REFERENCES environments (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX environment_api_keys_env_idx ON environment_api_keys (environment_id, created_at DESC);

-- Counting an environment's users and listing them by role.
CREATE INDEX environment_roles_env_idx ON environment_roles (environment_id, role);
