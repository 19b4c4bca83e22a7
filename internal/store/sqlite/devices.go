package sqlitestore

import (
	"context"
	"database/sql"
	"sort"
)

// RemoveDevice implements store.Store.
func (s *Store) RemoveDevice(ctx context.Context, household, deviceID string) ([]string, error) {
	ended := []string{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM wraps WHERE device_id = ? AND epoch IN (
			SELECT e.id FROM epochs e JOIN cameras c ON c.id = e.camera WHERE c.household = ?)`, deviceID, household); err != nil {
			return mapErr(err, "remove device: delete wraps")
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM sessions WHERE device_id = ? AND device_id <> '' AND (
			account IN (SELECT owner FROM households WHERE id = ?) OR
			account IN (SELECT account FROM memberships WHERE household = ?)) RETURNING id`, deviceID, household, household)
		if err != nil {
			return mapErr(err, "remove device: end sessions")
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return mapErr(err, "remove device: end sessions")
			}
			ended = append(ended, id)
		}
		return mapErr(rows.Err(), "remove device: end sessions")
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(ended)
	return ended, nil
}
