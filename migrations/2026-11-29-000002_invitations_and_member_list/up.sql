-- Invitations by email, and what the Active users list and search need.

-- Members are listed by name; a copy of the lower-cased name on the membership lets one index
-- serve "an organization's members in name order" without sorting every member per page.
ALTER TABLE memberships ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
UPDATE memberships m SET sort_name = lower(u.name) FROM users u WHERE u.id = m.user_id;
CREATE INDEX memberships_sort_name_idx ON memberships (organization_id, sort_name, user_id);

CREATE FUNCTION memberships_set_sort_name() RETURNS trigger AS $$
BEGIN
    NEW.sort_name := (SELECT lower(name) FROM users WHERE id = NEW.user_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER memberships_sort_name
    BEFORE INSERT OR UPDATE OF user_id ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_set_sort_name();

CREATE FUNCTION users_propagate_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET sort_name = lower(NEW.name) WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_sort_name
    AFTER UPDATE OF name ON users
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION users_propagate_sort_name();

-- Trigram indexes serve "name or email contains …" searches over large organizations.
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_name_trgm_idx ON users USING gin (lower(name) gin_trgm_ops);
CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);

CREATE TABLE invitations (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    -- Environment roles granted on acceptance: {"staging": "viewer", ...}.
    environment_roles JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(environment_roles) = 'object'),
    -- Only a SHA-256 of the token is kept; the token itself is only in the email.
    token_hash BYTEA NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    invited_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    invited_by_name TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    last_sent_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    send_count INTEGER NOT NULL DEFAULT 1 CHECK (send_count >= 1),
    outbox_id BIGINT REFERENCES email_outbox (id) ON DELETE SET NULL,
    responded_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One open invitation per address and organization.
CREATE UNIQUE INDEX invitations_one_pending_idx ON invitations (organization_id, email) WHERE status = 'pending';
CREATE INDEX invitations_org_idx ON invitations (organization_id, created_at DESC, id DESC);
CREATE INDEX invitations_email_idx ON invitations (email) WHERE status = 'pending';
CREATE INDEX invitations_outbox_idx ON invitations (outbox_id);
CREATE INDEX invitations_sent_idx ON invitations (organization_id, last_sent_at);
