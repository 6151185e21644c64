DROP TRIGGER environment_roles_update_after ON environment_roles;
DROP TRIGGER environment_roles_update_before ON environment_roles;
DROP TRIGGER environment_roles_delete ON environment_roles;
DROP TRIGGER environment_roles_insert ON environment_roles;
DROP FUNCTION memberships_env_roles_refresh();
DROP FUNCTION memberships_env_roles_of(BIGINT, BIGINT);
ALTER TABLE memberships DROP COLUMN env_roles;
