package pgstore

import (
	"context"

	"github.com/porchlight/porchlight/internal/store"
)

// MembershipsOf implements store.Store. An empty camera list reads back as
// nil.
func (s *Store) MembershipsOf(ctx context.Context, accountID string) ([]store.Membership, error) {
	return s.memberships(ctx, "memberships of account", `SELECT household, account, cameras, expires, created FROM memberships WHERE account = $1 ORDER BY created, household`, accountID)
}

// HouseholdMemberships implements store.Store.
func (s *Store) HouseholdMemberships(ctx context.Context, household string) ([]store.Membership, error) {
	return s.memberships(ctx, "memberships of household", `SELECT household, account, cameras, expires, created FROM memberships WHERE household = $1 ORDER BY created, account`, household)
}

func (s *Store) memberships(ctx context.Context, what, query, arg string) ([]store.Membership, error) {
	rows, err := s.db.Query(ctx, query, arg)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		var m store.Membership
		var expires, created int64
		if err := rows.Scan(&m.HouseholdID, &m.AccountID, &m.Cameras, &expires, &created); err != nil {
			return nil, mapErr(err, what)
		}
		if len(m.Cameras) == 0 {
			m.Cameras = nil
		}
		m.Expires, m.Created = fromMicro(expires), fromMicro(created)
		out = append(out, m)
	}
	return out, mapErr(rows.Err(), what)
}
