package pgstore

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// RangeObjects implements store.Store.
func (s *Store) RangeObjects(ctx context.Context, cameraID string, from, to time.Time, limit int) ([]store.Object, error) {
	return s.objects(ctx, "range objects", `SELECT `+objectCols+` FROM objects WHERE id IN (
			SELECT id FROM objects WHERE camera = $1 AND kind = 'manifest' AND coarse_time BETWEEN $2 AND $3
			UNION
			SELECT r.object_id FROM manifest_refs r JOIN objects m ON m.id = r.manifest_id
				WHERE m.camera = $1 AND m.kind = 'manifest' AND m.coarse_time BETWEEN $2 AND $3
			UNION
			SELECT o.id FROM objects o WHERE o.camera = $1 AND o.coarse_time BETWEEN $2 AND $3
				AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.object_id = o.id)
		) ORDER BY coarse_time, id LIMIT $4`, cameraID, micro(from), micro(to), limit)
}

// ShredEpochs implements store.Store.
func (s *Store) ShredEpochs(ctx context.Context, epochIDs []string) (int, error) {
	if len(epochIDs) == 0 {
		return 0, nil
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM wraps WHERE epoch = ANY($1)`, epochIDs)
	if err != nil {
		return 0, mapErr(err, "shred epochs")
	}
	return int(tag.RowsAffected()), nil
}

// ShredEmptyEpochs implements store.Store.
func (s *Store) ShredEmptyEpochs(ctx context.Context, epochIDs []string) ([]string, error) {
	shredded := []string{}
	if len(epochIDs) == 0 {
		return shredded, nil
	}
	rows, err := s.db.Query(ctx, `DELETE FROM wraps w WHERE w.epoch = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.epoch = w.epoch) RETURNING w.epoch`, epochIDs)
	if err != nil {
		return nil, mapErr(err, "shred empty epochs")
	}
	seen := map[string]bool{}
	for _, id := range epochIDs {
		seen[id] = false
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, mapErr(err, "shred empty epochs")
	}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			shredded = append(shredded, id)
		}
	}
	sort.Strings(shredded)
	return shredded, nil
}

// DeleteCamera implements store.Store.
func (s *Store) DeleteCamera(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM wraps WHERE epoch IN (SELECT id FROM epochs WHERE camera = $1)`,
			`DELETE FROM objects WHERE camera = $1`,
			`DELETE FROM epochs WHERE camera = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return mapErr(err, "delete camera")
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM cameras WHERE id = $1`, id)
		if err != nil {
			return mapErr(err, "delete camera")
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
