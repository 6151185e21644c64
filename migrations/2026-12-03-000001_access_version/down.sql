DROP TRIGGER memberships_not_moved ON memberships;
DROP FUNCTION memberships_are_not_moved();
DROP TRIGGER environment_roles_version_truncate ON environment_roles;
DROP TRIGGER environment_roles_version_update ON environment_roles;
DROP TRIGGER environment_roles_version_delete ON environment_roles;
DROP TRIGGER environment_roles_version_insert ON environment_roles;
DROP FUNCTION environment_roles_touch_moved();
DROP FUNCTION environment_roles_touch();
