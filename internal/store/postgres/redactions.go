package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds redaction jobs (issue 8). The store keeps the sealed job
// and the blob key of the sealed result; states move pending → running →
// done | failed, and a done job's result is consumed once or expires.
// State moves lock the job's row (FOR UPDATE, or SKIP LOCKED when a hub
// claims), so of two racing moves the second sees the first's state.

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

func scanRedaction(row pgx.Row) (store.Redaction, error) {
	var r store.Redaction
	var created, updated, expires int64
	if err := row.Scan(&r.ID, &r.HouseholdID, &r.CameraID, &r.HubID, &r.Purpose, &r.Campaign, &r.State, &r.Error, &r.Sealed,
		&r.ResultKey, &r.ResultSize, &r.ResultSHA256, &r.Consumed, &created, &updated, &expires); err != nil {
		return store.Redaction{}, err
	}
	r.Created, r.Updated, r.Expires = fromMicro(created), fromMicro(updated), fromMicro(expires)
	return r, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func redactionRows(ctx context.Context, q querier, what, query string, args ...any) ([]store.Redaction, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, what)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Redaction, error) { return scanRedaction(row) })
	if err != nil {
		return nil, mapErr(err, what)
	}
	if out == nil {
		out = []store.Redaction{}
	}
	return out, nil
}

// CreateRedaction implements store.Store.
func (s *Store) CreateRedaction(ctx context.Context, r store.Redaction) error {
	_, err := s.db.Exec(ctx, `INSERT INTO redactions (`+redactionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, '', 0, '', FALSE, $9, $9, 0)`,
		r.ID, r.HouseholdID, r.CameraID, r.HubID, r.Purpose, r.Campaign, redactionPending, r.Sealed, micro(r.Created))
	return mapErr(err, "create redaction")
}

// Redaction implements store.Store.
func (s *Store) Redaction(ctx context.Context, id string) (store.Redaction, error) {
	r, err := scanRedaction(s.db.QueryRow(ctx, `SELECT `+redactionCols+` FROM redactions WHERE id = $1`, id))
	return r, mapErr(err, "redaction")
}

// ClaimRedactions implements store.Store.
func (s *Store) ClaimRedactions(ctx context.Context, hubID string, t, stale time.Time, limit int) ([]store.Redaction, error) {
	var out []store.Redaction
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = redactionRows(ctx, tx, "claim redactions", `SELECT `+redactionCols+` FROM redactions
			WHERE hub = $1 AND (state = $2 OR (state = $3 AND updated < $4)) ORDER BY created, id LIMIT $5 FOR UPDATE SKIP LOCKED`,
			hubID, redactionPending, redactionRunning, micro(stale), limit)
		if err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.Exec(ctx, `UPDATE redactions SET state = $1, updated = $2 WHERE id = $3`, redactionRunning, micro(t), out[i].ID); err != nil {
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
	return s.tx(ctx, func(tx pgx.Tx) error {
		var state, hub string
		if err := tx.QueryRow(ctx, `SELECT state, hub FROM redactions WHERE id = $1 FOR UPDATE`, id).Scan(&state, &hub); err != nil {
			return mapErr(err, "finish redaction")
		}
		if state != redactionRunning || hub != hubID {
			return fmt.Errorf("finish redaction in state %s: %w", state, store.ErrConflict)
		}
		_, err := tx.Exec(ctx, `UPDATE redactions SET state = $1, error = $2, result_key = $3, result_size = $4, result_sha256 = $5,
			updated = $6, expires = $7 WHERE id = $8`, f.State, f.Error, f.ResultKey, f.ResultSize, f.ResultSHA256, micro(f.Time), micro(f.Expires), id)
		return mapErr(err, "finish redaction")
	})
}

// ConsumeRedaction implements store.Store.
func (s *Store) ConsumeRedaction(ctx context.Context, household, id, purpose string, t time.Time) (store.Redaction, error) {
	var r store.Redaction
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = scanRedaction(tx.QueryRow(ctx, `SELECT `+redactionCols+` FROM redactions WHERE id = $1 AND household = $2 FOR UPDATE`, id, household))
		if err != nil {
			return mapErr(err, "consume redaction")
		}
		if r.State != redactionDone || r.Consumed || r.Purpose != purpose || !t.Before(r.Expires) {
			return fmt.Errorf("consume redaction in state %s (consumed %v, purpose %s): %w", r.State, r.Consumed, r.Purpose, store.ErrConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE redactions SET consumed = TRUE, updated = $1 WHERE id = $2`, micro(t), id)
		r.Consumed, r.Updated = true, t.UTC()
		return mapErr(err, "consume redaction")
	})
	return r, err
}

// ExpiredRedactions implements store.Store.
func (s *Store) ExpiredRedactions(ctx context.Context, t time.Time, limit int) ([]store.Redaction, error) {
	return redactionRows(ctx, s.db, "expired redactions", `SELECT `+redactionCols+` FROM redactions
		WHERE state = $1 AND NOT consumed AND expires <= $2 ORDER BY expires, id LIMIT $3`, redactionDone, micro(t), limit)
}

// ExpireRedaction implements store.Store.
func (s *Store) ExpireRedaction(ctx context.Context, id string, t time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE redactions SET state = $1, result_key = '', updated = $2 WHERE id = $3 AND state = $4 AND NOT consumed`,
		redactionExpired, micro(t), id, redactionDone)
	n, err := count(tag, err, "expire redaction")
	if err == nil && n == 0 {
		return fmt.Errorf("expire redaction: %w", store.ErrConflict)
	}
	return err
}
