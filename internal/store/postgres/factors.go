package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// --- TOTP ---

// PutPendingTOTP implements store.Store. One statement: the upsert only
// replaces an unconfirmed row, so a confirmed one shows as no row written.
func (s *Store) PutPendingTOTP(ctx context.Context, t store.TOTP) error {
	tag, err := s.db.Exec(ctx, `INSERT INTO totp (account, secret, confirmed, last_step, created) VALUES ($1, $2, false, $3, $4)
		ON CONFLICT (account) DO UPDATE SET secret = excluded.secret, confirmed = false, last_step = excluded.last_step, created = excluded.created
		WHERE NOT totp.confirmed`,
		t.AccountID, t.Secret, t.LastStep, micro(t.Created))
	if err != nil {
		return mapErr(err, "put pending totp")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("put pending totp: a confirmed authenticator exists: %w", store.ErrConflict)
	}
	return nil
}

// TOTP implements store.Store.
func (s *Store) TOTP(ctx context.Context, accountID string) (store.TOTP, error) {
	var t store.TOTP
	var created int64
	err := s.db.QueryRow(ctx, `SELECT account, secret, confirmed, last_step, created FROM totp WHERE account = $1`, accountID).
		Scan(&t.AccountID, &t.Secret, &t.Confirmed, &t.LastStep, &created)
	if err != nil {
		return store.TOTP{}, mapErr(err, "totp")
	}
	t.Created = fromMicro(created)
	return t, nil
}

// ConfirmTOTP implements store.Store.
func (s *Store) ConfirmTOTP(ctx context.Context, accountID string, step int64, codeHashes []string, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID, "confirm totp"); err != nil {
			return err
		}
		var confirmed bool
		if err := tx.QueryRow(ctx, `SELECT confirmed FROM totp WHERE account = $1 FOR UPDATE`, accountID).Scan(&confirmed); err != nil {
			return mapErr(err, "confirm totp")
		}
		if confirmed {
			return fmt.Errorf("confirm totp: already confirmed: %w", store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE totp SET confirmed = true, last_step = $1 WHERE account = $2`, step, accountID); err != nil {
			return mapErr(err, "confirm totp")
		}
		if err := replaceCodes(ctx, tx, accountID, codeHashes); err != nil {
			return err
		}
		var err error
		ended, err = endSessions(ctx, tx, accountID, keep, "confirm totp")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// UseTOTPStep implements store.Store. The conditional update is the
// compare-and-swap: of two racing callers with the same step, the second
// re-checks last_step after the first commits and writes nothing.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	tag, err := s.db.Exec(ctx, `UPDATE totp SET last_step = $1 WHERE account = $2 AND last_step < $1`, step, accountID)
	if err != nil {
		return mapErr(err, "use totp step")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var last int64
	if err := s.db.QueryRow(ctx, `SELECT last_step FROM totp WHERE account = $1`, accountID).Scan(&last); err != nil {
		return mapErr(err, "use totp step")
	}
	return fmt.Errorf("use totp step %d (last %d): code already used: %w", step, last, store.ErrConflict)
}

// DeleteTOTP implements store.Store.
func (s *Store) DeleteTOTP(ctx context.Context, accountID, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID, "delete totp"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM totp WHERE account = $1`, accountID)
		if err := affected(tag, err, "delete totp"); err != nil {
			return err
		}
		ended, err = endSessions(ctx, tx, accountID, keep, "delete totp")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// --- recovery codes ---

// replaceCodes replaces an account's recovery codes; the caller holds the
// account lock.
func replaceCodes(ctx context.Context, tx pgx.Tx, accountID string, codeHashes []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE account = $1`, accountID); err != nil {
		return mapErr(err, "replace recovery codes")
	}
	if len(codeHashes) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (account, code_hash)
		SELECT $1, c FROM unnest($2::text[]) AS c ON CONFLICT DO NOTHING`, accountID, codeHashes)
	return mapErr(err, "replace recovery codes")
}

// ReplaceRecoveryCodes implements store.Store.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, accountID string, codeHashes []string, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID, "replace recovery codes"); err != nil {
			return err
		}
		if err := replaceCodes(ctx, tx, accountID, codeHashes); err != nil {
			return err
		}
		var err error
		ended, err = endSessions(ctx, tx, accountID, keep, "replace recovery codes")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// UseRecoveryCode implements store.Store. Of two racing callers the second
// waits for the first's row lock, re-checks "NOT used" and updates
// nothing.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, codeHash string, t time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE recovery_codes SET used = true, used_at = $1 WHERE account = $2 AND code_hash = $3 AND NOT used`,
		micro(t), accountID, codeHash)
	return affected(tag, err, "use recovery code")
}

// RecoveryCodesLeft implements store.Store.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE account = $1 AND NOT used`, accountID).Scan(&n)
	return n, mapErr(err, "recovery codes left")
}

// --- passkeys ---

const passkeyCols = `id, account, credential_id, name, credential, created, last_used`

func scanPasskey(row pgx.Row) (store.Passkey, error) {
	var p store.Passkey
	var created, lastUsed int64
	if err := row.Scan(&p.ID, &p.AccountID, &p.CredentialID, &p.Name, &p.Credential, &created, &lastUsed); err != nil {
		return store.Passkey{}, err
	}
	p.Created, p.LastUsed = fromMicro(created), fromMicro(lastUsed)
	return p, nil
}

// AddPasskey implements store.Store.
func (s *Store) AddPasskey(ctx context.Context, p store.Passkey, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, p.AccountID, "add passkey"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO passkeys (`+passkeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.ID, p.AccountID, p.CredentialID, p.Name, p.Credential, micro(p.Created), micro(p.LastUsed)); err != nil {
			return mapErr(err, "add passkey")
		}
		var err error
		ended, err = endSessions(ctx, tx, p.AccountID, keep, "add passkey")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// Passkeys implements store.Store.
func (s *Store) Passkeys(ctx context.Context, accountID string) ([]store.Passkey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE account = $1 ORDER BY created, id`, accountID)
	if err != nil {
		return nil, mapErr(err, "passkeys")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Passkey, error) { return scanPasskey(row) })
	return out, mapErr(err, "passkeys")
}

// PasskeyByCredentialID implements store.Store.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	p, err := scanPasskey(s.db.QueryRow(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE credential_id = $1`, credentialID))
	return p, mapErr(err, "passkey by credential id")
}

// UpdatePasskey implements store.Store.
func (s *Store) UpdatePasskey(ctx context.Context, id string, credential []byte, lastUsed time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE passkeys SET credential = $1, last_used = $2 WHERE id = $3`, credential, micro(lastUsed), id)
	return affected(tag, err, "update passkey")
}

// DeletePasskey implements store.Store.
func (s *Store) DeletePasskey(ctx context.Context, accountID, id, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID, "delete passkey"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND account = $2`, id, accountID)
		if err := affected(tag, err, "delete passkey"); err != nil {
			return err
		}
		ended, err = endSessions(ctx, tx, accountID, keep, "delete passkey")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}
