-- Porchlight metadata, version 2: account roles and disabling, richer
-- sessions, second factors (TOTP, recovery codes, passkeys), sign-in
-- ceremonies, rate-limit state, known devices, notifications and household
-- memberships. Times are INTEGER unix microseconds (UTC), 0 for "none".
-- Secrets a client presents (recovery codes, device tokens, ceremony tokens)
-- are stored as hashes only.

-- '' is a customer; staff roles own no household.
ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX accounts_staff ON accounts (created, id) WHERE role <> '';

ALTER TABLE sessions ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN addr_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN auth_at INTEGER NOT NULL DEFAULT 0;
-- Sessions made before version 2 authenticated fully when they were created.
UPDATE sessions SET auth_at = created;
DROP INDEX sessions_account;
CREATE INDEX sessions_account_used ON sessions (account, last_used);

CREATE TABLE totp (
	account   TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	secret    BLOB NOT NULL,
	confirmed INTEGER NOT NULL DEFAULT 0,
	last_step INTEGER NOT NULL DEFAULT 0,
	created   INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
	account   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	code_hash TEXT NOT NULL,
	used_at   INTEGER, -- NULL while unused
	PRIMARY KEY (account, code_hash)
) STRICT;

CREATE TABLE passkeys (
	id            TEXT PRIMARY KEY,
	account       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	credential_id BLOB NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	credential    BLOB NOT NULL,
	created       INTEGER NOT NULL,
	last_used     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX passkeys_account ON passkeys (account, created);

-- account and session_id may be '' (a discoverable passkey login), so they
-- carry no foreign key; ceremonies live minutes and are swept by expiry.
CREATE TABLE ceremonies (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	account    TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	data       BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	expires    INTEGER NOT NULL
) STRICT;
CREATE INDEX ceremonies_expires ON ceremonies (expires);

CREATE TABLE throttles (
	key           TEXT PRIMARY KEY,
	failures      INTEGER NOT NULL,
	window_start  INTEGER NOT NULL,
	blocked_until INTEGER NOT NULL
) STRICT;

CREATE TABLE known_devices (
	token_hash TEXT PRIMARY KEY,
	account    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created    INTEGER NOT NULL,
	last_used  INTEGER NOT NULL
) STRICT;
CREATE INDEX known_devices_account ON known_devices (account);

-- AUTOINCREMENT: a Seq is never reused, even after the newest is deleted.
CREATE TABLE notifications (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind    TEXT NOT NULL,
	data    BLOB NOT NULL,
	created INTEGER NOT NULL
) STRICT;
CREATE INDEX notifications_account ON notifications (account, seq);

-- cameras is a JSON array of camera ids.
CREATE TABLE memberships (
	household TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	account   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	cameras   TEXT NOT NULL,
	expires   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	PRIMARY KEY (household, account)
) STRICT;
CREATE INDEX memberships_account ON memberships (account);
