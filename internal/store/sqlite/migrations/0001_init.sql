-- Porchlight metadata, version 1. Times are INTEGER unix microseconds (UTC).
-- Nothing here is plaintext media, a camera name, an RTSP URL or a secret:
-- tokens, claim codes and hub secrets are SHA-256 hashes; descriptors,
-- announcements and wraps are ciphertext or signed public data.

CREATE TABLE accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created       INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));

CREATE TABLE households (
	id      TEXT PRIMARY KEY,
	owner   TEXT NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
	created INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,
	token_hash  TEXT NOT NULL UNIQUE,
	account     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	device_name TEXT NOT NULL,
	created     INTEGER NOT NULL,
	last_used   INTEGER NOT NULL,
	expires     INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_account ON sessions (account);

CREATE TABLE roster_versions (
	household TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	version   INTEGER NOT NULL,
	signed    BLOB NOT NULL,
	hash      TEXT NOT NULL,
	created   INTEGER NOT NULL,
	PRIMARY KEY (household, version)
) STRICT;

CREATE TABLE claims (
	code_hash    TEXT PRIMARY KEY,
	household    TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	created_by   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created      INTEGER NOT NULL,
	expires      INTEGER NOT NULL,
	state        TEXT NOT NULL,
	hub_id       TEXT NOT NULL DEFAULT '',
	hub_name     TEXT NOT NULL DEFAULT '',
	hub_sign     BLOB,
	hub_kem      TEXT NOT NULL DEFAULT '',
	secret_hash  TEXT NOT NULL DEFAULT '',
	token_issued INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE hubs (
	id         TEXT PRIMARY KEY,
	household  TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	sign       BLOB NOT NULL,
	kem        TEXT NOT NULL,
	token_hash TEXT,
	created    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX hubs_token ON hubs (token_hash) WHERE token_hash IS NOT NULL;

CREATE TABLE cameras (
	id             TEXT PRIMARY KEY,
	hub            TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
	household      TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	descriptor     BLOB NOT NULL,
	retention_days INTEGER NOT NULL DEFAULT 0,
	created        INTEGER NOT NULL,
	last_upload    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX cameras_household ON cameras (household, created);

CREATE TABLE epochs (
	id           TEXT PRIMARY KEY,
	camera       TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
	announcement BLOB NOT NULL,
	created      INTEGER NOT NULL
) STRICT;
CREATE INDEX epochs_camera ON epochs (camera, created);

CREATE TABLE wraps (
	epoch     TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL,
	data      BLOB NOT NULL,
	PRIMARY KEY (epoch, device_id)
) STRICT;

CREATE TABLE objects (
	id          TEXT PRIMARY KEY,
	household   TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	camera      TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
	epoch       TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	coarse_time INTEGER NOT NULL,
	size        INTEGER NOT NULL,
	sha256      TEXT NOT NULL,
	created     INTEGER NOT NULL
) STRICT;
CREATE INDEX objects_camera_kind_time ON objects (camera, kind, coarse_time, id);
CREATE INDEX objects_camera_time ON objects (camera, coarse_time);

CREATE TABLE manifest_refs (
	manifest_id TEXT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
	object_id   TEXT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
	PRIMARY KEY (manifest_id, object_id)
) STRICT;
CREATE INDEX manifest_refs_object ON manifest_refs (object_id);
