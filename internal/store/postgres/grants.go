package pgstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds support grants and the audit log index. A grant's
// released keys are ordinary rows of wraps for the pseudo device
// store.GrantDevice(id), so ShredEpochs, DeleteCamera and RemoveDevice
// cover them without knowing about grants. ApproveGrant and EndGrant lock
// the grant's row FOR UPDATE first, so of two racing state moves the
// second waits and then sees the first's state.

// Grant states the store decides on (api.GrantPending, api.GrantApproved);
// the store does not import api.
const (
	grantPending  = "pending"
	grantApproved = "approved"
)

const grantCols = `id, household, requester, org, country, camera, camera_id, from_time, to_time, video, duration_ns,
	reason, ticket, recipient, state, signed, created, decided, expires`

func scanGrant(row pgx.Row) (store.Grant, error) {
	var g store.Grant
	var from, to, dur, created, decided, expires int64
	if err := row.Scan(&g.ID, &g.HouseholdID, &g.Requester, &g.Org, &g.Country, &g.Camera, &g.CameraID, &from, &to, &g.Video, &dur,
		&g.Reason, &g.Ticket, &g.Recipient, &g.State, &g.Signed, &created, &decided, &expires); err != nil {
		return store.Grant{}, err
	}
	g.From, g.To, g.Duration = fromMicro(from), fromMicro(to), time.Duration(dur)
	g.Created, g.Decided, g.Expires = fromMicro(created), fromMicro(decided), fromMicro(expires)
	return g, nil
}

// CreateGrant implements store.Store. A State left empty is stored as
// pending.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	if g.State == "" {
		g.State = grantPending
	}
	_, err := s.db.Exec(ctx, `INSERT INTO grants (`+grantCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		g.ID, g.HouseholdID, g.Requester, g.Org, g.Country, g.Camera, g.CameraID, micro(g.From), micro(g.To), g.Video, int64(g.Duration),
		g.Reason, g.Ticket, g.Recipient, g.State, g.Signed, micro(g.Created), micro(g.Decided), micro(g.Expires))
	return mapErr(err, "create grant")
}

