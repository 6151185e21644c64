-- Each instance keeps the members' access it has read (the role, the environment roles and
-- two-factor of a member: `db::orgs::KeptAccess`) under the organization's data version, so
-- every change to a member's access must move that version in its own transaction. Memberships
-- and members' two-factor already do (`2026-12-02-000002_org_data_version`); environment roles
-- did only through the roles kept on the membership row (`memberships.env_roles`), whose refresh
-- reads the roles as its statement began and so could, with two transactions changing one
-- member's roles at once, leave the row as it was. Here every statement that changes
-- environment roles moves the versions of their organizations itself. The triggers are named to
-- fire after that refresh (triggers on one event fire in name order), so that a change takes
-- the membership's row before the version, as a change of role does.

-- Instances of the previous release may change roles while this migrates: hold them back until
-- the triggers are in place (the migration is one transaction).
LOCK TABLE memberships, environment_roles IN SHARE ROW EXCLUSIVE MODE;

-- `memberships_touch_rows` moves the versions of the organizations of the rows it is given as
-- `touched`; an UPDATE has one trigger for the rows before and one for after.
CREATE TRIGGER environment_roles_version_insert AFTER INSERT ON environment_roles
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_rows();
CREATE TRIGGER environment_roles_version_delete AFTER DELETE ON environment_roles
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_rows();
CREATE TRIGGER environment_roles_version_update_before AFTER UPDATE ON environment_roles
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_rows();
CREATE TRIGGER environment_roles_version_update_after AFTER UPDATE ON environment_roles
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_rows();
CREATE TRIGGER environment_roles_version_truncate AFTER TRUNCATE ON environment_roles
    FOR EACH STATEMENT EXECUTE FUNCTION organizations_touch_all();

-- A membership is never moved to another person or organization (a new membership is added
-- instead): a move would escape the person's trigger, which finds their organizations while
-- holding no lock against it, and leave a kept two-factor under the new organization's version.
CREATE FUNCTION memberships_are_not_moved() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a membership cannot move to another person or organization'
        USING ERRCODE = 'check_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_not_moved
    BEFORE UPDATE OF organization_id, user_id ON memberships
    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION memberships_are_not_moved();
