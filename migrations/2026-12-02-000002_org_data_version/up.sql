-- An organization's data version: a value that changes, in the same transaction, whenever
-- anything its member lists show changes (a membership, a role, the environment roles kept on
-- it, a member's name, email, last sign-in or two-factor). An instance keeps the pages of member
-- lists it has read under the version they were read at; the access check reads the version
-- with the organization on every request, so a kept page is never shown once the database
-- holds something else, whichever instance made the change.
--
-- Versions live in their own table, not on the organization's row: they are moved by triggers
-- on users and memberships, and must not wait for (or deadlock with) the transactions that hold
-- an organization's row locked. Each new version is random rather than the next number, so that
-- no value comes back after a restore or a failover that lost commits: a page kept under a
-- value the database no longer has is never served again. Every organization has its row from
-- its creation, so moving a version is an update that never waits on the organization's row (a
-- first insert would, for its foreign key, while a transaction holds the organization locked).
-- Version 0 is never a real one: an instance keeps nothing under it.

-- Instances of the previous release may add members or rename people while this migrates: hold
-- them back until the triggers are in place (one transaction).
LOCK TABLE users, organizations, memberships IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION new_data_version() RETURNS BIGINT AS $$
    SELECT 1 + floor(random() * 4503599627370495)::bigint
$$ LANGUAGE sql VOLATILE;

CREATE TABLE org_data_versions (
    organization_id BIGINT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);
INSERT INTO org_data_versions (organization_id, version) SELECT id, new_data_version() FROM organizations;

CREATE FUNCTION organizations_add_data_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO org_data_versions (organization_id, version) VALUES (NEW.id, new_data_version());
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER organizations_data_version AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION organizations_add_data_version();

-- New versions for the organizations `ids`, taken in one order (id) so that two transactions
-- moving the same versions cannot deadlock on them.
CREATE FUNCTION organizations_touch(ids BIGINT[]) RETURNS void AS $$
    WITH locked AS (SELECT organization_id FROM org_data_versions
                    WHERE organization_id = ANY(ids) ORDER BY organization_id FOR UPDATE)
    UPDATE org_data_versions v SET version = new_data_version()
    FROM locked WHERE v.organization_id = locked.organization_id
$$ LANGUAGE sql;

-- Memberships added or removed (both triggers name their rows `touched`).
CREATE FUNCTION memberships_touch_rows() RETURNS trigger AS $$
BEGIN
    PERFORM organizations_touch(ARRAY(SELECT organization_id FROM touched));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Memberships changed in what a list shows (the role, the environment roles kept on them, when
-- they joined), or moved: the organizations before and after. A member's sorted name follows
-- their users row, whose own trigger moves the versions; an organization's name on its
-- memberships is not on its member lists.
CREATE FUNCTION memberships_touch_changed() RETURNS trigger AS $$
BEGIN
    PERFORM organizations_touch(ARRAY(
        SELECT organization_id FROM (
            (SELECT organization_id, user_id, role, env_roles, created_at FROM after_rows
             EXCEPT ALL
             SELECT organization_id, user_id, role, env_roles, created_at FROM before_rows)
            UNION ALL
            (SELECT organization_id, user_id, role, env_roles, created_at FROM before_rows
             EXCEPT ALL
             SELECT organization_id, user_id, role, env_roles, created_at FROM after_rows)) changed));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_touch_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_rows();
CREATE TRIGGER memberships_touch_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_rows();
CREATE TRIGGER memberships_touch_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_changed();

-- A member's row changed in what a list shows: every organization they belong to. (A list that
-- shows another column must be added here.)
CREATE FUNCTION users_touch_organizations() RETURNS trigger AS $$
BEGIN
    PERFORM organizations_touch(ARRAY(
        SELECT m.organization_id
        FROM after_rows a
        JOIN before_rows b ON b.id = a.id
        JOIN memberships m ON m.user_id = a.id
        WHERE (a.name, a.email, a.last_sign_in_at, a.totp_enabled_at, a.passkey_count)
              IS DISTINCT FROM (b.name, b.email, b.last_sign_in_at, b.totp_enabled_at, b.passkey_count)));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER users_touch_organizations AFTER UPDATE ON users
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION users_touch_organizations();

-- Emptied wholesale: every organization.
CREATE FUNCTION organizations_touch_all() RETURNS trigger AS $$
BEGIN
    PERFORM organizations_touch(ARRAY(SELECT id FROM organizations));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_touch_truncate AFTER TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION organizations_touch_all();
CREATE TRIGGER users_touch_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION organizations_touch_all();

-- A membership added while its user's row is being changed: the membership waits for the
-- change (or the change for the membership), so that the users trigger above sees every
-- membership of the person it changed.
CREATE OR REPLACE FUNCTION memberships_set_sort_name() RETURNS trigger AS $$
BEGIN
    NEW.sort_name := (SELECT fold_case(name) FROM users WHERE id = NEW.user_id FOR SHARE);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
