// Package sqlitestore is the embedded SQLite backend of store.Store, on
// modernc.org/sqlite (pure Go, no cgo). It is porchlightd's default: one
// file, porchlight.db, in the data directory.
//
// Discipline: SQLite allows one writer at a time, so the store keeps two
// pools. Every write goes through a pool of exactly one connection whose
// transactions begin IMMEDIATE (no upgrade deadlocks, no SQLITE_BUSY
// surprises inside a transaction); reads use a separate pool of read-only
// connections that WAL lets run beside the writer. Foreign keys are on,
// busy_timeout waits for other processes, synchronous=FULL makes a
// committed write survive power loss. Migrations are embedded SQL files
// applied in order and recorded in schema_version.
//
// It must never import another store backend; share behaviour through
// internal/store/storetest instead.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/porchlight/porchlight/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store on one SQLite file.
type Store struct {
	w *sql.DB // exactly one connection: the single writer
	r *sql.DB // read-only connections
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	dsn := func(readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		if readOnly {
			q.Add("_pragma", "query_only(1)")
		} else {
			q.Set("_txlock", "immediate")
		}
		return (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s.r = r
	return s, nil
}

// migrate applies every embedded migration newer than schema_version.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("read schema_version: %w", err)
		}
		for _, name := range names {
			base := filepath.Base(name)
			n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: name must start with its number", base)
			}
			if n <= cur {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, n); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			cur = n
		}
		return nil
	})
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// tx runs fn in a write transaction on the single writer connection.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Also on a panic in fn: the single writer must not stay inside a
	// transaction. After Commit this is a no-op.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// micro converts a time to stored microseconds; the zero time is 0.
func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// mapErr turns driver errors into store sentinels.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", what, store.ErrConflict)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w: a referenced record does not exist", what, store.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return mapErr(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// --- accounts ---

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, a store.Account, h store.Household) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Email, a.PasswordHash, a.Role, a.Disabled, a.Org, a.Country, micro(a.Created)); err != nil {
			return mapErr(err, "create account")
		}
		if h.ID == "" {
			return nil // a staff account owns no household
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO households (id, owner, created) VALUES (?, ?, ?)`,
			h.ID, a.ID, micro(h.Created)); err != nil {
			return mapErr(err, "create household")
		}
		return nil
	})
}

const accountCols = `id, email, password_hash, role, disabled, org, country, created`

func scanAccount(sc interface{ Scan(...any) error }) (store.Account, error) {
	var a store.Account
	var created int64
	err := sc.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.Role, &a.Disabled, &a.Org, &a.Country, &created)
	a.Created = fromMicro(created)
	return a, err
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	return a, mapErr(err, "account")
}

// AccountByEmail implements store.Store.
func (s *Store) AccountByEmail(ctx context.Context, email string) (store.Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE lower(email) = lower(?)`, email))
	return a, mapErr(err, "account by e-mail")
}

// SetPasswordHash implements store.Store.
func (s *Store) SetPasswordHash(ctx context.Context, accountID, hash string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID)
	return affected(res, err, "set password hash")
}

// HouseholdOf implements store.Store.
func (s *Store) HouseholdOf(ctx context.Context, accountID string) (store.Household, error) {
	h, err := scanHousehold(s.r.QueryRowContext(ctx, `SELECT `+householdCols+` FROM households WHERE owner = ?`, accountID))
	return h, mapErr(err, "household")
}

// householdCols are the columns scanHousehold reads, in order.
const householdCols = `id, owner, created, quota_bytes`

func scanHousehold(sc interface{ Scan(...any) error }) (store.Household, error) {
	var h store.Household
	var created int64
	err := sc.Scan(&h.ID, &h.Owner, &created, &h.QuotaBytes)
	h.Created = fromMicro(created)
	return h, err
}

// --- sessions ---

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, account, device_name, device_id, client, addr_prefix, created, last_used, auth_at, auth_factor, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		se.ID, se.TokenHash, se.AccountID, se.DeviceName, se.DeviceID, se.Client, se.AddrPrefix,
		micro(se.Created), micro(se.LastUsed), micro(se.AuthAt), se.AuthFactor, micro(se.Expires))
	return mapErr(err, "create session")
}

// sessionSelect reads sessions with their account's household ("" for
// staff) and role; callers add WHERE conditions on s and a.
const sessionSelect = `SELECT s.id, s.token_hash, s.account, coalesce(h.id, ''), a.role, s.device_name, s.device_id, s.client, s.addr_prefix,
		s.created, s.last_used, s.auth_at, s.auth_factor, s.expires
	FROM sessions s JOIN accounts a ON a.id = s.account LEFT JOIN households h ON h.owner = s.account`

