// Package testutil holds small helpers shared by Porchlight's tests. It is
// imported only from _test.go files; product code must not use it.
package testutil

import (
	"bytes"
	"os/exec"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers,
// for capturing logs and process output in tests.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RequireFFmpeg fails the test if ffmpeg or ffprobe is missing, naming the
// command that installs them. It fails rather than skips: scripts/setup
// installs both, so a missing one means the machine is not set up.
func RequireFFmpeg(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("%s not found: run scripts/setup (or apt-get install ffmpeg)", bin)
		}
	}
}
