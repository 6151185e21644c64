-- The access check of every organization page and API call (`db::orgs::access`), as a function
-- so that its plan is cached per connection. Its plan must not depend on the values: a person in
-- 400 organizations and a person in one both start from the organization (by slug or id), then
-- look up their membership by its key (the LATERAL ... OFFSET 0 keeps the planner from starting
-- from the person's memberships, which a generic plan did: 6 ms instead of 0.1 ms).
CREATE FUNCTION org_access(member BIGINT, by_slug TEXT, by_id BIGINT)
RETURNS TABLE (id BIGINT, name TEXT, slug TEXT, status TEXT, created_at TIMESTAMPTZ,
               require_two_factor BOOLEAN, member_role TEXT, env_id BIGINT, env_kind TEXT,
               env_role TEXT, two_factor BOOLEAN)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    org BIGINT := by_id;
BEGIN
    IF by_slug IS NOT NULL THEN
        SELECT o.id INTO org FROM organizations o WHERE o.slug = by_slug;
    END IF;
    RETURN QUERY
    SELECT o.id, o.name, o.slug, o.status, o.created_at, o.require_two_factor,
           m.role, e.id, e.kind, er.role,
           (u.totp_enabled_at IS NOT NULL OR u.passkey_count > 0)
    FROM organizations o
    CROSS JOIN LATERAL (SELECT x.role FROM memberships x
                        WHERE x.organization_id = o.id AND x.user_id = member OFFSET 0) m
    JOIN users u ON u.id = member
    JOIN environments e ON e.organization_id = o.id
    LEFT JOIN environment_roles er ON er.environment_id = e.id AND er.user_id = member
    WHERE o.id = org;
END $$;
