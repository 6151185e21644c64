CREATE OR REPLACE FUNCTION memberships_set_org_name() RETURNS trigger AS $$
BEGIN
    NEW.org_name := (SELECT name FROM organizations WHERE id = NEW.organization_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER organizations_touch_people_truncate ON organizations;
DROP TRIGGER memberships_touch_people_truncate ON memberships;
DROP FUNCTION users_touch_all();
DROP TRIGGER organizations_touch_people ON organizations;
DROP FUNCTION organizations_touch_people();
DROP TRIGGER memberships_touch_update_people ON memberships;
DROP TRIGGER memberships_touch_people_delete ON memberships;
DROP TRIGGER memberships_touch_people_insert ON memberships;
DROP FUNCTION memberships_touch_people_changed();
DROP FUNCTION memberships_touch_people_rows();
DROP FUNCTION users_touch(BIGINT[]);
DROP TRIGGER users_data_version ON users;
DROP FUNCTION users_add_data_version();
DROP TABLE user_data_versions;
