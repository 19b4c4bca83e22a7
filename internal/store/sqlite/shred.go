package sqlitestore

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/porchlight/porchlight/internal/store"
)

// RangeObjects implements store.Store.
func (s *Store) RangeObjects(ctx context.Context, cameraID string, from, to time.Time, limit int) ([]store.Object, error) {
	return s.objects(ctx, "range objects", `SELECT `+objectCols+` FROM objects WHERE id IN (
			SELECT id FROM objects WHERE camera = ?1 AND kind = 'manifest' AND coarse_time BETWEEN ?2 AND ?3
			UNION
			SELECT r.object_id FROM manifest_refs r JOIN objects m ON m.id = r.manifest_id
				WHERE m.camera = ?1 AND m.kind = 'manifest' AND m.coarse_time BETWEEN ?2 AND ?3
			UNION
			SELECT o.id FROM objects o WHERE o.camera = ?1 AND o.coarse_time BETWEEN ?2 AND ?3
				AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.object_id = o.id)
		) ORDER BY coarse_time, id LIMIT ?4`, cameraID, micro(from), micro(to), limit)
}

// ShredEpochs implements store.Store.
func (s *Store) ShredEpochs(ctx context.Context, epochIDs []string) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range epochIDs {
			res, err := tx.ExecContext(ctx, `DELETE FROM wraps WHERE epoch = ?`, id)
			if err != nil {
				return mapErr(err, "shred epoch")
			}
			k, err := res.RowsAffected()
			if err != nil {
				return mapErr(err, "shred epoch")
			}
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ShredEmptyEpochs implements store.Store.
func (s *Store) ShredEmptyEpochs(ctx context.Context, epochIDs []string) ([]string, error) {
	shredded := []string{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range epochIDs {
			res, err := tx.ExecContext(ctx, `DELETE FROM wraps WHERE epoch = ?1
				AND NOT EXISTS (SELECT 1 FROM objects WHERE epoch = ?1)`, id)
			if err != nil {
				return mapErr(err, "shred empty epoch")
			}
			if k, err := res.RowsAffected(); err != nil {
				return mapErr(err, "shred empty epoch")
			} else if k > 0 {
				shredded = append(shredded, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(shredded)
	return shredded, nil
}

// DeleteCamera implements store.Store.
func (s *Store) DeleteCamera(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// Children first: the cascades would do it, but saying so keeps
		// the deletion independent of the foreign-key pragma.
		for _, q := range []string{
			`DELETE FROM wraps WHERE epoch IN (SELECT id FROM epochs WHERE camera = ?)`,
			`DELETE FROM objects WHERE camera = ?`,
			`DELETE FROM epochs WHERE camera = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return mapErr(err, "delete camera")
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM cameras WHERE id = ?`, id)
		if err != nil {
			return mapErr(err, "delete camera")
		}
		if k, err := res.RowsAffected(); err != nil {
			return mapErr(err, "delete camera")
		} else if k == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
