CREATE OR REPLACE FUNCTION memberships_set_sort_name() RETURNS trigger AS $$
BEGIN
    NEW.sort_name := (SELECT fold_case(name) FROM users WHERE id = NEW.user_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER users_touch_truncate ON users;
DROP TRIGGER memberships_touch_truncate ON memberships;
DROP FUNCTION organizations_touch_all();
DROP TRIGGER users_touch_organizations ON users;
DROP FUNCTION users_touch_organizations();
DROP TRIGGER memberships_touch_update ON memberships;
DROP TRIGGER memberships_touch_delete ON memberships;
DROP TRIGGER memberships_touch_insert ON memberships;
DROP FUNCTION memberships_touch_changed();
DROP FUNCTION memberships_touch_rows();
DROP FUNCTION organizations_touch(BIGINT[]);
DROP TRIGGER organizations_data_version ON organizations;
DROP FUNCTION organizations_add_data_version();
DROP TABLE org_data_versions;
DROP FUNCTION new_data_version();
