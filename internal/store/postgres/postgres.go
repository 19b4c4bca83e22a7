// Package pgstore is the PostgreSQL backend of store.Store, on
// github.com/jackc/pgx/v5 (pgxpool). It is for deployments that already run
// PostgreSQL; SQLite stays the default.
//
// Discipline: one connection pool; every multi-statement write is one
// transaction at READ COMMITTED whose compare-and-swap steps lock the row
// they decide on (SELECT … FOR UPDATE on the claim, the camera, the epoch,
// the grant; FOR NO KEY UPDATE on the household for roster appends and on
// the account for credential changes, which also end sessions), so
// concurrent writers queue on that row instead of racing, and unique
// constraints catch whatever slips past (a unique violation is
// store.ErrConflict). Single-use records (ceremonies, recovery codes, TOTP
// steps) are consumed by one conditional UPDATE or DELETE, which PostgreSQL
// re-checks after waiting for a racing writer's row lock, so exactly one
// caller wins. A serialization failure or deadlock, should one ever occur,
// is also reported as store.ErrConflict ("a race lost; re-read and decide").
// Times are BIGINT unix microseconds in UTC, 0 for the zero time.
// Migrations are embedded SQL files applied in order, under an advisory
// lock, and recorded in schema_version.
//
// It must never import another store backend; share behaviour through
// internal/store/storetest instead.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/porchlight/porchlight/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises concurrent
// migrations of one database.
const migrationLock = 0x706f7263686c6974 // "porchlit"

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	db *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a libpq URL or key=value
// string) and applies pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return s, nil
}

// migrate applies every embedded migration newer than schema_version.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("read schema_version: %w", err)
		}
		for _, name := range names {
			base := path.Base(name)
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
			// No arguments: pgx sends it with the simple protocol, so one
			// file may hold many statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, n); err != nil {
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
	err := s.db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// tx runs fn in a READ COMMITTED transaction; fn locks what it decides on.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return mapErr(err, "commit")
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
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w (%s)", what, store.ErrConflict, pe.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s: %w: a referenced record does not exist (%s)", what, store.ErrNotFound, pe.ConstraintName)
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%s: %w: %s", what, store.ErrConflict, pe.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func affected(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return mapErr(err, what)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func count(tag pgconn.CommandTag, err error, what string) (int, error) {
	if err != nil {
		return 0, mapErr(err, what)
	}
	return int(tag.RowsAffected()), nil
}

// --- roster ---

// RosterVersions implements store.Store.
func (s *Store) RosterVersions(ctx context.Context, household string) ([]store.RosterVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT household, version, signed, hash, created FROM roster_versions WHERE household = $1 ORDER BY version`, household)
	if err != nil {
		return nil, mapErr(err, "roster versions")
	}
	defer rows.Close()
	out := []store.RosterVersion{}
	for rows.Next() {
		var v store.RosterVersion
		var version, created int64
		if err := rows.Scan(&v.HouseholdID, &version, &v.Signed, &v.Hash, &created); err != nil {
			return nil, mapErr(err, "roster versions")
		}
		v.Version, v.Created = uint64(version), fromMicro(created)
		out = append(out, v)
	}
	return out, mapErr(rows.Err(), "roster versions")
}

// AppendRoster implements store.Store. Appends to one household queue on
// its row lock, so the "exactly latest+1" check and the insert are one
// atomic step; the primary key (household, version) backs it up.
func (s *Store) AppendRoster(ctx context.Context, v store.RosterVersion) error {
	if v.Version < 1 || v.Version > 1<<62 {
		return fmt.Errorf("append roster version %d: %w", v.Version, store.ErrConflict)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var hh string
		if err := tx.QueryRow(ctx, `SELECT id FROM households WHERE id = $1 FOR NO KEY UPDATE`, v.HouseholdID).Scan(&hh); err != nil {
			return mapErr(err, "append roster: household")
		}
		var latest int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM roster_versions WHERE household = $1`, v.HouseholdID).Scan(&latest); err != nil {
			return mapErr(err, "append roster")
		}
		if int64(v.Version) != latest+1 {
			return fmt.Errorf("append roster version %d after %d: %w", v.Version, latest, store.ErrConflict)
		}
		_, err := tx.Exec(ctx, `INSERT INTO roster_versions (household, version, signed, hash, created) VALUES ($1, $2, $3, $4, $5)`,
			v.HouseholdID, int64(v.Version), v.Signed, v.Hash, micro(v.Created))
		return mapErr(err, "append roster")
	})
}

