DROP TRIGGER memberships_count_delete ON memberships;
DROP TRIGGER memberships_count_insert ON memberships;
DROP FUNCTION memberships_count_removed();
DROP FUNCTION memberships_count_added();
ALTER TABLE organizations DROP COLUMN member_count;
