-- A member's environment roles, kept on the membership row ("kind:role,..."), so that a page of
-- members reads them with the page instead of looking up and joining two tables per row (two
-- thirds of the member page's buffer reads). Statement-level triggers on environment_roles keep
-- it in the transaction that changes the roles, whoever writes them.
ALTER TABLE memberships ADD COLUMN env_roles TEXT NOT NULL DEFAULT '';

CREATE FUNCTION memberships_env_roles_of(org BIGINT, member BIGINT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(e.kind || ':' || er.role, ',' ORDER BY e.kind), '')
    FROM environment_roles er JOIN environments e ON e.id = er.environment_id
    WHERE er.organization_id = org AND er.user_id = member
$$;

UPDATE memberships m SET env_roles = memberships_env_roles_of(m.organization_id, m.user_id)
WHERE EXISTS (SELECT 1 FROM environment_roles er
              WHERE er.organization_id = m.organization_id AND er.user_id = m.user_id);

CREATE FUNCTION memberships_env_roles_added() RETURNS trigger AS $$
BEGIN
    UPDATE memberships m SET env_roles = memberships_env_roles_of(m.organization_id, m.user_id)
    FROM (SELECT DISTINCT organization_id, user_id FROM added) c
    WHERE m.organization_id = c.organization_id AND m.user_id = c.user_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION memberships_env_roles_removed() RETURNS trigger AS $$
BEGIN
    UPDATE memberships m SET env_roles = memberships_env_roles_of(m.organization_id, m.user_id)
    FROM (SELECT DISTINCT organization_id, user_id FROM removed) c
    WHERE m.organization_id = c.organization_id AND m.user_id = c.user_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION memberships_env_roles_changed() RETURNS trigger AS $$
BEGIN
    UPDATE memberships m SET env_roles = memberships_env_roles_of(m.organization_id, m.user_id)
    FROM (SELECT organization_id, user_id FROM added UNION SELECT organization_id, user_id FROM removed) c
    WHERE m.organization_id = c.organization_id AND m.user_id = c.user_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER environment_roles_insert AFTER INSERT ON environment_roles
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_added();
CREATE TRIGGER environment_roles_delete AFTER DELETE ON environment_roles
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_removed();
CREATE TRIGGER environment_roles_update AFTER UPDATE ON environment_roles
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_changed();

-- The member page reads the roles from the membership, and a page deep in the list is cut from
-- the nearer end of the index: the last page of 10,000 members walked 10,000 index entries to
-- skip them (2.5 ms); from the end it walks its own rows.
CREATE OR REPLACE FUNCTION member_page(org BIGINT, lim BIGINT, skip BIGINT)
RETURNS TABLE (id BIGINT, name TEXT, email TEXT, role TEXT, joined_at TIMESTAMPTZ,
               last_sign_in_at TIMESTAMPTZ, two_factor BOOLEAN, total BIGINT, env_roles TEXT)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    members BIGINT;
BEGIN
    SELECT o.member_count INTO members FROM organizations o WHERE o.id = org;
    IF skip > members / 2 THEN
        RETURN QUERY
        SELECT p.user_id, u.name, u.email, p.role, p.created_at, u.last_sign_in_at,
               (u.totp_enabled_at IS NOT NULL OR u.passkey_count > 0), members, p.env_roles
        FROM (SELECT m.user_id, m.role, m.created_at, m.sort_name, m.env_roles
              FROM memberships m
              WHERE m.organization_id = org
              ORDER BY m.sort_name DESC, m.user_id DESC
              LIMIT greatest(least(lim, members - skip), 0) OFFSET greatest(members - skip - lim, 0)) p
        CROSS JOIN LATERAL (SELECT x.name, x.email, x.last_sign_in_at, x.totp_enabled_at, x.passkey_count
                            FROM users x WHERE x.id = p.user_id OFFSET 0) u
        ORDER BY p.sort_name, p.user_id;
    ELSE
        RETURN QUERY
        SELECT p.user_id, u.name, u.email, p.role, p.created_at, u.last_sign_in_at,
               (u.totp_enabled_at IS NOT NULL OR u.passkey_count > 0), members, p.env_roles
        FROM (SELECT m.user_id, m.role, m.created_at, m.sort_name, m.env_roles
              FROM memberships m
              WHERE m.organization_id = org
              ORDER BY m.sort_name, m.user_id
              LIMIT lim OFFSET skip) p
        CROSS JOIN LATERAL (SELECT x.name, x.email, x.last_sign_in_at, x.totp_enabled_at, x.passkey_count
                            FROM users x WHERE x.id = p.user_id OFFSET 0) u
        ORDER BY p.sort_name, p.user_id;
    END IF;
END $$;
