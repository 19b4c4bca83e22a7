-- Porchlight metadata, version 6: each household's storage quota in bytes
-- of ciphertext, set by the operator; 0 means no limit, which is what every
-- existing household gets. Usage is summed from objects by household, so
-- objects gain an index on (household, size) that answers the sum from the
-- index alone.
ALTER TABLE households ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0);
CREATE INDEX objects_household ON objects (household, size);
