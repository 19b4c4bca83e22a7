-- Porchlight metadata, version 11: the neighbours feed. A post is a public
-- MP4 (a blob under a random id of the service) with the owner-signed
-- publication record that declassified exactly that file; its location is
-- a 6-character geohash cell and nothing finer (the CHECK below). A
-- withdrawn or removed post keeps its row, without the blob, so it answers
-- 410. Reports are one per account and post.
CREATE TABLE feed_posts (
	id        TEXT PRIMARY KEY,
	household TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
	record    BLOB NOT NULL,
	blob_id   TEXT NOT NULL UNIQUE,
	sha256    TEXT NOT NULL,
	size      INTEGER NOT NULL CHECK (size > 0),
	title     TEXT NOT NULL,
	category  TEXT NOT NULL,
	cell      TEXT NOT NULL CHECK (length(cell) = 6),
	pseudonym TEXT NOT NULL,
	state     TEXT NOT NULL CHECK (state IN ('published', 'withdrawn', 'removed')),
	reason    TEXT NOT NULL DEFAULT '',
	created   INTEGER NOT NULL,
	ended     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX feed_posts_cell ON feed_posts (cell, state, created);
CREATE INDEX feed_posts_household ON feed_posts (household, created);

CREATE TABLE feed_reports (
	id       TEXT PRIMARY KEY,
	post     TEXT NOT NULL REFERENCES feed_posts (id) ON DELETE CASCADE,
	reporter TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	reason   TEXT NOT NULL,
	created  INTEGER NOT NULL,
	UNIQUE (post, reporter)
) STRICT;
