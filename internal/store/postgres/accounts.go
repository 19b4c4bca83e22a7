package pgstore

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// Credential changes (password, e-mail, disabling, factors) lock the
// account row FOR NO KEY UPDATE first, so two of them on one account queue
// instead of interleaving their deletes and inserts. That lock does not
// conflict with the KEY SHARE lock a foreign-key insert (a new session, a
// notification's row) takes, so sign-ins are not held up by it.

// lockAccount locks an account's row until the transaction ends.
// ErrNotFound if there is no such account.
func lockAccount(ctx context.Context, tx pgx.Tx, accountID, what string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, accountID).Scan(&id)
	return mapErr(err, what)
}

// endSessions deletes every session of the account except keep ("": all)
// and returns the ended ids in ascending order.
func endSessions(ctx context.Context, tx pgx.Tx, accountID, keep, what string) ([]string, error) {
	rows, err := tx.Query(ctx, `DELETE FROM sessions WHERE account = $1 AND id <> $2 RETURNING id`, accountID, keep)
	if err != nil {
		return nil, mapErr(err, what+": end sessions")
	}
	ended, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, mapErr(err, what+": end sessions")
	}
	sort.Strings(ended)
	return ended, nil
}

// --- accounts ---

const accountCols = `id, email, password_hash, role, disabled, org, country, created`

func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	var created int64
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.Role, &a.Disabled, &a.Org, &a.Country, &created); err != nil {
		return store.Account{}, err
	}
	a.Created = fromMicro(created)
	return a, nil
}

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, a store.Account, h store.Household) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			a.ID, a.Email, a.PasswordHash, a.Role, a.Disabled, a.Org, a.Country, micro(a.Created)); err != nil {
			return mapErr(err, "create account")
		}
		if h.ID == "" {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO households (id, owner, created) VALUES ($1, $2, $3)`,
			h.ID, a.ID, micro(h.Created)); err != nil {
			return mapErr(err, "create household")
		}
		return nil
	})
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	a, err := scanAccount(s.db.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
	return a, mapErr(err, "account")
}

// AccountByEmail implements store.Store.
func (s *Store) AccountByEmail(ctx context.Context, email string) (store.Account, error) {
	a, err := scanAccount(s.db.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE lower(email) = lower($1)`, email))
	return a, mapErr(err, "account by e-mail")
}

// SetPasswordHash implements store.Store.
func (s *Store) SetPasswordHash(ctx context.Context, accountID, hash string) error {
	tag, err := s.db.Exec(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, accountID)
	return affected(tag, err, "set password hash")
}

// ChangePassword implements store.Store.
func (s *Store) ChangePassword(ctx context.Context, accountID, hash, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID, "change password"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, accountID); err != nil {
			return mapErr(err, "change password")
		}
		var err error
		ended, err = endSessions(ctx, tx, accountID, keep, "change password")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// SetEmail implements store.Store.
func (s *Store) SetEmail(ctx context.Context, accountID, email string) error {
	tag, err := s.db.Exec(ctx, `UPDATE accounts SET email = $1 WHERE id = $2`, email, accountID)
	return affected(tag, err, "set e-mail")
}

// SetDisabled implements store.Store. A session created while the account
// is being disabled may outlive this transaction, but SessionByTokenHash
// and SessionByID never return a disabled account's session.
func (s *Store) SetDisabled(ctx context.Context, accountID string, disabled bool) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID, "set disabled"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET disabled = $1 WHERE id = $2`, disabled, accountID); err != nil {
			return mapErr(err, "set disabled")
		}
		if !disabled {
			ended = []string{}
			return nil
		}
		var err error
		ended, err = endSessions(ctx, tx, accountID, "", "disable account")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// StaffAccounts implements store.Store.
func (s *Store) StaffAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.db.Query(ctx, `SELECT `+accountCols+` FROM accounts WHERE role <> '' ORDER BY created, id`)
	if err != nil {
		return nil, mapErr(err, "staff accounts")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Account, error) { return scanAccount(row) })
	return out, mapErr(err, "staff accounts")
}

// householdCols are the columns scanHousehold reads, in order.
const householdCols = `id, owner, created, quota_bytes`

func scanHousehold(row pgx.Row, what string) (store.Household, error) {
	var h store.Household
	var created int64
	if err := row.Scan(&h.ID, &h.Owner, &created, &h.QuotaBytes); err != nil {
		return store.Household{}, mapErr(err, what)
	}
	h.Created = fromMicro(created)
	return h, nil
}

// HouseholdOf implements store.Store.
func (s *Store) HouseholdOf(ctx context.Context, accountID string) (store.Household, error) {
	return scanHousehold(s.db.QueryRow(ctx, `SELECT `+householdCols+` FROM households WHERE owner = $1`, accountID), "household of account")
}

// Household implements store.Store.
func (s *Store) Household(ctx context.Context, id string) (store.Household, error) {
	return scanHousehold(s.db.QueryRow(ctx, `SELECT `+householdCols+` FROM households WHERE id = $1`, id), "household")
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	err := s.db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM accounts),
			(SELECT count(*) FROM households),
			(SELECT count(*) FROM hubs),
			(SELECT count(*) FROM cameras),
			count(*), coalesce(sum(size), 0)::BIGINT
		FROM objects`).Scan(&st.Accounts, &st.Households, &st.Hubs, &st.Cameras, &st.Objects, &st.Bytes)
	if err != nil {
		return store.Stats{}, mapErr(err, "stats")
	}
	return st, nil
}