func scanSession(sc interface{ Scan(...any) error }) (store.Session, error) {
	var se store.Session
	var created, lastUsed, authAt, expires int64
	err := sc.Scan(&se.ID, &se.TokenHash, &se.AccountID, &se.HouseholdID, &se.Role, &se.DeviceName, &se.DeviceID, &se.Client, &se.AddrPrefix,
		&created, &lastUsed, &authAt, &se.AuthFactor, &expires)
	se.Created, se.LastUsed, se.AuthAt, se.Expires = fromMicro(created), fromMicro(lastUsed), fromMicro(authAt), fromMicro(expires)
	return se, err
}

// SessionByTokenHash implements store.Store.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string) (store.Session, error) {
	se, err := scanSession(s.r.QueryRowContext(ctx, sessionSelect+` WHERE s.token_hash = ? AND a.disabled = 0`, tokenHash))
	return se, mapErr(err, "session")
}

// TouchSession implements store.Store.
func (s *Store) TouchSession(ctx context.Context, id string, t time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_used = max(last_used, ?) WHERE id = ?`, micro(t), id)
	return affected(res, err, "touch session")
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return affected(res, err, "delete session")
}

// DeleteSessionsBefore implements store.Store.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t, idleBefore time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires < ? OR last_used < ?`, micro(t), micro(idleBefore))
	if err != nil {
		return 0, mapErr(err, "delete old sessions")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// --- roster ---

// RosterVersions implements store.Store.
func (s *Store) RosterVersions(ctx context.Context, household string) ([]store.RosterVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT household, version, signed, hash, created FROM roster_versions WHERE household = ? ORDER BY version`, household)
	if err != nil {
		return nil, mapErr(err, "roster versions")
	}
	defer rows.Close()
	out := []store.RosterVersion{}
	for rows.Next() {
		var v store.RosterVersion
		var created int64
		if err := rows.Scan(&v.HouseholdID, &v.Version, &v.Signed, &v.Hash, &created); err != nil {
			return nil, mapErr(err, "roster versions")
		}
		v.Created = fromMicro(created)
		out = append(out, v)
	}
	return out, mapErr(rows.Err(), "roster versions")
}

// AppendRoster implements store.Store.
func (s *Store) AppendRoster(ctx context.Context, v store.RosterVersion) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var latest uint64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM roster_versions WHERE household = ?`, v.HouseholdID).Scan(&latest); err != nil {
			return mapErr(err, "append roster")
		}
		if v.Version != latest+1 {
			return fmt.Errorf("append roster version %d after %d: %w", v.Version, latest, store.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roster_versions (household, version, signed, hash, created) VALUES (?, ?, ?, ?, ?)`,
			v.HouseholdID, v.Version, v.Signed, v.Hash, micro(v.Created))
		return mapErr(err, "append roster")
	})
}

// --- claims ---

const claimCols = `code_hash, household, created_by, created, expires, state, hub_id, hub_name, hub_sign, hub_kem, secret_hash, token_issued`

func scanClaim(sc interface{ Scan(...any) error }) (store.Claim, error) {
	var c store.Claim
	var created, expires int64
	err := sc.Scan(&c.CodeHash, &c.HouseholdID, &c.CreatedBy, &created, &expires, &c.State, &c.HubID, &c.HubName, &c.HubSign, &c.HubKEM, &c.SecretHash, &c.TokenIssued)
	c.Created, c.Expires = fromMicro(created), fromMicro(expires)
	return c, err
}

// CreateClaim implements store.Store.
func (s *Store) CreateClaim(ctx context.Context, c store.Claim) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO claims (code_hash, household, created_by, created, expires, state) VALUES (?, ?, ?, ?, ?, ?)`,
		c.CodeHash, c.HouseholdID, c.CreatedBy, micro(c.Created), micro(c.Expires), c.State)
	return mapErr(err, "create claim")
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, codeHash string) (store.Claim, error) {
	c, err := scanClaim(s.r.QueryRowContext(ctx, `SELECT `+claimCols+` FROM claims WHERE code_hash = ?`, codeHash))
	return c, mapErr(err, "claim")
}

func claimInTx(ctx context.Context, tx *sql.Tx, codeHash string) (store.Claim, error) {
	c, err := scanClaim(tx.QueryRowContext(ctx, `SELECT `+claimCols+` FROM claims WHERE code_hash = ?`, codeHash))
	return c, mapErr(err, "claim")
}

// PresentClaim implements store.Store.
func (s *Store) PresentClaim(ctx context.Context, codeHash string, hub store.Hub, secretHash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		c, err := claimInTx(ctx, tx, codeHash)
		if err != nil {
			return err
		}
		if c.State != "waiting" {
			return fmt.Errorf("present claim in state %s: %w", c.State, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE claims SET state = 'presented', hub_id = ?, hub_name = ?, hub_sign = ?, hub_kem = ?, secret_hash = ? WHERE code_hash = ?`,
			hub.ID, hub.Name, hub.Sign, hub.KEM, secretHash, codeHash)
		return mapErr(err, "present claim")
	})
}

// ConfirmClaim implements store.Store.
func (s *Store) ConfirmClaim(ctx context.Context, codeHash string, hub store.Hub) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		c, err := claimInTx(ctx, tx, codeHash)
		if err != nil {
			return err
		}
		if c.State != "presented" || c.HubID != hub.ID || c.HouseholdID != hub.HouseholdID {
			return fmt.Errorf("confirm claim in state %s: %w", c.State, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE claims SET state = 'confirmed' WHERE code_hash = ?`, codeHash); err != nil {
			return mapErr(err, "confirm claim")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO hubs (id, household, name, sign, kem, token_hash, created, last_seen) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)`,
			hub.ID, hub.HouseholdID, hub.Name, hub.Sign, hub.KEM, micro(hub.Created), micro(hub.LastSeen))
		return mapErr(err, "create hub")
	})
}

// IssueHubToken implements store.Store.
func (s *Store) IssueHubToken(ctx context.Context, codeHash, tokenHash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		c, err := claimInTx(ctx, tx, codeHash)
		if err != nil {
			return err
		}
		if c.State != "confirmed" || c.TokenIssued {
			return fmt.Errorf("issue hub token (state %s, issued %v): %w", c.State, c.TokenIssued, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE claims SET token_issued = 1 WHERE code_hash = ?`, codeHash); err != nil {
			return mapErr(err, "issue hub token")
		}
		res, err := tx.ExecContext(ctx, `UPDATE hubs SET token_hash = ? WHERE id = ?`, tokenHash, c.HubID)
		return affected(res, err, "issue hub token")
	})
}

