-- Porchlight metadata, version 9: a camera's settings (alerting zones) as an
-- owner-signed object sealed to its hub and the owner devices, which the
-- service stores without being able to read, and its version, which only
-- ever increases so an old copy cannot be put back.
ALTER TABLE cameras ADD COLUMN settings BLOB;
ALTER TABLE cameras ADD COLUMN settings_version INTEGER NOT NULL DEFAULT 0 CHECK (settings_version >= 0);
