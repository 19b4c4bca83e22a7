package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/porchlight/porchlight/internal/store"
)

// MembershipsOf implements store.Store.
func (s *Store) MembershipsOf(ctx context.Context, accountID string) ([]store.Membership, error) {
	return s.memberships(ctx, "memberships of account", `SELECT household, account, cameras, expires, created FROM memberships WHERE account = ? ORDER BY created, household`, accountID)
}

// HouseholdMemberships implements store.Store.
func (s *Store) HouseholdMemberships(ctx context.Context, household string) ([]store.Membership, error) {
	return s.memberships(ctx, "memberships of household", `SELECT household, account, cameras, expires, created FROM memberships WHERE household = ? ORDER BY created, account`, household)
}

func (s *Store) memberships(ctx context.Context, what, query, arg string) ([]store.Membership, error) {
	rows, err := s.r.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		var m store.Membership
		var cams string
		var expires, created int64
		if err := rows.Scan(&m.HouseholdID, &m.AccountID, &cams, &expires, &created); err != nil {
			return nil, mapErr(err, what)
		}
		if err := json.Unmarshal([]byte(cams), &m.Cameras); err != nil {
			return nil, fmt.Errorf("%s: decode camera list: %w", what, err)
		}
		m.Expires, m.Created = fromMicro(expires), fromMicro(created)
		out = append(out, m)
	}
	return out, mapErr(rows.Err(), what)
}
