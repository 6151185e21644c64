-- One case folding for names and the patterns searched for them, whatever the database's
-- locale: lower() under a cluster made with --no-locale folds ASCII only, while patterns were
-- folded by the application, so "Émile" found nobody named "Émile". ICU's root locale folds
-- every script the same way on every server of one ICU version (after an ICU upgrade, REINDEX
-- users_name_fold_trgm_idx and recompute memberships.sort_name, as for any collation).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
        RAISE EXCEPTION 'Gatehouse needs PostgreSQL built with ICU: the collation "und-x-icu" is missing';
    END IF;
END;
$$;

-- Reads go on; renames and new memberships wait for the index and the recomputed names.
LOCK TABLE users, memberships IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION fold_case(t TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(t COLLATE "und-x-icu") COLLATE "default" $$;

-- The index on lower(name) stays until a later release: instances of the previous release
-- search with it during a rolling deploy.
CREATE INDEX users_name_fold_trgm_idx ON users USING gin (fold_case(name) gin_trgm_ops);

CREATE OR REPLACE FUNCTION memberships_set_sort_name() RETURNS trigger AS $$
BEGIN
    NEW.sort_name := (SELECT fold_case(name) FROM users WHERE id = NEW.user_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION users_propagate_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET sort_name = fold_case(NEW.name) WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

UPDATE memberships m SET sort_name = fold_case(u.name)
FROM users u
WHERE u.id = m.user_id AND m.sort_name IS DISTINCT FROM fold_case(u.name);
