-- Porchlight metadata, version 4: each household's recovery kit, an age
-- file sealed to the owner's recovery passphrase (scrypt). The service
-- holds it for the owner and cannot open it.
CREATE TABLE recovery_kits (
	household TEXT PRIMARY KEY REFERENCES households (id) ON DELETE CASCADE,
	data      BYTEA NOT NULL,
	updated   BIGINT NOT NULL
);