// --- claims ---

const claimCols = `code_hash, household, created_by, created, expires, state, hub_id, hub_name, hub_sign, hub_kem, secret_hash, token_issued`

func scanClaim(row pgx.Row) (store.Claim, error) {
	var c store.Claim
	var created, expires int64
	if err := row.Scan(&c.CodeHash, &c.HouseholdID, &c.CreatedBy, &created, &expires, &c.State, &c.HubID, &c.HubName, &c.HubSign, &c.HubKEM, &c.SecretHash, &c.TokenIssued); err != nil {
		return store.Claim{}, mapErr(err, "claim")
	}
	c.Created, c.Expires = fromMicro(created), fromMicro(expires)
	return c, nil
}

// CreateClaim implements store.Store.
func (s *Store) CreateClaim(ctx context.Context, c store.Claim) error {
	_, err := s.db.Exec(ctx, `INSERT INTO claims (code_hash, household, created_by, created, expires, state) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.CodeHash, c.HouseholdID, c.CreatedBy, micro(c.Created), micro(c.Expires), c.State)
	return mapErr(err, "create claim")
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, codeHash string) (store.Claim, error) {
	return scanClaim(s.db.QueryRow(ctx, `SELECT `+claimCols+` FROM claims WHERE code_hash = $1`, codeHash))
}

// lockClaim reads a claim and locks it until the transaction ends.
func lockClaim(ctx context.Context, tx pgx.Tx, codeHash string) (store.Claim, error) {
	return scanClaim(tx.QueryRow(ctx, `SELECT `+claimCols+` FROM claims WHERE code_hash = $1 FOR UPDATE`, codeHash))
}

// PresentClaim implements store.Store.
func (s *Store) PresentClaim(ctx context.Context, codeHash string, hub store.Hub, secretHash string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		c, err := lockClaim(ctx, tx, codeHash)
		if err != nil {
			return err
		}
		if c.State != "waiting" {
			return fmt.Errorf("present claim in state %s: %w", c.State, store.ErrConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE claims SET state = 'presented', hub_id = $1, hub_name = $2, hub_sign = $3, hub_kem = $4, secret_hash = $5 WHERE code_hash = $6`,
			hub.ID, hub.Name, hub.Sign, hub.KEM, secretHash, codeHash)
		return mapErr(err, "present claim")
	})
}

// ConfirmClaim implements store.Store.
func (s *Store) ConfirmClaim(ctx context.Context, codeHash string, hub store.Hub) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		c, err := lockClaim(ctx, tx, codeHash)
		if err != nil {
			return err
		}
		if c.State != "presented" || c.HubID != hub.ID || c.HouseholdID != hub.HouseholdID {
			return fmt.Errorf("confirm claim in state %s: %w", c.State, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE claims SET state = 'confirmed' WHERE code_hash = $1`, codeHash); err != nil {
			return mapErr(err, "confirm claim")
		}
		_, err = tx.Exec(ctx, `INSERT INTO hubs (id, household, name, sign, kem, token_hash, created, last_seen) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)`,
			hub.ID, hub.HouseholdID, hub.Name, hub.Sign, hub.KEM, micro(hub.Created), micro(hub.LastSeen))
		return mapErr(err, "create hub")
	})
}

// IssueHubToken implements store.Store.
func (s *Store) IssueHubToken(ctx context.Context, codeHash, tokenHash string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		c, err := lockClaim(ctx, tx, codeHash)
		if err != nil {
			return err
		}
		if c.State != "confirmed" || c.TokenIssued {
			return fmt.Errorf("issue hub token (state %s, issued %v): %w", c.State, c.TokenIssued, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE claims SET token_issued = true WHERE code_hash = $1`, codeHash); err != nil {
			return mapErr(err, "issue hub token")
		}
		tag, err := tx.Exec(ctx, `UPDATE hubs SET token_hash = $1 WHERE id = $2`, tokenHash, c.HubID)
		return affected(tag, err, "issue hub token")
	})
}

