-- A member's environment roles, kept on the membership row ("kind:role,..."), so that a page of
-- members reads them with the page instead of looking up and joining two tables per row (two
-- thirds of the member page's buffer reads). Statement-level triggers on environment_roles keep
-- it in the transaction that changes the roles, whoever writes them.
-- Instances still running the previous release may change roles while this migrates: hold
-- their changes back until the triggers below are in place (the migration is one transaction).
LOCK TABLE environment_roles IN SHARE ROW EXCLUSIVE MODE;
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

-- Refreshes the memberships whose roles a statement changed; every trigger below names the
-- rows it saw `changed` (an UPDATE has one trigger for the rows before and one for after, so
-- that a row moved to another member refreshes both).
CREATE FUNCTION memberships_env_roles_refresh() RETURNS trigger AS $$
BEGIN
    UPDATE memberships m SET env_roles = memberships_env_roles_of(m.organization_id, m.user_id)
    FROM (SELECT DISTINCT organization_id, user_id FROM changed) c
    WHERE m.organization_id = c.organization_id AND m.user_id = c.user_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER environment_roles_insert AFTER INSERT ON environment_roles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_refresh();
CREATE TRIGGER environment_roles_delete AFTER DELETE ON environment_roles
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_refresh();
CREATE TRIGGER environment_roles_update_before AFTER UPDATE ON environment_roles
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_refresh();
CREATE TRIGGER environment_roles_update_after AFTER UPDATE ON environment_roles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memberships_env_roles_refresh();

-- The member page and the access check are prepared statements now (db::Prepared); the
-- `member_page` and `org_access` functions stay until a later release, for the instances of the
-- previous release still running during a rolling deploy.
