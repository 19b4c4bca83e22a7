package sqlitestore

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
	res, err := s.w.ExecContext(ctx, `UPDATE households SET quota_bytes = ? WHERE id = ?`, bytes, household)
	return affected(res, err, "set quota")
}

// HouseholdUsage implements store.Store. The sum is read from the
// objects_household index (household, size) alone; an unknown household
// uses 0 bytes.
func (s *Store) HouseholdUsage(ctx context.Context, household string) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM objects WHERE household = ?`, household).Scan(&n)
	return n, mapErr(err, "household usage")
}
