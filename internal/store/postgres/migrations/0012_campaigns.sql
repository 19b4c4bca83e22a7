-- Porchlight metadata, version 12, for PostgreSQL: annotation campaigns and donated copies.
-- A campaign is public data (its key is a public age recipient; the
-- service never holds the private half). A donation is one redacted clip
-- given to one campaign under an owner-signed consent (consent, the signed
-- seal.Consent): blob_key names the copy sealed to the campaign key, and
-- labels are the annotators' boxes (JSON). Withdrawal and expiry keep the
-- row as a tombstone: state moves on, blob_key and labels are cleared.
-- camera carries no foreign key so the tombstone outlives the camera.
CREATE TABLE campaigns (
	id             TEXT PRIMARY KEY,
	purpose        TEXT NOT NULL,
	classes        TEXT NOT NULL,
	retention_days INTEGER NOT NULL CHECK (retention_days > 0),
	org            TEXT NOT NULL,
	country        TEXT NOT NULL,
	recipient      TEXT NOT NULL,
	created        BIGINT NOT NULL
);

CREATE TABLE donations (
	id             TEXT PRIMARY KEY,
	household      TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	campaign       TEXT NOT NULL REFERENCES campaigns (id),
	camera         TEXT NOT NULL,
	job            TEXT NOT NULL UNIQUE,
	consent        BYTEA NOT NULL,
	blob_key       TEXT NOT NULL DEFAULT '',
	size           BIGINT NOT NULL,
	sha256         TEXT NOT NULL,
	state          TEXT NOT NULL,
	created        BIGINT NOT NULL,
	expires        BIGINT NOT NULL,
	ended          BIGINT NOT NULL DEFAULT 0,
	labels         BYTEA,
	labels_by      TEXT NOT NULL DEFAULT '',
	labels_updated BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX donations_household ON donations (household, created);
CREATE INDEX donations_campaign ON donations (campaign, state, created);
CREATE INDEX donations_due ON donations (state, expires);
