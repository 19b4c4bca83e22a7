package pgstore

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
	tag, err := s.db.Exec(ctx, `UPDATE cameras SET settings = $1, settings_version = $2 WHERE id = $3 AND settings_version < $2`,
		sealed, int64(version), camera)
	if err := affected(tag, err, "put camera settings"); !errors.Is(err, store.ErrNotFound) {
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
	if err := s.db.QueryRow(ctx, `SELECT settings_version, settings FROM cameras WHERE id = $1`, camera).Scan(&v, &b); err != nil {
		return 0, nil, mapErr(err, "camera settings")
	}
	if v == 0 || len(b) == 0 {
		return 0, nil, fmt.Errorf("camera settings: none set: %w", store.ErrNotFound)
	}
	return uint64(v), b, nil
}
