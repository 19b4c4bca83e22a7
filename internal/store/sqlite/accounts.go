package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds account security: credential changes that end sessions,
// session listing and rotation, second factors, ceremonies, throttles,
// known devices, notifications, memberships and stats. Every method that
// changes a credential and ends sessions does both in one write
// transaction, so no request can slip in between with an old session.

// endSessions deletes every session of the account except keep ("": all)
// and returns the ids it deleted.
func endSessions(ctx context.Context, tx *sql.Tx, accountID, keep string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM sessions WHERE account = ? AND id <> ? RETURNING id`, accountID, keep)
	if err != nil {
		return nil, mapErr(err, "end sessions")
	}
	defer rows.Close()
	ended := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err, "end sessions")
		}
		ended = append(ended, id)
	}
	return ended, mapErr(rows.Err(), "end sessions")
}

// txEnded runs fn and then ends the account's other sessions, in one write
// transaction.
func (s *Store) txEnded(ctx context.Context, accountID, keep string, fn func(*sql.Tx) error) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var err error
		ended, err = endSessions(ctx, tx, accountID, keep)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

func count(res sql.Result, err error, what string) (int, error) {
	if err != nil {
		return 0, mapErr(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return int(n), nil
}

// --- accounts ---

// ChangePassword implements store.Store.
func (s *Store) ChangePassword(ctx context.Context, accountID, hash, keep string) ([]string, error) {
	return s.txEnded(ctx, accountID, keep, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID)
		return affected(res, err, "change password")
	})
}

// SetEmail implements store.Store.
func (s *Store) SetEmail(ctx context.Context, accountID, email string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE accounts SET email = ? WHERE id = ?`, email, accountID)
	return affected(res, err, "set e-mail")
}

// SetDisabled implements store.Store.
func (s *Store) SetDisabled(ctx context.Context, accountID string, disabled bool) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET disabled = ? WHERE id = ?`, disabled, accountID)
		if err := affected(res, err, "set disabled"); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		ended, err = endSessions(ctx, tx, accountID, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// StaffAccounts implements store.Store.
func (s *Store) StaffAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE role <> '' ORDER BY created, id`)
	if err != nil {
		return nil, mapErr(err, "staff accounts")
	}
	defer rows.Close()
	out := []store.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, mapErr(err, "staff accounts")
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err(), "staff accounts")
}

// Household implements store.Store.
func (s *Store) Household(ctx context.Context, id string) (store.Household, error) {
	h, err := scanHousehold(s.r.QueryRowContext(ctx, `SELECT `+householdCols+` FROM households WHERE id = ?`, id))
	return h, mapErr(err, "household")
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM accounts), (SELECT count(*) FROM households), (SELECT count(*) FROM hubs),
		(SELECT count(*) FROM cameras), (SELECT count(*) FROM objects), (SELECT coalesce(sum(size), 0) FROM objects)`).
		Scan(&st.Accounts, &st.Households, &st.Hubs, &st.Cameras, &st.Objects, &st.Bytes)
	return st, mapErr(err, "stats")
}

// --- sessions ---

// SessionByID implements store.Store. Like SessionByTokenHash it does not
// find sessions of a disabled account.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	se, err := scanSession(s.r.QueryRowContext(ctx, sessionSelect+` WHERE s.id = ? AND a.disabled = 0`, id))
	return se, mapErr(err, "session by id")
}

// Sessions implements store.Store.
func (s *Store) Sessions(ctx context.Context, accountID string) ([]store.Session, error) {
	rows, err := s.r.QueryContext(ctx, sessionSelect+` WHERE s.account = ? ORDER BY s.last_used DESC, s.id`, accountID)
	if err != nil {
		return nil, mapErr(err, "sessions")
	}
	defer rows.Close()
	out := []store.Session{}
	for rows.Next() {
		se, err := scanSession(rows)
		if err != nil {
			return nil, mapErr(err, "sessions")
		}
		out = append(out, se)
	}
	return out, mapErr(rows.Err(), "sessions")
}

// RotateSession implements store.Store.
func (s *Store) RotateSession(ctx context.Context, id, tokenHash string, authAt time.Time, factor bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET token_hash = ?, auth_at = ?, auth_factor = ? WHERE id = ?`,
		tokenHash, micro(authAt), factor, id)
	return affected(res, err, "rotate session")
}

