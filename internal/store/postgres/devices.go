package pgstore

import (
	"context"
	"sort"

	"github.com/jackc/pgx/v5"
)

// RemoveDevice implements store.Store.
func (s *Store) RemoveDevice(ctx context.Context, household, deviceID string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM wraps w USING epochs e, cameras c
			WHERE w.device_id = $1 AND e.id = w.epoch AND c.id = e.camera AND c.household = $2`, deviceID, household); err != nil {
			return mapErr(err, "remove device: delete wraps")
		}
		rows, err := tx.Query(ctx, `DELETE FROM sessions WHERE device_id = $1 AND device_id <> '' AND (
			account IN (SELECT owner FROM households WHERE id = $2) OR
			account IN (SELECT account FROM memberships WHERE household = $2)) RETURNING id`, deviceID, household)
		if err != nil {
			return mapErr(err, "remove device: end sessions")
		}
		ended, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return mapErr(err, "remove device: end sessions")
	})
	if err != nil {
		return nil, err
	}
	if ended == nil {
		ended = []string{}
	}
	sort.Strings(ended)
	return ended, nil
}
