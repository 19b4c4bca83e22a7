package pgstore

import (
	"context"
	"fmt"
)

// SetQuota implements store.Store. A negative quota is refused before the
// database is asked (the column's CHECK would refuse it too).
func (s *Store) SetQuota(ctx context.Context, household string, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("set quota: quota must be 0 (no limit) or more bytes, not %d", bytes)
	}
	tag, err := s.db.Exec(ctx, `UPDATE households SET quota_bytes = $1 WHERE id = $2`, bytes, household)
	return affected(tag, err, "set quota")
}

// HouseholdUsage implements store.Store. The sum is read from the
// objects_household index (household, size); an unknown household uses 0
// bytes.
func (s *Store) HouseholdUsage(ctx context.Context, household string) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::BIGINT FROM objects WHERE household = $1`, household).Scan(&n); err != nil {
		return 0, mapErr(err, "household usage")
	}
	return n, nil
}