// DeleteAccountSession implements store.Store.
func (s *Store) DeleteAccountSession(ctx context.Context, accountID, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND account = ?`, id, accountID)
	return affected(res, err, "delete session")
}

// DeleteSessions implements store.Store.
func (s *Store) DeleteSessions(ctx context.Context, accountID, keep string) ([]string, error) {
	return s.txEnded(ctx, accountID, keep, func(*sql.Tx) error { return nil })
}

// --- TOTP and recovery codes ---

// PutPendingTOTP implements store.Store.
func (s *Store) PutPendingTOTP(ctx context.Context, t store.TOTP) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO totp (account, secret, confirmed, last_step, created) VALUES (?, ?, 0, 0, ?)
			ON CONFLICT (account) DO UPDATE SET secret = excluded.secret, last_step = 0, created = excluded.created
			WHERE totp.confirmed = 0`, t.AccountID, t.Secret, micro(t.Created))
		n, err := count(res, err, "put pending authenticator")
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("put pending authenticator: a confirmed one exists; remove it first: %w", store.ErrConflict)
		}
		return nil
	})
}

// TOTP implements store.Store.
func (s *Store) TOTP(ctx context.Context, accountID string) (store.TOTP, error) {
	var t store.TOTP
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT account, secret, confirmed, last_step, created FROM totp WHERE account = ?`, accountID).
		Scan(&t.AccountID, &t.Secret, &t.Confirmed, &t.LastStep, &created)
	t.Created = fromMicro(created)
	return t, mapErr(err, "authenticator")
}

// ConfirmTOTP implements store.Store.
func (s *Store) ConfirmTOTP(ctx context.Context, accountID string, step int64, codeHashes []string, keep string) ([]string, error) {
	return s.txEnded(ctx, accountID, keep, func(tx *sql.Tx) error {
		var confirmed bool
		if err := tx.QueryRowContext(ctx, `SELECT confirmed FROM totp WHERE account = ?`, accountID).Scan(&confirmed); err != nil {
			return mapErr(err, "confirm authenticator")
		}
		if confirmed {
			return fmt.Errorf("confirm authenticator: already confirmed: %w", store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE totp SET confirmed = 1, last_step = ? WHERE account = ?`, step, accountID); err != nil {
			return mapErr(err, "confirm authenticator")
		}
		return replaceCodes(ctx, tx, accountID, codeHashes)
	})
}

// UseTOTPStep implements store.Store.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT last_step FROM totp WHERE account = ?`, accountID).Scan(&last); err != nil {
			return mapErr(err, "use authenticator code")
		}
		if step <= last {
			return fmt.Errorf("use authenticator code: step %d is not after %d (a replayed code): %w", step, last, store.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `UPDATE totp SET last_step = ? WHERE account = ?`, step, accountID)
		return mapErr(err, "use authenticator code")
	})
}

// DeleteTOTP implements store.Store.
func (s *Store) DeleteTOTP(ctx context.Context, accountID, keep string) ([]string, error) {
	return s.txEnded(ctx, accountID, keep, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM totp WHERE account = ?`, accountID)
		return affected(res, err, "delete authenticator")
	})
}

func replaceCodes(ctx context.Context, tx *sql.Tx, accountID string, codeHashes []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account = ?`, accountID); err != nil {
		return mapErr(err, "replace recovery codes")
	}
	for _, h := range codeHashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (account, code_hash) VALUES (?, ?)`, accountID, h); err != nil {
			return mapErr(err, "replace recovery codes")
		}
	}
	return nil
}

// ReplaceRecoveryCodes implements store.Store.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, accountID string, codeHashes []string, keep string) ([]string, error) {
	return s.txEnded(ctx, accountID, keep, func(tx *sql.Tx) error {
		return replaceCodes(ctx, tx, accountID, codeHashes)
	})
}

// UseRecoveryCode implements store.Store.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, codeHash string, t time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE account = ? AND code_hash = ? AND used_at IS NULL`,
		micro(t), accountID, codeHash)
	return affected(res, err, "use recovery code")
}

// RecoveryCodesLeft implements store.Store.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE account = ? AND used_at IS NULL`, accountID).Scan(&n)
	return n, mapErr(err, "count recovery codes")
}

// --- passkeys ---

const passkeyCols = `id, account, credential_id, name, credential, created, last_used`

func scanPasskey(sc interface{ Scan(...any) error }) (store.Passkey, error) {
	var p store.Passkey
	var created, lastUsed int64
	err := sc.Scan(&p.ID, &p.AccountID, &p.CredentialID, &p.Name, &p.Credential, &created, &lastUsed)
	p.Created, p.LastUsed = fromMicro(created), fromMicro(lastUsed)
	return p, err
}

