package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/porchlight/porchlight/internal/store"
)

// MembershipsOf implements store.Store.
func (s *Store) MembershipsOf(ctx context.Context, accountID string) ([]store.Membership, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT household, account, cameras, expires, created FROM memberships WHERE account = ? ORDER BY created, household`, accountID)
	if err != nil {
		return nil, mapErr(err, "memberships of account")
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		var m store.Membership
		var cams string
		var expires, created int64
		if err := rows.Scan(&m.HouseholdID, &m.AccountID, &cams, &expires, &created); err != nil {
			return nil, mapErr(err, "memberships of account")
		}
		if err := json.Unmarshal([]byte(cams), &m.Cameras); err != nil {
			return nil, fmt.Errorf("memberships of account: decode camera list: %w", err)
		}
		m.Expires, m.Created = fromMicro(expires), fromMicro(created)
		out = append(out, m)
	}
	return out, mapErr(rows.Err(), "memberships of account")
}