// Grant implements store.Store.
func (s *Store) Grant(ctx context.Context, id string) (store.Grant, error) {
	g, err := scanGrant(s.db.QueryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE id = $1`, id))
	return g, mapErr(err, "grant")
}

func (s *Store) grants(ctx context.Context, what, query string, args ...any) ([]store.Grant, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, what)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Grant, error) { return scanGrant(row) })
	if err != nil {
		return nil, mapErr(err, what)
	}
	if out == nil {
		out = []store.Grant{}
	}
	return out, nil
}

// HouseholdGrants implements store.Store.
func (s *Store) HouseholdGrants(ctx context.Context, household string) ([]store.Grant, error) {
	return s.grants(ctx, "household grants", `SELECT `+grantCols+` FROM grants WHERE household = $1 ORDER BY created DESC, id DESC`, household)
}

// RequesterGrants implements store.Store.
func (s *Store) RequesterGrants(ctx context.Context, requester string) ([]store.Grant, error) {
	return s.grants(ctx, "requester grants", `SELECT `+grantCols+` FROM grants WHERE requester = $1 ORDER BY created DESC, id DESC`, requester)
}

// DueGrants implements store.Store.
func (s *Store) DueGrants(ctx context.Context, t time.Time) ([]store.Grant, error) {
	return s.grants(ctx, "due grants", `SELECT `+grantCols+` FROM grants
		WHERE state IN ($1, $2) AND expires <= $3 ORDER BY expires, id`, grantApproved, grantPending, micro(t))
}

// ApproveGrant implements store.Store. Besides belonging to cameraID,
// every epoch's camera must be of the grant's household: no approval
// releases another household's keys. The epochs are locked FOR KEY SHARE
// until commit, so a concurrent DeleteCamera removes them (and, by
// cascade, the new wraps) only afterwards.
func (s *Store) ApproveGrant(ctx context.Context, id string, signed []byte, cameraID string, decided, expires time.Time, wraps map[string][]byte) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var state, household string
		if err := tx.QueryRow(ctx, `SELECT state, household FROM grants WHERE id = $1 FOR UPDATE`, id).Scan(&state, &household); err != nil {
			return mapErr(err, "approve grant")
		}
		if state != grantPending {
			return fmt.Errorf("approve grant in state %s: %w", state, store.ErrConflict)
		}
		epochs := make([]string, 0, len(wraps))
		data := make([][]byte, 0, len(wraps))
		for e := range wraps {
			epochs = append(epochs, e)
		}
		sort.Strings(epochs) // a stable error and write order
		for _, e := range epochs {
			data = append(data, wraps[e])
		}
		if len(epochs) > 0 {
			rows, err := tx.Query(ctx, `SELECT e.id FROM epochs e JOIN cameras c ON c.id = e.camera
				WHERE e.id = ANY($1) AND e.camera = $2 AND c.household = $3 FOR KEY SHARE OF e`, epochs, cameraID, household)
			if err != nil {
				return mapErr(err, "approve grant: check epochs")
			}
			found, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return mapErr(err, "approve grant: check epochs")
			}
			have := make(map[string]bool, len(found))
			for _, e := range found {
				have[e] = true
			}
			for _, e := range epochs {
				if !have[e] {
					return fmt.Errorf("approve grant: epoch %s is not an epoch of camera %s of the grant's household: %w", e, cameraID, store.ErrConflict)
				}
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE grants SET state = $1, signed = $2, camera_id = $3, decided = $4, expires = $5 WHERE id = $6`,
			grantApproved, signed, cameraID, micro(decided), micro(expires), id)
		if err := affected(tag, err, "approve grant"); err != nil || len(epochs) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO wraps (epoch, device_id, data)
			SELECT u.e, $1, u.d FROM unnest($2::text[], $3::bytea[]) AS u(e, d)
			ON CONFLICT (epoch, device_id) DO UPDATE SET data = excluded.data`, store.GrantDevice(id), epochs, data)
		return mapErr(err, "approve grant: store wraps")
	})
}

// EndGrant implements store.Store.
func (s *Store) EndGrant(ctx context.Context, id string, from []string, to string, t time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM grants WHERE id = $1 FOR UPDATE`, id).Scan(&state); err != nil {
			return mapErr(err, "end grant")
		}
		if !slices.Contains(from, state) {
			return fmt.Errorf("end grant in state %s (want one of %v): %w", state, from, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE grants SET state = $1,
			decided = CASE WHEN state = $2 THEN $3 ELSE decided END WHERE id = $4`, to, grantPending, micro(t), id); err != nil {
			return mapErr(err, "end grant")
		}
		tag, err := tx.Exec(ctx, `DELETE FROM wraps WHERE device_id = $1`, store.GrantDevice(id))
		n, err = count(tag, err, "end grant: delete wraps")
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// GrantWrapCount implements store.Store.
func (s *Store) GrantWrapCount(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM wraps WHERE device_id = $1`, store.GrantDevice(id)).Scan(&n)
	return n, mapErr(err, "grant wrap count")
}

// --- audit index ---

// AddAuditRef implements store.Store.
func (s *Store) AddAuditRef(ctx context.Context, r store.AuditRef) error {
	if r.Index > math.MaxInt64 {
		return fmt.Errorf("add audit ref: index %d does not fit the store (at most 2^63-1)", r.Index)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO audit_refs (idx, household, id, class, entry_time) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (idx) DO NOTHING`, int64(r.Index), r.HouseholdID, r.ID, r.Class, micro(r.Time))
	return mapErr(err, "add audit ref")
}

// AuditRefs implements store.Store.
func (s *Store) AuditRefs(ctx context.Context, household string, from uint64, limit int) ([]store.AuditRef, error) {
	out := []store.AuditRef{}
	if from > math.MaxInt64 || limit <= 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT idx, household, id, class, entry_time FROM audit_refs
		WHERE household = $1 AND idx >= $2 ORDER BY idx LIMIT $3`, household, int64(from), limit)
	if err != nil {
		return nil, mapErr(err, "audit refs")
	}
	defer rows.Close()
	for rows.Next() {
		var r store.AuditRef
		var idx, at int64
		if err := rows.Scan(&idx, &r.HouseholdID, &r.ID, &r.Class, &at); err != nil {
			return nil, mapErr(err, "audit refs")
		}
		r.Index, r.Time = uint64(idx), fromMicro(at)
		out = append(out, r)
	}
	return out, mapErr(rows.Err(), "audit refs")
}