// AddPasskey implements store.Store.
func (s *Store) AddPasskey(ctx context.Context, p store.Passkey, keep string) ([]string, error) {
	return s.txEnded(ctx, p.AccountID, keep, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.AccountID, p.CredentialID, p.Name, p.Credential, micro(p.Created), micro(p.LastUsed))
		return mapErr(err, "add passkey")
	})
}

// Passkeys implements store.Store.
func (s *Store) Passkeys(ctx context.Context, accountID string) ([]store.Passkey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE account = ? ORDER BY created, id`, accountID)
	if err != nil {
		return nil, mapErr(err, "passkeys")
	}
	defer rows.Close()
	out := []store.Passkey{}
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, mapErr(err, "passkeys")
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err(), "passkeys")
}

// PasskeyByCredentialID implements store.Store.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	p, err := scanPasskey(s.r.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE credential_id = ?`, credentialID))
	return p, mapErr(err, "passkey by credential id")
}

// UpdatePasskey implements store.Store.
func (s *Store) UpdatePasskey(ctx context.Context, id string, credential []byte, lastUsed time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE passkeys SET credential = ?, last_used = ? WHERE id = ?`, credential, micro(lastUsed), id)
	return affected(res, err, "update passkey")
}

// DeletePasskey implements store.Store.
func (s *Store) DeletePasskey(ctx context.Context, accountID, id, keep string) ([]string, error) {
	return s.txEnded(ctx, accountID, keep, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND account = ?`, id, accountID)
		return affected(res, err, "delete passkey")
	})
}

// --- ceremonies ---

// PutCeremony implements store.Store.
func (s *Store) PutCeremony(ctx context.Context, c store.Ceremony) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO ceremonies (id, kind, account, session_id, data, attempts, expires) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Kind, c.AccountID, c.SessionID, nonNil(c.Data), c.Attempts, micro(c.Expires))
	return mapErr(err, "put ceremony")
}

// Ceremony implements store.Store.
func (s *Store) Ceremony(ctx context.Context, id string) (store.Ceremony, error) {
	var c store.Ceremony
	var expires int64
	err := s.r.QueryRowContext(ctx, `SELECT id, kind, account, session_id, data, attempts, expires FROM ceremonies WHERE id = ?`, id).
		Scan(&c.ID, &c.Kind, &c.AccountID, &c.SessionID, &c.Data, &c.Attempts, &expires)
	c.Expires = fromMicro(expires)
	return c, mapErr(err, "ceremony")
}

// CeremonyFailed implements store.Store.
func (s *Store) CeremonyFailed(ctx context.Context, id string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return mapErr(tx.QueryRowContext(ctx, `UPDATE ceremonies SET attempts = attempts + 1 WHERE id = ? RETURNING attempts`, id).Scan(&n),
			"count a failed ceremony answer")
	})
	return n, err
}

// DeleteCeremony implements store.Store.
func (s *Store) DeleteCeremony(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM ceremonies WHERE id = ?`, id)
	return affected(res, err, "consume ceremony")
}

// DeleteCeremoniesBefore implements store.Store.
func (s *Store) DeleteCeremoniesBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM ceremonies WHERE expires < ?`, micro(t))
	return count(res, err, "delete old ceremonies")
}

// --- throttles ---

func throttleIn(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (store.Throttle, error) {
	th := store.Throttle{Key: key}
	var window, blocked int64
	err := q.QueryRowContext(ctx, `SELECT failures, window_start, blocked_until FROM throttles WHERE key = ?`, key).
		Scan(&th.Failures, &window, &blocked)
	if errors.Is(err, sql.ErrNoRows) {
		return th, nil
	}
	th.WindowStart, th.BlockedUntil = fromMicro(window), fromMicro(blocked)
	return th, mapErr(err, "throttle")
}

// Throttle implements store.Store.
func (s *Store) Throttle(ctx context.Context, key string) (store.Throttle, error) {
	return throttleIn(ctx, s.r, key)
}

// UpdateThrottle implements store.Store. update runs inside the write
// transaction, so it must be quick and must not call the store.
func (s *Store) UpdateThrottle(ctx context.Context, key string, update func(*store.Throttle)) (store.Throttle, error) {
	var th store.Throttle
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if th, err = throttleIn(ctx, tx, key); err != nil {
			return err
		}
		update(&th)
		th.Key = key
		_, err = tx.ExecContext(ctx, `INSERT INTO throttles (key, failures, window_start, blocked_until) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, blocked_until = excluded.blocked_until`,
			key, th.Failures, micro(th.WindowStart), micro(th.BlockedUntil))
		return mapErr(err, "update throttle")
	})
	if err != nil {
		return store.Throttle{}, err
	}
	// Return what a later read returns: microseconds, UTC.
	th.WindowStart, th.BlockedUntil = fromMicro(micro(th.WindowStart)), fromMicro(micro(th.BlockedUntil))
	return th, nil
}

