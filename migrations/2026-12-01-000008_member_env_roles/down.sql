DROP TRIGGER environment_roles_update ON environment_roles;
DROP TRIGGER environment_roles_delete ON environment_roles;
DROP TRIGGER environment_roles_insert ON environment_roles;
DROP FUNCTION memberships_env_roles_changed();
DROP FUNCTION memberships_env_roles_removed();
DROP FUNCTION memberships_env_roles_added();
DROP FUNCTION memberships_env_roles_of(BIGINT, BIGINT);
ALTER TABLE memberships DROP COLUMN env_roles;