// DeleteClaimsBefore implements store.Store.
func (s *Store) DeleteClaimsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM claims WHERE expires < ?`, micro(t))
	if err != nil {
		return 0, mapErr(err, "delete old claims")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// --- hubs ---

const hubCols = `id, household, name, sign, kem, coalesce(token_hash, ''), created, last_seen`

func scanHub(row *sql.Row, what string) (store.Hub, error) {
	var h store.Hub
	var created, seen int64
	if err := row.Scan(&h.ID, &h.HouseholdID, &h.Name, &h.Sign, &h.KEM, &h.TokenHash, &created, &seen); err != nil {
		return h, mapErr(err, what)
	}
	h.Created, h.LastSeen = fromMicro(created), fromMicro(seen)
	return h, nil
}

// Hub implements store.Store.
func (s *Store) Hub(ctx context.Context, id string) (store.Hub, error) {
	return scanHub(s.r.QueryRowContext(ctx, `SELECT `+hubCols+` FROM hubs WHERE id = ?`, id), "hub")
}

// HubByTokenHash implements store.Store.
func (s *Store) HubByTokenHash(ctx context.Context, tokenHash string) (store.Hub, error) {
	if tokenHash == "" {
		return store.Hub{}, fmt.Errorf("hub by token: %w", store.ErrNotFound)
	}
	return scanHub(s.r.QueryRowContext(ctx, `SELECT `+hubCols+` FROM hubs WHERE token_hash = ?`, tokenHash), "hub by token")
}

// TouchHub implements store.Store.
func (s *Store) TouchHub(ctx context.Context, id string, t time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE hubs SET last_seen = max(last_seen, ?) WHERE id = ?`, micro(t), id)
	return affected(res, err, "touch hub")
}

// --- cameras ---

const cameraCols = `id, hub, household, descriptor, retention_days, created, last_upload`

func scanCamera(sc interface{ Scan(...any) error }) (store.Camera, error) {
	var c store.Camera
	var created, last int64
	err := sc.Scan(&c.ID, &c.HubID, &c.HouseholdID, &c.Descriptor, &c.RetentionDays, &created, &last)
	c.Created, c.LastUpload = fromMicro(created), fromMicro(last)
	return c, err
}

