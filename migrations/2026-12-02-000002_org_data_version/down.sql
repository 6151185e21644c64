DROP TRIGGER users_touch_organizations ON users;
DROP FUNCTION users_touch_organizations();
DROP TRIGGER memberships_touch_update ON memberships;
DROP FUNCTION memberships_touch_changed();

CREATE OR REPLACE FUNCTION memberships_count_added() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o SET member_count = o.member_count + n.changed
    FROM (SELECT organization_id, count(*) AS changed FROM added GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION memberships_count_removed() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o SET member_count = o.member_count - n.changed
    FROM (SELECT organization_id, count(*) AS changed FROM removed GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

DROP FUNCTION organizations_touch(BIGINT[]);
ALTER TABLE organizations DROP COLUMN data_version;