// DeleteClaimsBefore implements store.Store.
func (s *Store) DeleteClaimsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM claims WHERE expires < $1`, micro(t))
	return count(tag, err, "delete old claims")
}

// --- hubs ---

const hubCols = `id, household, name, sign, kem, coalesce(token_hash, ''), created, last_seen`

func scanHub(row pgx.Row, what string) (store.Hub, error) {
	var h store.Hub
	var created, seen int64
	if err := row.Scan(&h.ID, &h.HouseholdID, &h.Name, &h.Sign, &h.KEM, &h.TokenHash, &created, &seen); err != nil {
		return store.Hub{}, mapErr(err, what)
	}
	h.Created, h.LastSeen = fromMicro(created), fromMicro(seen)
	return h, nil
}

// Hub implements store.Store.
func (s *Store) Hub(ctx context.Context, id string) (store.Hub, error) {
	return scanHub(s.db.QueryRow(ctx, `SELECT `+hubCols+` FROM hubs WHERE id = $1`, id), "hub")
}

// HubByTokenHash implements store.Store.
func (s *Store) HubByTokenHash(ctx context.Context, tokenHash string) (store.Hub, error) {
	if tokenHash == "" {
		return store.Hub{}, fmt.Errorf("hub by token: %w", store.ErrNotFound)
	}
	return scanHub(s.db.QueryRow(ctx, `SELECT `+hubCols+` FROM hubs WHERE token_hash = $1`, tokenHash), "hub by token")
}

// TouchHub implements store.Store.
func (s *Store) TouchHub(ctx context.Context, id string, t time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE hubs SET last_seen = greatest(last_seen, $1) WHERE id = $2`, micro(t), id)
	return affected(tag, err, "touch hub")
}

// --- cameras ---

const cameraCols = `id, hub, household, descriptor, retention_days, created, last_upload`

func scanCamera(row pgx.Row) (store.Camera, error) {
	var c store.Camera
	var created, last int64
	if err := row.Scan(&c.ID, &c.HubID, &c.HouseholdID, &c.Descriptor, &c.RetentionDays, &created, &last); err != nil {
		return store.Camera{}, err
	}
	c.Created, c.LastUpload = fromMicro(created), fromMicro(last)
	return c, nil
}

