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
ALTER TABLE users DROP COLUMN membership_count;
