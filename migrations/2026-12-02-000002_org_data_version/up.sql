-- An organization's data version: a number that changes, in the same transaction, whenever
-- anything its member lists show changes (a membership, a role, a member's own row). An
-- instance keeps the pages of member lists it has read under the version they were read at; the
-- access check reads the version with the organization, so a page kept under an older version
-- is never shown, on any instance.
ALTER TABLE organizations ADD COLUMN data_version BIGINT NOT NULL DEFAULT 0;

-- Moves the version of each organization of `ids` on, locking them in one order (id) so that two
-- transactions touching the same organizations cannot deadlock on them.
CREATE FUNCTION organizations_touch(ids BIGINT[]) RETURNS void AS $$
    WITH locked AS (SELECT id FROM organizations WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE)
    UPDATE organizations o SET data_version = o.data_version + 1 FROM locked WHERE o.id = locked.id
$$ LANGUAGE sql;

-- Memberships added or removed: the count triggers move the version in the same update.
CREATE OR REPLACE FUNCTION memberships_count_added() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o
    SET member_count = o.member_count + n.changed, data_version = o.data_version + 1
    FROM (SELECT organization_id, count(*) AS changed FROM added GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION memberships_count_removed() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o
    SET member_count = o.member_count - n.changed, data_version = o.data_version + 1
    FROM (SELECT organization_id, count(*) AS changed FROM removed GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Memberships changed: a role, the environment roles kept on them, a member's sorted name.
CREATE FUNCTION memberships_touch_changed() RETURNS trigger AS $$
BEGIN
    PERFORM organizations_touch(ARRAY(SELECT DISTINCT organization_id FROM changed));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_touch_update AFTER UPDATE ON memberships
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_changed();

-- A member's own row changed (any column: name, email, last sign-in, two-factor, and whatever a
-- list shows later): every organization they belong to.
CREATE FUNCTION users_touch_organizations() RETURNS trigger AS $$
BEGIN
    PERFORM organizations_touch(ARRAY(
        SELECT DISTINCT m.organization_id
        FROM after_rows a
        JOIN before_rows b ON b.id = a.id
        JOIN memberships m ON m.user_id = a.id
        WHERE a IS DISTINCT FROM b));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER users_touch_organizations AFTER UPDATE ON users
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION users_touch_organizations();
