package sqlitestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/porchlight/porchlight/internal/store"
)

// PutCameraSettings implements store.Store: one conditional UPDATE, so two
// owners racing with the same version cannot both win.
func (s *Store) PutCameraSettings(ctx context.Context, camera string, version uint64, sealed []byte) error {
	if version == 0 || len(sealed) == 0 {
		return fmt.Errorf("put camera settings: version and settings are required")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE cameras SET settings = ?, settings_version = ? WHERE id = ? AND settings_version < ?`,
		sealed, int64(version), camera, int64(version))
	if err := affected(res, err, "put camera settings"); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := s.Camera(ctx, camera); err != nil {
		return err
	}
	return fmt.Errorf("put camera settings: version %d is not newer than the stored one: %w", version, store.ErrConflict)
}

// CameraSettings implements store.Store.
func (s *Store) CameraSettings(ctx context.Context, camera string) (uint64, []byte, error) {
	var v int64
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT settings_version, settings FROM cameras WHERE id = ?`, camera).Scan(&v, &b)
	if err != nil {
		return 0, nil, mapErr(err, "camera settings")
	}
	if v == 0 || len(b) == 0 {
		return 0, nil, fmt.Errorf("camera settings: none set: %w", store.ErrNotFound)
	}
	return uint64(v), b, nil
}
