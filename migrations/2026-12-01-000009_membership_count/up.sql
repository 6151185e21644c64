-- How many organizations a person belongs to, kept on their row by the same statement triggers
-- that keep organizations.member_count. It comes with the signed-in user's row (read with the
-- session), so the organization list and the switcher know their total without counting, and
-- pick the statement that suits one organization or 400.
ALTER TABLE users ADD COLUMN membership_count INTEGER NOT NULL DEFAULT 0 CHECK (membership_count >= 0);
UPDATE users u SET membership_count = n.c
FROM (SELECT user_id, count(*) AS c FROM memberships GROUP BY user_id) n WHERE u.id = n.user_id;

CREATE OR REPLACE FUNCTION memberships_count_added() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o SET member_count = o.member_count + n.changed
    FROM (SELECT organization_id, count(*) AS changed FROM added GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    UPDATE users u SET membership_count = u.membership_count + n.changed
    FROM (SELECT user_id, count(*) AS changed FROM added GROUP BY user_id) n
    WHERE u.id = n.user_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION memberships_count_removed() RETURNS trigger AS $$
BEGIN
    UPDATE organizations o SET member_count = o.member_count - n.changed
    FROM (SELECT organization_id, count(*) AS changed FROM removed GROUP BY organization_id) n
    WHERE o.id = n.organization_id;
    UPDATE users u SET membership_count = u.membership_count - n.changed
    FROM (SELECT user_id, count(*) AS changed FROM removed GROUP BY user_id) n
    WHERE u.id = n.user_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
