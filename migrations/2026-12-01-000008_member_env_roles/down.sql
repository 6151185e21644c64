DROP TRIGGER environment_roles_update ON environment_roles;
DROP TRIGGER environment_roles_delete ON environment_roles;
DROP TRIGGER environment_roles_insert ON environment_roles;
DROP FUNCTION memberships_env_roles_changed();
DROP FUNCTION memberships_env_roles_removed();
DROP FUNCTION memberships_env_roles_added();
DROP FUNCTION memberships_env_roles_of(BIGINT, BIGINT);
DROP FUNCTION member_page(BIGINT, BIGINT, BIGINT);
ALTER TABLE memberships DROP COLUMN env_roles;
CREATE FUNCTION member_page(org BIGINT, lim BIGINT, skip BIGINT)
RETURNS TABLE (id BIGINT, name TEXT, email TEXT, role TEXT, joined_at TIMESTAMPTZ,
               last_sign_in_at TIMESTAMPTZ, two_factor BOOLEAN, total BIGINT, env_roles TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT p.user_id, u.name, u.email, p.role, p.created_at, u.last_sign_in_at,
           (u.totp_enabled_at IS NOT NULL OR u.passkey_count > 0),
           (SELECT o.member_count::bigint FROM organizations o WHERE o.id = org),
           coalesce((SELECT string_agg(e.kind || ':' || er.role, ',')
                     FROM environment_roles er JOIN environments e ON e.id = er.environment_id
                     WHERE er.organization_id = org AND er.user_id = p.user_id), '')
    FROM (SELECT m.user_id, m.role, m.created_at, m.sort_name
          FROM memberships m
          WHERE m.organization_id = org
          ORDER BY m.sort_name, m.user_id
          LIMIT lim OFFSET skip) p
    CROSS JOIN LATERAL (SELECT x.name, x.email, x.last_sign_in_at, x.totp_enabled_at, x.passkey_count
                        FROM users x WHERE x.id = p.user_id OFFSET 0) u
    ORDER BY p.sort_name, p.user_id;
END $$;
