-- Porchlight metadata, version 2: account roles and disabling, richer
-- sessions, second factors (TOTP, recovery codes, passkeys), sign-in
-- ceremonies, rate-limit state, known devices, notifications and
-- memberships. Same conventions as version 1: times are BIGINT unix
-- microseconds (UTC), 0 for "never"; secrets are stored as hashes, except
-- the TOTP secret, which the service must read to check codes.

ALTER TABLE accounts
	ADD COLUMN role     TEXT NOT NULL DEFAULT '',
	ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX accounts_staff ON accounts (created, id) WHERE role <> '';

-- A session that existed before version 2 was fully authenticated when it
-- was created.
ALTER TABLE sessions
	ADD COLUMN client      TEXT NOT NULL DEFAULT '',
	ADD COLUMN addr_prefix TEXT NOT NULL DEFAULT '',
	ADD COLUMN auth_at     BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET auth_at = created;

CREATE TABLE totp (
	account   TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	secret    BYTEA NOT NULL,
	confirmed BOOLEAN NOT NULL,
	last_step BIGINT NOT NULL,
	created   BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
	account   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	code_hash TEXT NOT NULL,
	used      BOOLEAN NOT NULL DEFAULT false,
	used_at   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account, code_hash)
);

CREATE TABLE passkeys (
	id            TEXT PRIMARY KEY,
	account       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	credential_id BYTEA NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	credential    BYTEA NOT NULL,
	created       BIGINT NOT NULL,
	last_used     BIGINT NOT NULL
);
CREATE INDEX passkeys_account ON passkeys (account, created, id);

-- account is '' for a discoverable passkey login, so it has no foreign key;
-- ceremonies live minutes and are swept by expiry.
CREATE TABLE ceremonies (
	id       TEXT PRIMARY KEY,
	kind     TEXT NOT NULL,
	account  TEXT NOT NULL,
	session  TEXT NOT NULL,
	data     BYTEA,
	attempts INTEGER NOT NULL,
	expires  BIGINT NOT NULL
);
CREATE INDEX ceremonies_expires ON ceremonies (expires);

CREATE TABLE throttles (
	key           TEXT PRIMARY KEY,
	failures      INTEGER NOT NULL,
	window_start  BIGINT NOT NULL,
	blocked_until BIGINT NOT NULL
);
CREATE INDEX throttles_window_start ON throttles (window_start);

CREATE TABLE known_devices (
	token_hash TEXT PRIMARY KEY,
	account    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created    BIGINT NOT NULL,
	last_used  BIGINT NOT NULL
);
CREATE INDEX known_devices_account ON known_devices (account);

CREATE TABLE notifications (
	seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind    TEXT NOT NULL,
	data    BYTEA,
	created BIGINT NOT NULL
);
CREATE INDEX notifications_account ON notifications (account, seq);

CREATE TABLE memberships (
	household TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	account   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	cameras   TEXT[] NOT NULL DEFAULT '{}',
	expires   BIGINT NOT NULL,
	created   BIGINT NOT NULL,
	PRIMARY KEY (household, account)
);
CREATE INDEX memberships_account ON memberships (account);
