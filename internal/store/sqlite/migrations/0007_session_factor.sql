-- Porchlight metadata, version 7: a session records whether its last full
-- authentication (auth_at) used a second factor, not a password alone;
-- approving support access needs one. Existing sessions get 0: they must
-- re-authenticate with a factor before such an approval.
ALTER TABLE sessions ADD COLUMN auth_factor INTEGER NOT NULL DEFAULT 0 CHECK (auth_factor IN (0, 1));
