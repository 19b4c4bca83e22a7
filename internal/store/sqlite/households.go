package sqlitestore

import "context"

// HouseholdsWithDevices lists the households that have a roster (so owner
// devices whose audit log porchlightd writes to), in id order. porchlightd
// uses it at startup to record the web app it serves (internal/server).
func (s *Store) HouseholdsWithDevices(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT household FROM roster_versions ORDER BY household`)
	if err != nil {
		return nil, mapErr(err, "households with devices")
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err, "households with devices")
		}
		out = append(out, id)
	}
	return out, mapErr(rows.Err(), "households with devices")
}
