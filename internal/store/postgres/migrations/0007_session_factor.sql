-- Porchlight metadata, version 7, for PostgreSQL: a session records
-- whether its last full authentication (auth_at) used a second factor, not
-- a password alone; approving support access needs one. Existing sessions
-- get false: they must re-authenticate with a factor before such an
-- approval.
ALTER TABLE sessions ADD COLUMN auth_factor BOOLEAN NOT NULL DEFAULT false;
