package httpapi

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// SetLiveTTL shortens how long a live view waits for its viewer and hub,
// for one test (not run in parallel with other live view tests).
func SetLiveTTL(t *testing.T, d time.Duration) {
	liveTTLOverride.Store(int64(d))
	t.Cleanup(func() { liveTTLOverride.Store(0) })
}

// TestCloseReason: a hub's reason is cut to what a close frame carries,
// never inside a character.
func TestCloseReason(t *testing.T) {
	for _, in := range []string{"", "camera_offline: hub stopping", "camera_offline: " + strings.Repeat("é", 100)} {
		got := closeReason(in)
		if len(got) > maxCloseReason || !utf8.ValidString(got) || !strings.HasPrefix(in, got) || (len(in) <= maxCloseReason && got != in) {
			t.Errorf("closeReason(%q) = %q", in, got)
		}
	}
}
