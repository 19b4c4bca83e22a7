-- Porchlight metadata, version 8, for PostgreSQL: Web Push subscriptions.
-- Each belongs to the session that made it and ends with it (sign-out,
-- revocation, a device leaving the roster, a disabled account, timeouts):
-- the browser registers again when it signs in again. The endpoint is a
-- capability URL of the browser's push service; p256dh and auth are the
-- browser's RFC 8291 public key and authentication secret. Payloads are
-- sealed to the device before they are encrypted for the push service, so
-- none of these opens anything.
CREATE TABLE push_subscriptions (
	id        TEXT PRIMARY KEY,
	account   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	session   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL,
	endpoint  TEXT NOT NULL UNIQUE,
	p256dh    BYTEA NOT NULL,
	auth      BYTEA NOT NULL,
	created   BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account, created, id);
CREATE INDEX push_subscriptions_session ON push_subscriptions (session);
