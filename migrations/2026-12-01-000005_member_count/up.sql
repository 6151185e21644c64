-- An organization's member count, kept on its row so the member list's total is one lookup
-- instead of counting up to 10,000 index entries per page. Statement-level triggers keep it, in
-- the transaction that adds or removes memberships (a bulk insert updates it once).
ALTER TABLE organizations ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0);
UPDATE organizations o SET member_count = (SELECT count(*) FROM memberships m WHERE m.organization_id = o.id);

CREATE FUNCTION memberships_count_added() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o SET member_count = o.member_count + n.changed
    FROM (SELECT organization_id, count(*) AS changed FROM added GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION memberships_count_removed() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o SET member_count = o.member_count - n.changed
    FROM (SELECT organization_id, count(*) AS changed FROM removed GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_added();
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_removed();
