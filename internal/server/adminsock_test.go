package server

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for the accept goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAdminPeerCheck: the admin socket reads the connecting process's uid
// (SO_PEERCRED) and closes connections of users it does not allow before
// reading a byte; the client then says who may connect.
func TestAdminPeerCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Log("the peer check reads SO_PEERCRED, which only Linux has; elsewhere the socket mode guards alone")
		return
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	logs := &syncBuffer{}
	ln, err := listenAdmin(sock, true, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	pl := ln.(*peerListener)
	var seen []int
	var mu sync.Mutex
	allowed := false
	pl.allow = func(uid int) bool {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, uid)
		return allowed
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"staff":[]}`)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	a := &adminCmd{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, data: dir}
	err = a.call(t.Context(), http.MethodGet, "/admin/staff", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "porchlightd closed the admin connection at "+sock+": only root or the user porchlightd runs as may use it") {
		t.Errorf("refused peer: %v", err)
	}
	mu.Lock()
	if len(seen) == 0 || seen[0] != os.Getuid() {
		t.Errorf("peer uids seen %v, want ours (%d)", seen, os.Getuid())
	}
	allowed = true
	mu.Unlock()
	if !strings.Contains(logs.String(), "admin socket: refused a connection from another user") {
		t.Errorf("refusal not logged:\n%s", logs)
	}
	a.hc = nil // a fresh connection
	if err := a.call(t.Context(), http.MethodGet, "/admin/staff", nil, nil); err != nil {
		t.Errorf("allowed peer: %v", err)
	}

	// The default rule: root and this process's user.
	self := os.Getuid()
	ln2, err := listenAdmin(filepath.Join(dir, "other.sock"), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	allow := ln2.(*peerListener).allow
	for uid, want := range map[int]bool{0: true, self: true, self + 1: self+1 == 0, 65534: self == 65534} {
		if got := allow(uid); got != want {
			t.Errorf("allow(%d) = %v, want %v (we are %d)", uid, got, want, self)
		}
	}
}

// TestPeerUIDNotUnix: a connection that is not a Unix socket has no peer
// credentials and is refused.
func TestPeerUIDNotUnix(t *testing.T) {
	if runtime.GOOS != "linux" {
		return
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if _, err := peerUID(c1); err == nil {
		t.Error("peerUID of a pipe succeeded")
	}
}