// ResetThrottle implements store.Store.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return mapErr(err, "reset throttle")
}

// DeleteThrottlesBefore implements store.Store.
func (s *Store) DeleteThrottlesBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE window_start < ?1 AND blocked_until < ?1`, micro(t))
	return count(res, err, "delete old throttles")
}

// --- known devices ---

// PutKnownDevice implements store.Store.
func (s *Store) PutKnownDevice(ctx context.Context, d store.KnownDevice) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO known_devices (token_hash, account, name, created, last_used) VALUES (?, ?, ?, ?, ?)`,
		d.TokenHash, d.AccountID, d.Name, micro(d.Created), micro(d.LastUsed))
	return mapErr(err, "put known device")
}

// KnownDevice implements store.Store.
func (s *Store) KnownDevice(ctx context.Context, tokenHash string) (store.KnownDevice, error) {
	var d store.KnownDevice
	var created, lastUsed int64
	err := s.r.QueryRowContext(ctx, `SELECT token_hash, account, name, created, last_used FROM known_devices WHERE token_hash = ?`, tokenHash).
		Scan(&d.TokenHash, &d.AccountID, &d.Name, &created, &lastUsed)
	d.Created, d.LastUsed = fromMicro(created), fromMicro(lastUsed)
	return d, mapErr(err, "known device")
}

// TouchKnownDevice implements store.Store.
func (s *Store) TouchKnownDevice(ctx context.Context, tokenHash string, t time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE known_devices SET last_used = max(last_used, ?) WHERE token_hash = ?`, micro(t), tokenHash)
	return affected(res, err, "touch known device")
}

// --- notifications ---

// AddNotification implements store.Store.
func (s *Store) AddNotification(ctx context.Context, n store.Notification) (int64, error) {
	var seq int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return mapErr(tx.QueryRowContext(ctx, `INSERT INTO notifications (account, kind, data, created) VALUES (?, ?, ?, ?) RETURNING seq`,
			n.AccountID, n.Kind, nonNil(n.Data), micro(n.Created)).Scan(&seq), "add notification")
	})
	return seq, err
}

// Notifications implements store.Store.
func (s *Store) Notifications(ctx context.Context, accountID string, after int64, limit int) ([]store.Notification, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, account, kind, data, created FROM notifications
		WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?`, accountID, after, limit)
	if err != nil {
		return nil, mapErr(err, "notifications")
	}
	defer rows.Close()
	out := []store.Notification{}
	for rows.Next() {
		var n store.Notification
		var created int64
		if err := rows.Scan(&n.Seq, &n.AccountID, &n.Kind, &n.Data, &created); err != nil {
			return nil, mapErr(err, "notifications")
		}
		n.Created = fromMicro(created)
		out = append(out, n)
	}
	return out, mapErr(rows.Err(), "notifications")
}

// --- memberships ---

// PutMembership implements store.Store.
func (s *Store) PutMembership(ctx context.Context, m store.Membership) error {
	cams := m.Cameras
	if cams == nil {
		cams = []string{}
	}
	js, err := json.Marshal(cams)
	if err != nil {
		return fmt.Errorf("put membership: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO memberships (household, account, cameras, expires, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (household, account) DO UPDATE SET cameras = excluded.cameras, expires = excluded.expires, created = excluded.created`,
		m.HouseholdID, m.AccountID, string(js), micro(m.Expires), micro(m.Created))
	return mapErr(err, "put membership")
}

// Membership implements store.Store.
func (s *Store) Membership(ctx context.Context, household, accountID string) (store.Membership, error) {
	var m store.Membership
	var cams string
	var expires, created int64
	err := s.r.QueryRowContext(ctx, `SELECT household, account, cameras, expires, created FROM memberships WHERE household = ? AND account = ?`,
		household, accountID).Scan(&m.HouseholdID, &m.AccountID, &cams, &expires, &created)
	if err != nil {
		return m, mapErr(err, "membership")
	}
	if err := json.Unmarshal([]byte(cams), &m.Cameras); err != nil {
		return m, fmt.Errorf("membership: decode camera list: %w", err)
	}
	m.Expires, m.Created = fromMicro(expires), fromMicro(created)
	return m, nil
}

// DeleteMembership implements store.Store.
func (s *Store) DeleteMembership(ctx context.Context, household, accountID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM memberships WHERE household = ? AND account = ?`, household, accountID)
	return affected(res, err, "delete membership")
}

// nonNil stores nil bytes as an empty BLOB rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
