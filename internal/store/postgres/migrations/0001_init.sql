-- Porchlight metadata, version 1, for PostgreSQL. Times are BIGINT unix
-- microseconds (UTC), 0 for "never", exactly as the SQLite backend keeps
-- them. Bytes are BYTEA. Nothing here is plaintext media, a camera name, an
-- RTSP URL or a secret: tokens, claim codes and hub secrets are SHA-256
-- hashes; descriptors, announcements and wraps are ciphertext or signed
-- public data.

CREATE TABLE accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created       BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));

CREATE TABLE households (
	id      TEXT PRIMARY KEY,
	owner   TEXT NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
	created BIGINT NOT NULL
);

CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,
	token_hash  TEXT NOT NULL UNIQUE,
	account     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	device_name TEXT NOT NULL,
	created     BIGINT NOT NULL,
	last_used   BIGINT NOT NULL,
	expires     BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_last_used ON sessions (last_used);

CREATE TABLE roster_versions (
	household TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	version   BIGINT NOT NULL CHECK (version >= 1),
	signed    BYTEA NOT NULL,
	hash      TEXT NOT NULL,
	created   BIGINT NOT NULL,
	PRIMARY KEY (household, version)
);

CREATE TABLE claims (
	code_hash    TEXT PRIMARY KEY,
	household    TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	created_by   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created      BIGINT NOT NULL,
	expires      BIGINT NOT NULL,
	state        TEXT NOT NULL,
	hub_id       TEXT NOT NULL DEFAULT '',
	hub_name     TEXT NOT NULL DEFAULT '',
	hub_sign     BYTEA,
	hub_kem      TEXT NOT NULL DEFAULT '',
	secret_hash  TEXT NOT NULL DEFAULT '',
	token_issued BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX claims_expires ON claims (expires);

CREATE TABLE hubs (
	id         TEXT PRIMARY KEY,
	household  TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	sign       BYTEA NOT NULL,
	kem        TEXT NOT NULL,
	token_hash TEXT UNIQUE,
	created    BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL
);
CREATE INDEX hubs_household ON hubs (household);

CREATE TABLE cameras (
	id             TEXT PRIMARY KEY,
	hub            TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
	household      TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	descriptor     BYTEA NOT NULL,
	retention_days INTEGER NOT NULL DEFAULT 0,
	created        BIGINT NOT NULL,
	last_upload    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX cameras_household ON cameras (household, created, id);
CREATE INDEX cameras_hub ON cameras (hub);
CREATE INDEX cameras_retention ON cameras (id) WHERE retention_days > 0;

CREATE TABLE epochs (
	id           TEXT PRIMARY KEY,
	camera       TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
	announcement BYTEA NOT NULL,
	created      BIGINT NOT NULL
);
CREATE INDEX epochs_camera ON epochs (camera, created, id);

CREATE TABLE wraps (
	epoch     TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL,
	data      BYTEA NOT NULL,
	PRIMARY KEY (epoch, device_id)
);

CREATE TABLE objects (
	id          TEXT PRIMARY KEY,
	household   TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	camera      TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
	epoch       TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	coarse_time BIGINT NOT NULL,
	size        BIGINT NOT NULL,
	sha256      TEXT NOT NULL,
	created     BIGINT NOT NULL
);
CREATE INDEX objects_camera_kind_time ON objects (camera, kind, coarse_time, id);
CREATE INDEX objects_camera_time ON objects (camera, coarse_time);
CREATE INDEX objects_household ON objects (household);
CREATE INDEX objects_epoch ON objects (epoch);

CREATE TABLE manifest_refs (
	manifest_id TEXT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
	object_id   TEXT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
	PRIMARY KEY (manifest_id, object_id)
);
CREATE INDEX manifest_refs_object ON manifest_refs (object_id);
