-- Porchlight metadata, version 10, for PostgreSQL: redaction jobs. sealed
-- is the owner-signed job sealed to the camera's hub; result_key names the
-- hub's sealed result in the blob store. The service can read neither.
-- Times are BIGINT unix microseconds (UTC), 0 for "none", as in the SQLite
-- backend. A job outlives its camera (no foreign key on camera or hub),
-- not its household.
CREATE TABLE redactions (
	id            TEXT PRIMARY KEY,
	household     TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	camera        TEXT NOT NULL,
	hub           TEXT NOT NULL,
	purpose       TEXT NOT NULL,
	campaign      TEXT NOT NULL DEFAULT '',
	state         TEXT NOT NULL,
	error         TEXT NOT NULL DEFAULT '',
	sealed        BYTEA NOT NULL,
	result_key    TEXT NOT NULL DEFAULT '',
	result_size   BIGINT NOT NULL DEFAULT 0,
	result_sha256 TEXT NOT NULL DEFAULT '',
	consumed      BOOLEAN NOT NULL DEFAULT FALSE,
	created       BIGINT NOT NULL,
	updated       BIGINT NOT NULL,
	expires       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX redactions_hub ON redactions (hub, state, created);
CREATE INDEX redactions_expires ON redactions (state, consumed, expires);
