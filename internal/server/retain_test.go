package server

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/store"
)

// TestRetainCleansSignInState: the retention pass drops expired sign-in
// ceremonies and rate-limit keys whose window and block are long over, and
// keeps live ones.
func TestRetainCleansSignInState(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	m := &Main{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return now }}
	if _, err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := m.run.store
	ctx := t.Context()
	for _, c := range []store.Ceremony{
		{ID: "plc_expired", Kind: "mfa", Expires: now.Add(-time.Minute)},
		{ID: "plc_live", Kind: "mfa", Expires: now.Add(time.Minute)},
	} {
		if err := st.PutCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	set := func(key string, start, blocked time.Time) {
		if _, err := st.UpdateThrottle(ctx, key, func(th *store.Throttle) {
			th.Failures, th.WindowStart, th.BlockedUntil = 3, start, blocked
		}); err != nil {
			t.Fatal(err)
		}
	}
	window := m.LoginLimits.Window
	set("addr:old", now.Add(-2*window), time.Time{})
	set("addr:current", now.Add(-time.Minute), time.Time{})
	set("acct:blocked", now.Add(-2*window), now.Add(time.Minute))

	if _, err := m.Retain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ceremony(ctx, "plc_expired"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired ceremony: %v, want it deleted", err)
	}
	if _, err := st.Ceremony(ctx, "plc_live"); err != nil {
		t.Errorf("live ceremony: %v", err)
	}
	for key, kept := range map[string]bool{"addr:old": false, "addr:current": true, "acct:blocked": true} {
		th, err := st.Throttle(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Failures != 0; got != kept {
			t.Errorf("throttle %s: failures %d after retention, want kept=%v", key, th.Failures, kept)
		}
	}
}
