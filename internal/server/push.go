package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/webpush"
)

// vapidKey is the VAPID signing key's file in data_dir (mode 0600).
// Browsers' push subscriptions are bound to it: a new key means every
// browser subscribes again.
const vapidKey = "vapid.pem"

// openPush loads (making it on first start) the VAPID key and configures
// Web Push. Push services learn the public origin as the contact.
func (m *Main) openPush(origin string) (*httpapi.Push, error) {
	k, err := webpush.LoadOrCreateKey(filepath.Join(m.DataDir, vapidKey))
	if err != nil {
		return nil, fmt.Errorf("web push: %w", err)
	}
	v := &webpush.VAPID{Key: k}
	if strings.HasPrefix(origin, "https://") { // RFC 8292: a mailto: or https: contact
		v.Subject = origin
	}
	return &httpapi.Push{VAPID: v}, nil
}

// waitPushes lets the pushes in flight finish (they use the store) until
// ctx ends.
func waitPushes(ctx context.Context, p *httpapi.Push) {
	if p == nil {
		return
	}
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
