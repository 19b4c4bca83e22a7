package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// PutPushSubscription implements store.Store.
func (s *Store) PutPushSubscription(ctx context.Context, p store.PushSubscription) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM push_subscriptions WHERE endpoint = $1`, p.Endpoint); err != nil {
			return mapErr(err, "put push subscription: replace")
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_subscriptions (id, account, session, device_id, endpoint, p256dh, auth, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.ID, p.AccountID, p.SessionID, p.DeviceID, p.Endpoint, p.P256DH, p.Auth, micro(p.Created))
		return mapErr(err, "put push subscription")
	})
}

// PushSubscriptions implements store.Store.
func (s *Store) PushSubscriptions(ctx context.Context, accountID string) ([]store.PushSubscription, error) {
	const what = "push subscriptions"
	rows, err := s.db.Query(ctx, `SELECT id, account, session, device_id, endpoint, p256dh, auth, created
		FROM push_subscriptions WHERE account = $1 ORDER BY created, id`, accountID)
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
	tag, err := s.db.Exec(ctx, `DELETE FROM push_subscriptions WHERE id = $1 AND account = $2`, id, accountID)
	return affected(tag, err, "delete push subscription")
}