// PutCamera implements store.Store.
func (s *Store) PutCamera(ctx context.Context, c store.Camera) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO cameras (id, hub, household, descriptor, retention_days, created, last_upload)
			VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.HubID, c.HouseholdID, c.Descriptor, c.RetentionDays, micro(c.Created))
		if err != nil {
			return mapErr(err, "create camera")
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var hub, household string
		if err := tx.QueryRow(ctx, `SELECT hub, household FROM cameras WHERE id = $1 FOR UPDATE`, c.ID).Scan(&hub, &household); err != nil {
			return mapErr(err, "put camera")
		}
		if hub != c.HubID || household != c.HouseholdID {
			return fmt.Errorf("put camera: id belongs to another hub: %w", store.ErrConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE cameras SET descriptor = $1 WHERE id = $2`, c.Descriptor, c.ID)
		return mapErr(err, "update camera")
	})
}

// Camera implements store.Store.
func (s *Store) Camera(ctx context.Context, id string) (store.Camera, error) {
	c, err := scanCamera(s.db.QueryRow(ctx, `SELECT `+cameraCols+` FROM cameras WHERE id = $1`, id))
	return c, mapErr(err, "camera")
}

func (s *Store) cameras(ctx context.Context, query string, args ...any) ([]store.Camera, error) {
	rows, err := s.db.Query(ctx, query, args...)
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
	return s.cameras(ctx, `SELECT `+cameraCols+` FROM cameras WHERE household = $1 ORDER BY created, id`, household)
}

// CamerasWithRetention implements store.Store.
func (s *Store) CamerasWithRetention(ctx context.Context) ([]store.Camera, error) {
	return s.cameras(ctx, `SELECT `+cameraCols+` FROM cameras WHERE retention_days > 0 ORDER BY id`)
}

// SetRetention implements store.Store.
func (s *Store) SetRetention(ctx context.Context, cameraID string, days int) error {
	tag, err := s.db.Exec(ctx, `UPDATE cameras SET retention_days = $1 WHERE id = $2`, days, cameraID)
	return affected(tag, err, "set retention")
}

// --- epochs ---

// PutEpoch implements store.Store.
func (s *Store) PutEpoch(ctx context.Context, e store.Epoch, wraps []store.Wrap) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO epochs (id, camera, announcement, created) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.CameraID, e.Announcement, micro(e.Created))
		if err != nil {
			return mapErr(err, "create epoch")
		}
		if tag.RowsAffected() == 0 {
			var camera string
			var ann []byte
			if err := tx.QueryRow(ctx, `SELECT camera, announcement FROM epochs WHERE id = $1 FOR UPDATE`, e.ID).Scan(&camera, &ann); err != nil {
				return mapErr(err, "put epoch")
			}
			if camera != e.CameraID || string(ann) != string(e.Announcement) {
				return fmt.Errorf("put epoch: id exists with another camera or announcement: %w", store.ErrConflict)
			}
		}
		for _, w := range wraps {
			if _, err := tx.Exec(ctx, `INSERT INTO wraps (epoch, device_id, data) VALUES ($1, $2, $3)
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
	err := s.db.QueryRow(ctx, `SELECT id, camera, announcement, created FROM epochs WHERE id = $1`, id).Scan(&e.ID, &e.CameraID, &e.Announcement, &created)
	if err != nil {
		return store.Epoch{}, mapErr(err, "epoch")
	}
	e.Created = fromMicro(created)
	return e, nil
}

// Epochs implements store.Store.
func (s *Store) Epochs(ctx context.Context, cameraID, deviceID string) ([]store.Epoch, error) {
	rows, err := s.db.Query(ctx, `
		SELECT e.id, e.camera, e.announcement, e.created, w.data
		FROM epochs e LEFT JOIN wraps w ON w.epoch = e.id AND w.device_id = $1
		WHERE e.camera = $2 ORDER BY e.created, e.id`, deviceID, cameraID)
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

func scanObject(row pgx.Row) (store.Object, error) {
	var o store.Object
	var t, created int64
	if err := row.Scan(&o.ID, &o.HouseholdID, &o.CameraID, &o.EpochID, &o.Kind, &t, &o.Size, &o.SHA256, &created); err != nil {
		return store.Object{}, err
	}
	o.CoarseTime, o.Created = fromMicro(t), fromMicro(created)
	return o, nil
}

// sameObject reports whether a stored object matches a retried put.
func sameObject(old, o store.Object) bool {
	return old.SHA256 == o.SHA256 && old.CameraID == o.CameraID && old.Kind == o.Kind
}

// PutObject implements store.Store.
func (s *Store) PutObject(ctx context.Context, o store.Object, refs []string) (bool, error) {
	existed := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		old, err := scanObject(tx.QueryRow(ctx, `SELECT `+objectCols+` FROM objects WHERE id = $1`, o.ID))
		switch {
		case err == nil:
			if !sameObject(old, o) {
				return fmt.Errorf("put object: id exists with other content: %w", store.ErrConflict)
			}
			existed = true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return mapErr(err, "put object")
		}
		if len(refs) > 0 {
			// Lock the referenced objects against a concurrent delete and
			// find those that are missing or of another camera.
			rows, err := tx.Query(ctx, `SELECT id FROM objects WHERE id = ANY($1) AND camera = $2 FOR KEY SHARE`, refs, o.CameraID)
			if err != nil {
				return mapErr(err, "put object refs")
			}
			found, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return mapErr(err, "put object refs")
			}
			have := make(map[string]bool, len(found))
			for _, id := range found {
				have[id] = true
			}
			for _, ref := range refs {
				if !have[ref] {
					return fmt.Errorf("put object: ref %s: %w", ref, store.ErrMissingRefs)
				}
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO objects (`+objectCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
			o.ID, o.HouseholdID, o.CameraID, o.EpochID, o.Kind, micro(o.CoarseTime), o.Size, o.SHA256, micro(o.Created))
		if err != nil {
			return mapErr(err, "put object")
		}
		if tag.RowsAffected() == 0 {
			// A concurrent put of the same id won the insert.
			old, err := scanObject(tx.QueryRow(ctx, `SELECT `+objectCols+` FROM objects WHERE id = $1`, o.ID))
			if err != nil {
				return mapErr(err, "put object")
			}
			if !sameObject(old, o) {
				return fmt.Errorf("put object: id exists with other content: %w", store.ErrConflict)
			}
			existed = true
			return nil
		}
		if len(refs) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO manifest_refs (manifest_id, object_id)
				SELECT $1, r FROM unnest($2::text[]) AS r ON CONFLICT DO NOTHING`, o.ID, refs); err != nil {
				return mapErr(err, "put object refs")
			}
		}
		_, err = tx.Exec(ctx, `UPDATE cameras SET last_upload = greatest(last_upload, $1) WHERE id = $2`, micro(o.Created), o.CameraID)
		return mapErr(err, "put object")
	})
	return existed, err
}

// Object implements store.Store.
func (s *Store) Object(ctx context.Context, id string) (store.Object, error) {
	o, err := scanObject(s.db.QueryRow(ctx, `SELECT `+objectCols+` FROM objects WHERE id = $1`, id))
	return o, mapErr(err, "object")
}

func (s *Store) objects(ctx context.Context, what, query string, args ...any) ([]store.Object, error) {
	rows, err := s.db.Query(ctx, query, args...)
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
		WHERE camera = $1 AND kind = 'manifest' AND coarse_time >= $2 AND coarse_time <= $3
		ORDER BY coarse_time, id LIMIT $4`, cameraID, micro(from), micro(to), limit)
}

// Objects implements store.Store. The index objects_camera_kind_time
// answers it.
func (s *Store) Objects(ctx context.Context, cameraID, kind string, from, to time.Time, limit int) ([]store.Object, error) {
	return s.objects(ctx, "objects of a kind", `SELECT `+objectCols+` FROM objects
		WHERE camera = $1 AND kind = $2 AND coarse_time >= $3 AND coarse_time <= $4
		ORDER BY coarse_time, id LIMIT $5`, cameraID, kind, micro(from), micro(to), limit)
}

// ExpiredObjects implements store.Store.
func (s *Store) ExpiredObjects(ctx context.Context, cameraID string, cutoff time.Time, limit int) ([]store.Object, error) {
	return s.objects(ctx, "expired objects", `SELECT `+objectCols+` FROM objects WHERE id IN (
			SELECT id FROM objects WHERE camera = $1 AND kind = 'manifest' AND coarse_time < $2
			UNION
			SELECT r.object_id FROM manifest_refs r JOIN objects m ON m.id = r.manifest_id
				WHERE m.camera = $1 AND m.kind = 'manifest' AND m.coarse_time < $2
			UNION
			SELECT o.id FROM objects o WHERE o.camera = $1 AND o.coarse_time < $2
				AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.object_id = o.id)
		) ORDER BY coarse_time, id LIMIT $3`, cameraID, micro(cutoff), limit)
}

// DeleteObjects implements store.Store.
func (s *Store) DeleteObjects(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `DELETE FROM objects WHERE id = ANY($1)`, ids)
	return mapErr(err, "delete objects")
}
