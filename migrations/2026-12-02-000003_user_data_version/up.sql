-- A person's data version: a random value that changes, in the same transaction, whenever their
-- list of organizations changes (a membership added, removed, moved, or changed in role; an
-- organization renamed or changing its address or status). It is read with the session, and an
-- instance keeps the pages of a person's organization list under it, as member lists are kept
-- under the organization's version (`org_data_versions`, whose comments say why a table of its
-- own and why random). A person without a row has version 0 until their first change.
CREATE TABLE user_data_versions (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

CREATE FUNCTION users_touch(ids BIGINT[]) RETURNS void AS $$
    INSERT INTO user_data_versions (user_id, version)
    SELECT t.person, floor(random() * 4503599627370496)::bigint
    FROM (SELECT DISTINCT u.person FROM unnest(ids) AS u(person)) t
    WHERE EXISTS (SELECT 1 FROM users x WHERE x.id = t.person)
    ORDER BY t.person
    ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version
$$ LANGUAGE sql;

CREATE FUNCTION memberships_touch_people_added() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(SELECT user_id FROM added));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION memberships_touch_people_removed() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(SELECT user_id FROM removed));
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
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_people_added();
CREATE TRIGGER memberships_touch_people_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_people_removed();
CREATE TRIGGER memberships_touch_people_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_touch_people_changed();

-- An organization changed in what its members' lists show: every member.
CREATE FUNCTION organizations_touch_people() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(
        SELECT m.user_id
        FROM after_rows a
        JOIN before_rows b ON b.id = a.id
        JOIN memberships m ON m.organization_id = a.id
        WHERE (a.name, a.slug, a.status) IS DISTINCT FROM (b.name, b.slug, b.status)));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER organizations_touch_people AFTER UPDATE ON organizations
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organizations_touch_people();

CREATE FUNCTION users_touch_all() RETURNS trigger AS $$
BEGIN
    PERFORM users_touch(ARRAY(SELECT id FROM users));
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_touch_people_truncate AFTER TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION users_touch_all();
CREATE TRIGGER organizations_touch_people_truncate AFTER TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION users_touch_all();
