package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/porchlight/porchlight/internal/store"
)

// PutPushSubscription implements store.Store.
func (s *Store) PutPushSubscription(ctx context.Context, p store.PushSubscription) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE endpoint = ?`, p.Endpoint); err != nil {
			return mapErr(err, "put push subscription: replace")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO push_subscriptions (id, account, session, device_id, endpoint, p256dh, auth, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.AccountID, p.SessionID, p.DeviceID, p.Endpoint, p.P256DH, p.Auth, micro(p.Created))
		return mapErr(err, "put push subscription")
	})
}

// PushSubscriptions implements store.Store.
func (s *Store) PushSubscriptions(ctx context.Context, accountID string) ([]store.PushSubscription, error) {
	const what = "push subscriptions"
	rows, err := s.r.QueryContext(ctx, `SELECT id, account, session, device_id, endpoint, p256dh, auth, created
		FROM push_subscriptions WHERE account = ? ORDER BY created, id`, accountID)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	out := []store.PushSubscription{}
	for rows.Next() {
		var p store.PushSubscription
		var created int64
		if err := rows.Scan(&p.ID, &p.AccountID, &p.SessionID, &p.DeviceID, &p.Endpoint, &p.P256DH, &p.Auth, &created); err != nil {
			return nil, mapErr(err, what)
		}
		p.Created = fromMicro(created)
		out = append(out, p)
	}
	return out, mapErr(rows.Err(), what)
}

// DeletePushSubscription implements store.Store.
func (s *Store) DeletePushSubscription(ctx context.Context, accountID, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id = ? AND account = ?`, id, accountID)
	return affected(res, err, "delete push subscription")
}
