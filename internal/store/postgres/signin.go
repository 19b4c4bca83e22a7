package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// --- ceremonies ---

// PutCeremony implements store.Store.
func (s *Store) PutCeremony(ctx context.Context, c store.Ceremony) error {
	_, err := s.db.Exec(ctx, `INSERT INTO ceremonies (id, kind, account, session, data, attempts, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.Kind, c.AccountID, c.SessionID, c.Data, c.Attempts, micro(c.Expires))
	return mapErr(err, "put ceremony")
}

// Ceremony implements store.Store.
func (s *Store) Ceremony(ctx context.Context, id string) (store.Ceremony, error) {
	var c store.Ceremony
	var expires int64
	err := s.db.QueryRow(ctx, `SELECT id, kind, account, session, data, attempts, expires FROM ceremonies WHERE id = $1`, id).
		Scan(&c.ID, &c.Kind, &c.AccountID, &c.SessionID, &c.Data, &c.Attempts, &expires)
	if err != nil {
		return store.Ceremony{}, mapErr(err, "ceremony")
	}
	c.Expires = fromMicro(expires)
	return c, nil
}

// CeremonyFailed implements store.Store. The increment is one statement, so
// racing wrong answers each count.
func (s *Store) CeremonyFailed(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `UPDATE ceremonies SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, id).Scan(&n)
	if err != nil {
		return 0, mapErr(err, "count ceremony failure")
	}
	return n, nil
}

// DeleteCeremony implements store.Store. Of two racing deletes the second
// waits for the first's row lock and then finds no row: ErrNotFound.
func (s *Store) DeleteCeremony(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM ceremonies WHERE id = $1`, id)
	return affected(tag, err, "delete ceremony")
}

// DeleteCeremoniesBefore implements store.Store.
func (s *Store) DeleteCeremoniesBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM ceremonies WHERE expires < $1`, micro(t))
	return count(tag, err, "delete old ceremonies")
}

// --- throttles ---

// Throttle implements store.Store.
func (s *Store) Throttle(ctx context.Context, key string) (store.Throttle, error) {
	th := store.Throttle{Key: key}
	var start, blocked int64
	err := s.db.QueryRow(ctx, `SELECT failures, window_start, blocked_until FROM throttles WHERE key = $1`, key).Scan(&th.Failures, &start, &blocked)
	switch {
	case err == nil:
		th.WindowStart, th.BlockedUntil = fromMicro(start), fromMicro(blocked)
		return th, nil
	case errors.Is(err, pgx.ErrNoRows):
		return th, nil
	default:
		return store.Throttle{}, mapErr(err, "throttle")
	}
}

// UpdateThrottle implements store.Store. The first statement inserts a
// zero row or, if the key exists, locks its latest committed version and
// returns it (ON CONFLICT DO UPDATE always acts on the latest version, not
// on the statement's snapshot). Concurrent updates of a key therefore queue
// on that row lock until this transaction commits, and none is lost, even
// against a concurrent ResetThrottle or first insert.
func (s *Store) UpdateThrottle(ctx context.Context, key string, update func(*store.Throttle)) (store.Throttle, error) {
	var th store.Throttle
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var start, blocked int64
		cur := store.Throttle{Key: key}
		if err := tx.QueryRow(ctx, `INSERT INTO throttles (key, failures, window_start, blocked_until) VALUES ($1, 0, 0, 0)
			ON CONFLICT (key) DO UPDATE SET failures = throttles.failures
			RETURNING failures, window_start, blocked_until`, key).Scan(&cur.Failures, &start, &blocked); err != nil {
			return mapErr(err, "update throttle: lock")
		}
		cur.WindowStart, cur.BlockedUntil = fromMicro(start), fromMicro(blocked)
		update(&cur)
		cur.Key = key
		if _, err := tx.Exec(ctx, `UPDATE throttles SET failures = $1, window_start = $2, blocked_until = $3 WHERE key = $4`,
			cur.Failures, micro(cur.WindowStart), micro(cur.BlockedUntil), key); err != nil {
			return mapErr(err, "update throttle")
		}
		th = cur
		return nil
	})
	if err != nil {
		return store.Throttle{}, err
	}
	return th, nil
}

// ResetThrottle implements store.Store.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return mapErr(err, "reset throttle")
}

// DeleteThrottlesBefore implements store.Store.
func (s *Store) DeleteThrottlesBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM throttles WHERE window_start < $1 AND blocked_until < $1`, micro(t))
	return count(tag, err, "delete old throttles")
}

// --- known devices ---

// PutKnownDevice implements store.Store.
func (s *Store) PutKnownDevice(ctx context.Context, d store.KnownDevice) error {
	_, err := s.db.Exec(ctx, `INSERT INTO known_devices (token_hash, account, name, created, last_used) VALUES ($1, $2, $3, $4, $5)`,
		d.TokenHash, d.AccountID, d.Name, micro(d.Created), micro(d.LastUsed))
	return mapErr(err, "put known device")
}

// KnownDevice implements store.Store.
func (s *Store) KnownDevice(ctx context.Context, tokenHash string) (store.KnownDevice, error) {
	var d store.KnownDevice
	var created, lastUsed int64
	err := s.db.QueryRow(ctx, `SELECT token_hash, account, name, created, last_used FROM known_devices WHERE token_hash = $1`, tokenHash).
		Scan(&d.TokenHash, &d.AccountID, &d.Name, &created, &lastUsed)
	if err != nil {
		return store.KnownDevice{}, mapErr(err, "known device")
	}
	d.Created, d.LastUsed = fromMicro(created), fromMicro(lastUsed)
	return d, nil
}

// TouchKnownDevice implements store.Store.
func (s *Store) TouchKnownDevice(ctx context.Context, tokenHash string, t time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE known_devices SET last_used = greatest(last_used, $1) WHERE token_hash = $2`, micro(t), tokenHash)
	return affected(tag, err, "touch known device")
}

// --- notifications ---

// AddNotification implements store.Store. Seq comes from one identity
// sequence, so it is unique and increasing. Drawing it while holding the
// account's row lock makes one account's notifications commit in Seq
// order, so a reader paging with "Seq > after" never skips one that
// commits late.
func (s *Store) AddNotification(ctx context.Context, n store.Notification) (int64, error) {
	var seq int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, n.AccountID, "add notification"); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO notifications (account, kind, data, created) VALUES ($1, $2, $3, $4) RETURNING seq`,
			n.AccountID, n.Kind, n.Data, micro(n.Created)).Scan(&seq)
		return mapErr(err, "add notification")
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// Notifications implements store.Store. A limit below one returns none.
func (s *Store) Notifications(ctx context.Context, accountID string, after int64, limit int) ([]store.Notification, error) {
	if limit < 1 {
		return []store.Notification{}, nil
	}
	rows, err := s.db.Query(ctx, `SELECT seq, account, kind, data, created FROM notifications
		WHERE account = $1 AND seq > $2 ORDER BY seq LIMIT $3`, accountID, after, limit)
	if err != nil {
		return nil, mapErr(err, "notifications")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Notification, error) {
		var n store.Notification
		var created int64
		if err := row.Scan(&n.Seq, &n.AccountID, &n.Kind, &n.Data, &created); err != nil {
			return store.Notification{}, err
		}
		n.Created = fromMicro(created)
		return n, nil
	})
	return out, mapErr(err, "notifications")
}
