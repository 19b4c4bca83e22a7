-- Porchlight metadata, version 5: staff organisation and country, support
-- grants and the audit log index. Times are INTEGER unix microseconds
-- (UTC), 0 for "none".

-- Staff accounts say whom they work for and where; '' for customers.
ALTER TABLE accounts ADD COLUMN org TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN country TEXT NOT NULL DEFAULT '';

-- A support request and, once approved, the grant. The wraps an approval
-- releases live in wraps under device_id 'grant:' || id, so shredding an
-- epoch or deleting a camera removes them like any device's. camera_id is
-- the signed grant's camera and carries no foreign key: deleting a camera
-- leaves the grant's record. requester is the support account's id, kept
-- as text so the record outlives the account. signed is the owner-signed
-- seal.Grant (NULL until approved); duration_ns is a Go time.Duration.
CREATE TABLE grants (
	id          TEXT PRIMARY KEY,
	household   TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	requester   TEXT NOT NULL,
	org         TEXT NOT NULL,
	country     TEXT NOT NULL,
	camera      TEXT NOT NULL,
	camera_id   TEXT NOT NULL DEFAULT '',
	from_time   INTEGER NOT NULL,
	to_time     INTEGER NOT NULL,
	video       INTEGER NOT NULL,
	duration_ns INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	ticket      TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	state       TEXT NOT NULL,
	signed      BLOB,
	created     INTEGER NOT NULL,
	decided     INTEGER NOT NULL DEFAULT 0,
	expires     INTEGER NOT NULL
) STRICT;
CREATE INDEX grants_household ON grants (household, created);
CREATE INDEX grants_requester ON grants (requester, created);
CREATE INDEX grants_due ON grants (state, expires);

-- Which transparency-log entries belong to which household: idx is the
-- entry's index in the log, id its id. The entries themselves live in the
-- log; household is a plain tag (no foreign key), like the log's own.
CREATE TABLE audit_refs (
	idx        INTEGER PRIMARY KEY,
	household  TEXT NOT NULL,
	id         TEXT NOT NULL,
	class      TEXT NOT NULL,
	entry_time INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_refs_household ON audit_refs (household, idx);