// PutCamera implements store.Store.
func (s *Store) PutCamera(ctx context.Context, c store.Camera) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var hub, household string
		err := tx.QueryRowContext(ctx, `SELECT hub, household FROM cameras WHERE id = ?`, c.ID).Scan(&hub, &household)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO cameras (id, hub, household, descriptor, retention_days, created, last_upload) VALUES (?, ?, ?, ?, ?, ?, 0)`,
				c.ID, c.HubID, c.HouseholdID, c.Descriptor, c.RetentionDays, micro(c.Created))
			return mapErr(err, "create camera")
		case err != nil:
			return mapErr(err, "put camera")
		case hub != c.HubID || household != c.HouseholdID:
			return fmt.Errorf("put camera: id belongs to another hub: %w", store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE cameras SET descriptor = ? WHERE id = ?`, c.Descriptor, c.ID)
		return mapErr(err, "update camera")
	})
}

// Camera implements store.Store.
func (s *Store) Camera(ctx context.Context, id string) (store.Camera, error) {
	c, err := scanCamera(s.r.QueryRowContext(ctx, `SELECT `+cameraCols+` FROM cameras WHERE id = ?`, id))
	return c, mapErr(err, "camera")
}

func (s *Store) cameras(ctx context.Context, query string, args ...any) ([]store.Camera, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, "cameras")
	}
	defer rows.Close()
	out := []store.Camera{}
	for rows.Next() {
		c, err := scanCamera(rows)
		if err != nil {
			return nil, mapErr(err, "cameras")
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err(), "cameras")
}

// Cameras implements store.Store.
func (s *Store) Cameras(ctx context.Context, household string) ([]store.Camera, error) {
	return s.cameras(ctx, `SELECT `+cameraCols+` FROM cameras WHERE household = ? ORDER BY created, id`, household)
}

// CamerasWithRetention implements store.Store.
func (s *Store) CamerasWithRetention(ctx context.Context) ([]store.Camera, error) {
	return s.cameras(ctx, `SELECT `+cameraCols+` FROM cameras WHERE retention_days > 0 ORDER BY id`)
}

// SetRetention implements store.Store.
func (s *Store) SetRetention(ctx context.Context, cameraID string, days int) error {
	res, err := s.w.ExecContext(ctx, `UPDATE cameras SET retention_days = ? WHERE id = ?`, days, cameraID)
	return affected(res, err, "set retention")
}

// --- epochs ---

// PutEpoch implements store.Store.
func (s *Store) PutEpoch(ctx context.Context, e store.Epoch, wraps []store.Wrap) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var camera string
		var ann []byte
		err := tx.QueryRowContext(ctx, `SELECT camera, announcement FROM epochs WHERE id = ?`, e.ID).Scan(&camera, &ann)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO epochs (id, camera, announcement, created) VALUES (?, ?, ?, ?)`,
				e.ID, e.CameraID, e.Announcement, micro(e.Created)); err != nil {
				return mapErr(err, "create epoch")
			}
		case err != nil:
			return mapErr(err, "put epoch")
		case camera != e.CameraID || string(ann) != string(e.Announcement):
			return fmt.Errorf("put epoch: id exists with another camera or announcement: %w", store.ErrConflict)
		}
		for _, w := range wraps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO wraps (epoch, device_id, data) VALUES (?, ?, ?)
				ON CONFLICT (epoch, device_id) DO UPDATE SET data = excluded.data`, e.ID, w.DeviceID, w.Data); err != nil {
				return mapErr(err, "put wrap")
			}
		}
		return nil
	})
}

// Epoch implements store.Store.
func (s *Store) Epoch(ctx context.Context, id string) (store.Epoch, error) {
	var e store.Epoch
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, camera, announcement, created FROM epochs WHERE id = ?`, id).Scan(&e.ID, &e.CameraID, &e.Announcement, &created)
	if err != nil {
		return e, mapErr(err, "epoch")
	}
	e.Created = fromMicro(created)
	return e, nil
}

// Epochs implements store.Store.
func (s *Store) Epochs(ctx context.Context, cameraID, deviceID string) ([]store.Epoch, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT e.id, e.camera, e.announcement, e.created, w.data
		FROM epochs e LEFT JOIN wraps w ON w.epoch = e.id AND w.device_id = ?
		WHERE e.camera = ? ORDER BY e.created, e.id`, deviceID, cameraID)
	if err != nil {
		return nil, mapErr(err, "epochs")
	}
	defer rows.Close()
	out := []store.Epoch{}
	for rows.Next() {
		var e store.Epoch
		var created int64
		if err := rows.Scan(&e.ID, &e.CameraID, &e.Announcement, &created, &e.Wrap); err != nil {
			return nil, mapErr(err, "epochs")
		}
		e.Created = fromMicro(created)
		out = append(out, e)
	}
	return out, mapErr(rows.Err(), "epochs")
}