// --- sessions ---

// sessionSelect reads sessions with their account's household ("" for
// staff) and role.
const sessionSelect = `SELECT s.id, s.token_hash, s.account, coalesce(h.id, ''), a.role, s.device_name, s.device_id,
		s.client, s.addr_prefix, s.created, s.last_used, s.auth_at, s.auth_factor, s.expires
	FROM sessions s JOIN accounts a ON a.id = s.account LEFT JOIN households h ON h.owner = s.account`

func scanSession(row pgx.Row) (store.Session, error) {
	var se store.Session
	var created, lastUsed, authAt, expires int64
	if err := row.Scan(&se.ID, &se.TokenHash, &se.AccountID, &se.HouseholdID, &se.Role, &se.DeviceName, &se.DeviceID,
		&se.Client, &se.AddrPrefix, &created, &lastUsed, &authAt, &se.AuthFactor, &expires); err != nil {
		return store.Session{}, err
	}
	se.Created, se.LastUsed, se.AuthAt, se.Expires = fromMicro(created), fromMicro(lastUsed), fromMicro(authAt), fromMicro(expires)
	return se, nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	_, err := s.db.Exec(ctx, `INSERT INTO sessions (id, token_hash, account, device_name, device_id, client, addr_prefix, created, last_used, auth_at, auth_factor, expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		se.ID, se.TokenHash, se.AccountID, se.DeviceName, se.DeviceID, se.Client, se.AddrPrefix,
		micro(se.Created), micro(se.LastUsed), micro(se.AuthAt), se.AuthFactor, micro(se.Expires))
	return mapErr(err, "create session")
}

// SessionByTokenHash implements store.Store.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string) (store.Session, error) {
	se, err := scanSession(s.db.QueryRow(ctx, sessionSelect+` WHERE s.token_hash = $1 AND NOT a.disabled`, tokenHash))
	return se, mapErr(err, "session")
}

// SessionByID implements store.Store. Like SessionByTokenHash it does not
// return a disabled account's session.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	se, err := scanSession(s.db.QueryRow(ctx, sessionSelect+` WHERE s.id = $1 AND NOT a.disabled`, id))
	return se, mapErr(err, "session by id")
}

// Sessions implements store.Store.
func (s *Store) Sessions(ctx context.Context, accountID string) ([]store.Session, error) {
	rows, err := s.db.Query(ctx, sessionSelect+` WHERE s.account = $1 ORDER BY s.last_used DESC, s.created DESC, s.id`, accountID)
	if err != nil {
		return nil, mapErr(err, "sessions")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Session, error) { return scanSession(row) })
	return out, mapErr(err, "sessions")
}

// TouchSession implements store.Store.
func (s *Store) TouchSession(ctx context.Context, id string, t time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE sessions SET last_used = greatest(last_used, $1) WHERE id = $2`, micro(t), id)
	return affected(tag, err, "touch session")
}

// RotateSession implements store.Store.
func (s *Store) RotateSession(ctx context.Context, id, tokenHash string, authAt time.Time, factor bool) error {
	tag, err := s.db.Exec(ctx, `UPDATE sessions SET token_hash = $1, auth_at = $2, auth_factor = $3 WHERE id = $4`,
		tokenHash, micro(authAt), factor, id)
	return affected(tag, err, "rotate session")
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return affected(tag, err, "delete session")
}

// DeleteAccountSession implements store.Store.
func (s *Store) DeleteAccountSession(ctx context.Context, accountID, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1 AND account = $2`, id, accountID)
	return affected(tag, err, "delete account session")
}

// DeleteSessions implements store.Store.
func (s *Store) DeleteSessions(ctx context.Context, accountID, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		ended, err = endSessions(ctx, tx, accountID, keep, "delete sessions")
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// DeleteSessionsBefore implements store.Store.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t, idleBefore time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE expires < $1 OR last_used < $2`, micro(t), micro(idleBefore))
	return count(tag, err, "delete old sessions")
}

// --- memberships ---

// PutMembership implements store.Store.
func (s *Store) PutMembership(ctx context.Context, m store.Membership) error {
	cameras := m.Cameras
	if cameras == nil {
		cameras = []string{}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO memberships (household, account, cameras, expires, created) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (household, account) DO UPDATE SET cameras = excluded.cameras, expires = excluded.expires, created = excluded.created`,
		m.HouseholdID, m.AccountID, cameras, micro(m.Expires), micro(m.Created))
	return mapErr(err, "put membership")
}

// Membership implements store.Store. An empty camera list reads back as
// nil.
func (s *Store) Membership(ctx context.Context, household, accountID string) (store.Membership, error) {
	var m store.Membership
	var expires, created int64
	err := s.db.QueryRow(ctx, `SELECT household, account, cameras, expires, created FROM memberships WHERE household = $1 AND account = $2`,
		household, accountID).Scan(&m.HouseholdID, &m.AccountID, &m.Cameras, &expires, &created)
	if err != nil {
		return store.Membership{}, mapErr(err, "membership")
	}
	if len(m.Cameras) == 0 {
		m.Cameras = nil
	}
	m.Expires, m.Created = fromMicro(expires), fromMicro(created)
	return m, nil
}

// DeleteMembership implements store.Store.
func (s *Store) DeleteMembership(ctx context.Context, household, accountID string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM memberships WHERE household = $1 AND account = $2`, household, accountID)
	return affected(tag, err, "delete membership")
}
