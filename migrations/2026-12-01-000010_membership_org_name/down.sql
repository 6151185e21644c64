DROP TRIGGER organizations_name ON organizations;
DROP FUNCTION organizations_propagate_name();
DROP TRIGGER memberships_org_name ON memberships;
DROP FUNCTION memberships_set_org_name();
DROP INDEX memberships_user_org_name_idx;
ALTER TABLE memberships DROP COLUMN org_name;
