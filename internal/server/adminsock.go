package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"
)

// maxSocketPath is the longest Unix socket path the kernel takes (108
// bytes for sun_path on Linux, including the terminating NUL).
const maxSocketPath = 107

// adminSocketPath is where the admin socket lives.
func (m *Main) adminSocketPath() string {
	return cmp.Or(m.AdminSocket, filepath.Join(m.DataDir, "admin.sock"))
}

// errAnotherServer says a live porchlightd already owns the admin socket.
var errAnotherServer = errors.New("another porchlightd is serving this admin socket: stop it first, or give this one another data_dir or admin_socket")

// listenAdmin listens on the admin socket at path: its directory is made
// private (0700; an existing one is tightened if tighten, else must be
// private already), a stale socket left by a crash is removed (a live one is
// an error), the socket is made 0600, and connections from any user but
// root and this process's own are closed unanswered (see peerUID).
func listenAdmin(path string, tighten bool, log *slog.Logger) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("admin socket %s: the path is longer than %d bytes; set admin_socket to a shorter path", path, maxSocketPath)
	}
	if err := privateDir(filepath.Dir(path), tighten, log); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s: a file that is not a socket is in the way; move it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: %w", path, errAnotherServer)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale admin socket: %w", err)
		}
		log.Info("removed a stale admin socket", "path", path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// The directory is private already; the peer check covers the moment
	// between bind and chmod.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: chmod 0600: %w", err)
	}
	self := os.Getuid()
	return &peerListener{Listener: ln, allow: func(uid int) bool { return uid == 0 || uid == self }, log: log}, nil
}

// peerListener hands out only connections whose peer allow accepts.
type peerListener struct {
	net.Listener
	allow func(uid int) bool
	log   *slog.Logger
}

// Accept returns the next allowed connection, closing refused ones.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && (uid == anyPeer || l.allow(uid)) {
			return c, nil
		}
		l.log.Warn("admin socket: refused a connection from another user", "uid", uid, "err", err)
		c.Close()
	}
}
