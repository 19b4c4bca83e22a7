package pgstore

import (
	"context"

	"github.com/porchlight/porchlight/internal/store"
)

// MembershipsOf implements store.Store. An empty camera list reads back as
// nil.
func (s *Store) MembershipsOf(ctx context.Context, accountID string) ([]store.Membership, error) {
	rows, err := s.db.Query(ctx, `SELECT household, account, cameras, expires, created FROM memberships WHERE account = $1 ORDER BY created, household`, accountID)
	if err != nil {
		return nil, mapErr(err, "memberships of account")
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		var m store.Membership
		var expires, created int64
		if err := rows.Scan(&m.HouseholdID, &m.AccountID, &m.Cameras, &expires, &created); err != nil {
			return nil, mapErr(err, "memberships of account")
		}
		if len(m.Cameras) == 0 {
			m.Cameras = nil
		}
		m.Expires, m.Created = fromMicro(expires), fromMicro(created)
		out = append(out, m)
	}
	return out, mapErr(rows.Err(), "memberships of account")
}
