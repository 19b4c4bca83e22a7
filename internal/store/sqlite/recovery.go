package sqlitestore

import (
	"context"
	"time"
)

// PutRecoveryKit implements store.Store.
func (s *Store) PutRecoveryKit(ctx context.Context, household string, data []byte, updated time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO recovery_kits (household, data, updated) VALUES (?, ?, ?)
		ON CONFLICT (household) DO UPDATE SET data = excluded.data, updated = excluded.updated`, household, data, micro(updated))
	return mapErr(err, "put recovery kit")
}

// RecoveryKit implements store.Store.
func (s *Store) RecoveryKit(ctx context.Context, household string) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM recovery_kits WHERE household = ?`, household).Scan(&data)
	return data, mapErr(err, "recovery kit")
}
