CREATE OR REPLACE FUNCTION memberships_set_sort_name() RETURNS trigger AS $$
BEGIN
    NEW.sort_name := (SELECT lower(name) FROM users WHERE id = NEW.user_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION users_propagate_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET sort_name = lower(NEW.name) WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

UPDATE memberships m SET sort_name = lower(u.name)
FROM users u
WHERE u.id = m.user_id AND m.sort_name IS DISTINCT FROM lower(u.name);

DROP INDEX users_name_fold_trgm_idx;
DROP FUNCTION fold_case(TEXT);