// --- objects ---

const objectCols = `id, household, camera, epoch, kind, coarse_time, size, sha256, created`

func scanObject(sc interface{ Scan(...any) error }) (store.Object, error) {
	var o store.Object
	var t, created int64
	err := sc.Scan(&o.ID, &o.HouseholdID, &o.CameraID, &o.EpochID, &o.Kind, &t, &o.Size, &o.SHA256, &created)
	o.CoarseTime, o.Created = fromMicro(t), fromMicro(created)
	return o, err
}

// PutObject implements store.Store.
func (s *Store) PutObject(ctx context.Context, o store.Object, refs []string) (bool, error) {
	existed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanObject(tx.QueryRowContext(ctx, `SELECT `+objectCols+` FROM objects WHERE id = ?`, o.ID))
		switch {
		case err == nil:
			if old.SHA256 != o.SHA256 || old.CameraID != o.CameraID || old.Kind != o.Kind {
				return fmt.Errorf("put object: id exists with other content: %w", store.ErrConflict)
			}
			existed = true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return mapErr(err, "put object")
		}
		for _, ref := range refs {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM objects WHERE id = ? AND camera = ?`, ref, o.CameraID).Scan(&n); err != nil {
				return mapErr(err, "put object refs")
			}
			if n == 0 {
				return fmt.Errorf("put object: ref %s: %w", ref, store.ErrMissingRefs)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO objects (`+objectCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.HouseholdID, o.CameraID, o.EpochID, o.Kind, micro(o.CoarseTime), o.Size, o.SHA256, micro(o.Created)); err != nil {
			return mapErr(err, "put object")
		}
		for _, ref := range refs {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO manifest_refs (manifest_id, object_id) VALUES (?, ?)`, o.ID, ref); err != nil {
				return mapErr(err, "put object refs")
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE cameras SET last_upload = max(last_upload, ?) WHERE id = ?`, micro(o.Created), o.CameraID)
		return mapErr(err, "put object")
	})
	return existed, err
}

// Object implements store.Store.
func (s *Store) Object(ctx context.Context, id string) (store.Object, error) {
	o, err := scanObject(s.r.QueryRowContext(ctx, `SELECT `+objectCols+` FROM objects WHERE id = ?`, id))
	return o, mapErr(err, "object")
}

func (s *Store) objects(ctx context.Context, what, query string, args ...any) ([]store.Object, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	out := []store.Object{}
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, mapErr(err, what)
		}
		out = append(out, o)
	}
	return out, mapErr(rows.Err(), what)
}

// Manifests implements store.Store.
func (s *Store) Manifests(ctx context.Context, cameraID string, from, to time.Time, limit int) ([]store.Object, error) {
	return s.objects(ctx, "manifests", `SELECT `+objectCols+` FROM objects
		WHERE camera = ? AND kind = 'manifest' AND coarse_time >= ? AND coarse_time <= ?
		ORDER BY coarse_time, id LIMIT ?`, cameraID, micro(from), micro(to), limit)
}

// Objects implements store.Store. The index objects_camera_kind_time
// answers it.
func (s *Store) Objects(ctx context.Context, cameraID, kind string, from, to time.Time, limit int) ([]store.Object, error) {
	return s.objects(ctx, "objects of a kind", `SELECT `+objectCols+` FROM objects
		WHERE camera = ? AND kind = ? AND coarse_time >= ? AND coarse_time <= ?
		ORDER BY coarse_time, id LIMIT ?`, cameraID, kind, micro(from), micro(to), limit)
}

// ExpiredObjects implements store.Store.
func (s *Store) ExpiredObjects(ctx context.Context, cameraID string, cutoff time.Time, limit int) ([]store.Object, error) {
	c := micro(cutoff)
	return s.objects(ctx, "expired objects", `SELECT `+objectCols+` FROM objects WHERE id IN (
			SELECT id FROM objects WHERE camera = ?1 AND kind = 'manifest' AND coarse_time < ?2
			UNION
			SELECT r.object_id FROM manifest_refs r JOIN objects m ON m.id = r.manifest_id
				WHERE m.camera = ?1 AND m.kind = 'manifest' AND m.coarse_time < ?2
			UNION
			SELECT o.id FROM objects o WHERE o.camera = ?1 AND o.coarse_time < ?2
				AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.object_id = o.id)
		) ORDER BY coarse_time, id LIMIT ?3`, cameraID, c, limit)
}

// DeleteObjects implements store.Store.
func (s *Store) DeleteObjects(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE id = ?`, id); err != nil {
				return mapErr(err, "delete object")
			}
		}
		return nil
	})
}
