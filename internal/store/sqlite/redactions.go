package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds redaction jobs (issue 8). The store keeps the sealed job
// and the blob key of the sealed result; states move pending → running →
// done | failed, and a done job's result is consumed once or expires.

// Redaction states the store decides on (api.Redaction*); the store does
// not import api.
const (
	redactionPending = "pending"
	redactionRunning = "running"
	redactionDone    = "done"
	redactionFailed  = "failed"
	redactionExpired = "expired"
)

const redactionCols = `id, household, camera, hub, purpose, campaign, state, error, sealed, result_key, result_size, result_sha256,
	consumed, created, updated, expires`

func scanRedaction(sc interface{ Scan(...any) error }) (store.Redaction, error) {
	var r store.Redaction
	var created, updated, expires int64
	err := sc.Scan(&r.ID, &r.HouseholdID, &r.CameraID, &r.HubID, &r.Purpose, &r.Campaign, &r.State, &r.Error, &r.Sealed,
		&r.ResultKey, &r.ResultSize, &r.ResultSHA256, &r.Consumed, &created, &updated, &expires)
	r.Created, r.Updated, r.Expires = fromMicro(created), fromMicro(updated), fromMicro(expires)
	return r, err
}

func (s *Store) redactions(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, what, query string, args ...any) ([]store.Redaction, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	out := []store.Redaction{}
	for rows.Next() {
		r, err := scanRedaction(rows)
		if err != nil {
			return nil, mapErr(err, what)
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err(), what)
}

// CreateRedaction implements store.Store.
func (s *Store) CreateRedaction(ctx context.Context, r store.Redaction) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO redactions (`+redactionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, '', 0, '', 0, ?, ?, 0)`,
		r.ID, r.HouseholdID, r.CameraID, r.HubID, r.Purpose, r.Campaign, redactionPending, r.Sealed, micro(r.Created), micro(r.Created))
	return mapErr(err, "create redaction")
}

// Redaction implements store.Store.
func (s *Store) Redaction(ctx context.Context, id string) (store.Redaction, error) {
	r, err := scanRedaction(s.r.QueryRowContext(ctx, `SELECT `+redactionCols+` FROM redactions WHERE id = ?`, id))
	return r, mapErr(err, "redaction")
}

// ClaimRedactions implements store.Store. Hubs poll it every second while
// they wait, so it looks on a reader first and takes the single writer
// only when there is something to claim.
func (s *Store) ClaimRedactions(ctx context.Context, hubID string, t, stale time.Time, limit int) ([]store.Redaction, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM redactions WHERE hub = ?1 AND (state = ?2 OR (state = ?3 AND updated < ?4))`,
		hubID, redactionPending, redactionRunning, micro(stale)).Scan(&n); err != nil {
		return nil, mapErr(err, "claim redactions")
	}
	if n == 0 {
		return []store.Redaction{}, nil
	}
	var out []store.Redaction
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.redactions(ctx, tx, "claim redactions", `SELECT `+redactionCols+` FROM redactions
			WHERE hub = ?1 AND (state = ?2 OR (state = ?3 AND updated < ?4)) ORDER BY created, id LIMIT ?5`,
			hubID, redactionPending, redactionRunning, micro(stale), limit)
		if err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE redactions SET state = ?, updated = ? WHERE id = ?`, redactionRunning, micro(t), out[i].ID); err != nil {
				return mapErr(err, "claim redactions")
			}
			out[i].State, out[i].Updated = redactionRunning, t.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishRedaction implements store.Store.
func (s *Store) FinishRedaction(ctx context.Context, id, hubID string, f store.RedactionFinish) error {
	if f.State != redactionDone && f.State != redactionFailed {
		return fmt.Errorf("finish redaction: state %q is not done or failed", f.State)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var state, hub string
		if err := tx.QueryRowContext(ctx, `SELECT state, hub FROM redactions WHERE id = ?`, id).Scan(&state, &hub); err != nil {
			return mapErr(err, "finish redaction")
		}
		if state != redactionRunning || hub != hubID {
			return fmt.Errorf("finish redaction in state %s: %w", state, store.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `UPDATE redactions SET state = ?, error = ?, result_key = ?, result_size = ?, result_sha256 = ?,
			updated = ?, expires = ? WHERE id = ?`, f.State, f.Error, f.ResultKey, f.ResultSize, f.ResultSHA256, micro(f.Time), micro(f.Expires), id)
		return mapErr(err, "finish redaction")
	})
}

// ConsumeRedaction implements store.Store.
func (s *Store) ConsumeRedaction(ctx context.Context, household, id, purpose string, t time.Time) (store.Redaction, error) {
	var r store.Redaction
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanRedaction(tx.QueryRowContext(ctx, `SELECT `+redactionCols+` FROM redactions WHERE id = ? AND household = ?`, id, household))
		if err != nil {
			return mapErr(err, "consume redaction")
		}
		if r.State != redactionDone || r.Consumed || r.Purpose != purpose || !t.Before(r.Expires) {
			return fmt.Errorf("consume redaction in state %s (consumed %v, purpose %s): %w", r.State, r.Consumed, r.Purpose, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE redactions SET consumed = 1, updated = ? WHERE id = ?`, micro(t), id)
		r.Consumed, r.Updated = true, t.UTC()
		return mapErr(err, "consume redaction")
	})
	return r, err
}

// ExpiredRedactions implements store.Store.
func (s *Store) ExpiredRedactions(ctx context.Context, t time.Time, limit int) ([]store.Redaction, error) {
	return s.redactions(ctx, s.r, "expired redactions", `SELECT `+redactionCols+` FROM redactions
		WHERE state = ? AND consumed = 0 AND expires <= ? ORDER BY expires, id LIMIT ?`, redactionDone, micro(t), limit)
}

// ExpireRedaction implements store.Store.
func (s *Store) ExpireRedaction(ctx context.Context, id string, t time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE redactions SET state = ?, result_key = '', updated = ? WHERE id = ? AND state = ? AND consumed = 0`,
		redactionExpired, micro(t), id, redactionDone)
	n, err := count(res, err, "expire redaction")
	if err == nil && n == 0 {
		return fmt.Errorf("expire redaction: %w", store.ErrConflict)
	}
	return err
}
