-- The organization's name on each membership, as sort_name carries the person's: a person's
-- organization list (and the switcher on every page) is then cut from one index in name order
-- instead of joining and sorting all their organizations (up to 400) on every page.
-- Instances still running the previous release may rename organizations or add members while
-- this migrates: hold them back until the triggers below are in place (one transaction).
LOCK TABLE organizations, memberships IN SHARE ROW EXCLUSIVE MODE;
ALTER TABLE memberships ADD COLUMN org_name TEXT NOT NULL DEFAULT '';
UPDATE memberships m SET org_name = o.name FROM organizations o WHERE o.id = m.organization_id;
CREATE INDEX memberships_user_org_name_idx ON memberships (user_id, org_name, organization_id);

CREATE FUNCTION memberships_set_org_name() RETURNS trigger AS $$
BEGIN
    NEW.org_name := (SELECT name FROM organizations WHERE id = NEW.organization_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER memberships_org_name
    BEFORE INSERT OR UPDATE OF organization_id ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_set_org_name();

CREATE FUNCTION organizations_propagate_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET org_name = NEW.name WHERE organization_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER organizations_name
    AFTER UPDATE OF name ON organizations
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION organizations_propagate_name();
