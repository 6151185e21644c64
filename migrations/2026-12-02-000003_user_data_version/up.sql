-- A person's data version: a random value that changes, in the same transaction, whenever their
-- list of organizations changes (a membership added, removed, moved, or changed in role; an
-- organization renamed or changing its address or status). It is read with the session, and an
-- instance keeps the pages of a person's organization list under it, as member lists are kept
-- under the organization's version (`org_data_versions`, whose comments say why a table of its
-- own, why random, and why every row exists from the start). The triggers of an update run in
-- name order, so a statement on memberships moves organizations' versions before people's.
LOCK TABLE users, organizations, memberships IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE user_data_versions (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);
INSERT INTO user_data_versions (user_id, version) SELECT id, new_data_version() FROM users;

CREATE FUNCTION users_add_data_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO user_data_versions (user_id, version) VALUES (NEW.id, new_data_version());
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER users_data_version AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_add_data_version();

CREATE FUNCTION users_touch(ids BIGINT[]) RETURNS void AS $$
    WITH locked AS (SELECT user_id FROM user_data_versions
                    WHERE user_id = ANY(ids) ORDER BY user_id FOR UPDATE)
    UPDATE user_data_versions v SET version = new_data_version()
    FROM locked WHERE v.user_id = locked.user_id
$$ LANGUAGE sql;

-- Memberships added or removed (both triggers name their rows `touched`).
CREATE FUNCTION memberships_touch_people_rows() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(SELECT user_id FROM touched));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Memberships changed in what a person's list shows: the organization, the role, the
-- organization's name kept on them.
CREATE FUNCTION memberships_touch_people_changed() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(
        SELECT user_id FROM (
            (SELECT organization_id, user_id, role, org_name FROM after_rows
             EXCEPT ALL
             SELECT organization_id, user_id, role, org_name FROM before_rows)
            UNION ALL
            (SELECT organization_id, user_id, role, org_name FROM before_rows
             EXCEPT ALL
             SELECT organization_id, user_id, role, org_name FROM after_rows)) changed));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_touch_people_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS touched
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_people_rows();
CREATE TRIGGER memberships_touch_people_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS touched
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_people_rows();
CREATE TRIGGER memberships_touch_update_people AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_people_changed();

-- An organization changed in what its members' lists show: every member.
CREATE FUNCTION organizations_touch_people() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(SELECT user_id FROM memberships WHERE organization_id = NEW.id));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER organizations_touch_people AFTER UPDATE OF name, slug, status ON organizations
    FOR EACH ROW
    WHEN ((OLD.name, OLD.slug, OLD.status) IS DISTINCT FROM (NEW.name, NEW.slug, NEW.status))
    EXECUTE FUNCTION organizations_touch_people();

CREATE FUNCTION users_touch_all() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(SELECT id FROM users));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_touch_people_truncate AFTER TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION users_touch_all();
CREATE TRIGGER organizations_touch_people_truncate AFTER TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION users_touch_all();

-- A membership added while its organization is being renamed: the membership waits for the
-- rename (or the rename for the membership), so that neither the name it copies nor the people
-- the rename's trigger finds can miss the other.
CREATE OR REPLACE FUNCTION memberships_set_org_name() RETURNS trigger AS $$
BEGIN
    NEW.org_name := (SELECT name FROM organizations WHERE id = NEW.organization_id FOR NO KEY UPDATE);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
