-- One case folding for names and the patterns searched for them, whatever the database's
-- locale: lower() under a cluster made with --no-locale folds ASCII only, while patterns were
-- folded by the application, so "Émile" found nobody named "Émile". ICU's root locale folds
-- every script the same way on every server. (The result is labelled with the default
-- collation again so that PostgreSQL inlines the function into the statements and indexes
-- using it.)
CREATE FUNCTION fold_case(t TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(t COLLATE "und-x-icu") COLLATE "default" $$;

DROP INDEX users_name_trgm_idx;
CREATE INDEX users_name_trgm_idx ON users USING gin (fold_case(name) gin_trgm_ops);

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
