-- Accounts, organizations, memberships, environments, environment roles, email outbox,
-- sessions, sign-in throttling and the append-only audit log.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    email TEXT NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254 AND email = lower(email)),
    password_hash TEXT NOT NULL,
    email_verified_at TIMESTAMPTZ,
    is_operator BOOLEAN NOT NULL DEFAULT FALSE,
    last_sign_in_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Emails are stored lower-cased (checked above), so a plain unique index is case-insensitive.
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE organizations (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    slug TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND char_length(slug) <= 120),
    status TEXT NOT NULL DEFAULT 'sandbox' CHECK (status IN ('sandbox', 'live')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id, organization_id);

CREATE TABLE environments (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('development', 'staging', 'production')),
    UNIQUE (organization_id, kind),
    UNIQUE (id, organization_id)
);

-- Exactly three environments per organization: the unique (organization, kind) pair and the kind
-- check allow at most three; this deferred trigger demands all three when the organization's
-- transaction commits.
CREATE FUNCTION organizations_have_three_environments() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM organizations WHERE id = NEW.id)
       AND (SELECT count(*) FROM environments WHERE organization_id = NEW.id) <> 3 THEN
        RAISE EXCEPTION 'organization % must have exactly three environments', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER organizations_three_environments
    AFTER INSERT ON organizations DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION organizations_have_three_environments();

CREATE FUNCTION environments_are_fixed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'environments cannot be changed' USING ERRCODE = 'check_violation';
    END IF;
    -- A delete is only allowed as part of deleting the whole organization (cascade).
    IF EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id) THEN
        RAISE EXCEPTION 'environments cannot be deleted on their own' USING ERRCODE = 'check_violation';
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER environments_fixed
    BEFORE UPDATE OR DELETE ON environments
    FOR EACH ROW EXECUTE FUNCTION environments_are_fixed();

-- One role per environment and user; only members of the environment's organization hold one,
-- and removing the membership removes the roles.
CREATE TABLE environment_roles (
    environment_id BIGINT NOT NULL,
    organization_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'support', 'engineer')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, user_id),
    FOREIGN KEY (environment_id, organization_id) REFERENCES environments (id, organization_id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, user_id) REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX environment_roles_member_idx ON environment_roles (organization_id, user_id);

-- Single-use, expiring links sent by email (verification, password reset). Only a SHA-256 of the
-- token is kept.
CREATE TABLE account_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash BYTEA NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Server-side sessions, so that any instance serves any request and a password reset can end
-- every session of a user. The key is kept hashed.
CREATE TABLE sessions (
    key_hash BYTEA PRIMARY KEY CHECK (octet_length(key_hash) = 32),
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE sign_in_failures (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_email_idx ON sign_in_failures (email, failed_at);
CREATE INDEX sign_in_failures_ip_idx ON sign_in_failures (ip, failed_at);

-- A lock per 'email:...' or 'ip:...' key, set when failures reach the limit.
CREATE TABLE sign_in_locks (
    key TEXT PRIMARY KEY,
    locked_until TIMESTAMPTZ NOT NULL
);

CREATE TABLE email_outbox (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until TIMESTAMPTZ,
    last_error TEXT,
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX email_outbox_recipient_idx ON email_outbox (recipient, id);

-- The audit log keeps a copy of the organization name and no foreign keys, so it outlives
-- deleted organizations and users.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT,
    organization_name TEXT,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('visitor', 'user', 'api_key', 'operator', 'system')),
    actor_user_id BIGINT,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    details JSONB NOT NULL DEFAULT '{}'::jsonb,
    ip TEXT,
    user_agent TEXT,
    status TEXT NOT NULL CHECK (status IN ('attempted', 'successful', 'denied')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, created_at DESC, id DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id, created_at DESC);

CREATE FUNCTION audit_events_are_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_are_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_are_append_only();
