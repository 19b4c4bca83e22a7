-- Porchlight metadata, version 6, for PostgreSQL: each household's storage
-- quota in bytes of ciphertext, set by the operator; 0 means no limit,
-- which is what every existing household gets. Usage is summed from
-- objects by household: the index on objects (household) becomes one on
-- (household, size), which still serves the foreign key and answers the
-- sum with an index-only scan.
ALTER TABLE households ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0);
DROP INDEX objects_household;
CREATE INDEX objects_household ON objects (household, size);
