DROP TABLE invitations;
DROP INDEX users_email_trgm_idx;
DROP INDEX users_name_trgm_idx;
DROP EXTENSION IF EXISTS pg_trgm;
