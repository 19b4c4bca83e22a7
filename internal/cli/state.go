package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
)

// The state directory ($PORCHLIGHT_HOME) holds, each written atomically with
// mode 0600 in a 0700 directory:
//
//	device.key    this device's key pair (keys.Pair): losing it loses access
//	session.json  server, token, account, household, e-mail
//	roster.json   the verified roster chain last seen and its pinned root key
const (
	deviceKeyFile = "device.key"
	sessionFile   = "session.json"
	rosterFile    = "roster.json"
)

// stateVersion is the version of session.json and roster.json.
const stateVersion = 1

// errNotLoggedIn is returned by commands that need a session.
var errNotLoggedIn = errors.New("not logged in: run `porchlight login --email you@example.com` (or `porchlight signup --email you@example.com` for a new household)")

// session is session.json.
type session struct {
	V           int       `json:"v"`
	Server      string    `json:"server"`
	Token       string    `json:"token"`
	AccountID   string    `json:"account_id"`
	HouseholdID string    `json:"household_id"`
	Email       string    `json:"email"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	// NeedsRoster is set between signup and the upload of roster version 1,
	// so an interrupted signup finishes on the next command.
	NeedsRoster bool `json:"needs_roster,omitempty"`
}

// pinnedRoster is roster.json: the household's chain as last verified here.
// Root pins the signer of version 1 (this device after signup; the key seen
// at first login otherwise); Versions detect forks and rollbacks.
type pinnedRoster struct {
	V         int               `json:"v"`
	Household string            `json:"household"`
	Root      ed25519.PublicKey `json:"root"`
	Versions  [][]byte          `json:"versions"`
}

// home returns the state directory.
func (m *Main) home() (string, error) {
	if h := m.Env(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	if x := m.Env("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "porchlight"), nil
	}
	if h := m.Env("HOME"); h != "" {
		return filepath.Join(h, ".config", "porchlight"), nil
	}
	return "", fmt.Errorf("cannot find a state directory: set %s (or HOME)", EnvHome)
}

func (m *Main) statePath(name string) (string, error) {
	h, err := m.home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, name), nil
}

// readJSON reads a state file; it returns (false, nil) when it is absent.
func (m *Main) readJSON(name string, v any) (bool, error) {
	p, err := m.statePath(name)
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s is damaged (%v): remove it and log in again", p, err)
	}
	return true, nil
}

func (m *Main) writeJSON(name string, v any) error {
	p, err := m.statePath(name)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := keys.WriteFileAtomic(p, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save %s: %w", p, err)
	}
	return nil
}

// loadSession returns the saved session or errNotLoggedIn.
func (m *Main) loadSession() (*session, error) {
	var s session
	ok, err := m.readJSON(sessionFile, &s)
	if err != nil {
		return nil, err
	}
	if !ok || s.Token == "" {
		return nil, errNotLoggedIn
	}
	if s.V != stateVersion {
		return nil, fmt.Errorf("%s has version %d, this porchlight reads %d: upgrade porchlight, or log in again", sessionFile, s.V, stateVersion)
	}
	return &s, nil
}

func (m *Main) saveSession(s *session) error {
	s.V = stateVersion
	return m.writeJSON(sessionFile, s)
}

func (m *Main) removeSession() error {
	p, err := m.statePath(sessionFile)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// loadPin returns roster.json, or nil if this device has pinned no roster.
func (m *Main) loadPin() (*pinnedRoster, error) {
	var p pinnedRoster
	ok, err := m.readJSON(rosterFile, &p)
	if err != nil || !ok {
		return nil, err
	}
	if p.V != stateVersion {
		return nil, fmt.Errorf("%s has version %d, this porchlight reads %d: upgrade porchlight", rosterFile, p.V, stateVersion)
	}
	if len(p.Root) != ed25519.PublicKeySize || p.Household == "" {
		return nil, fmt.Errorf("%s is damaged (no pinned key): it protects you from a substituted roster, so restore it from a backup rather than deleting it", rosterFile)
	}
	return &p, nil
}

func (m *Main) savePin(p *pinnedRoster) error {
	p.V = stateVersion
	return m.writeJSON(rosterFile, p)
}

// loadDevice loads device.key. A missing key says how to make one.
func (m *Main) loadDevice() (*keys.Pair, error) {
	p, err := m.statePath(deviceKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := keys.Load(p)
	if errors.Is(err, keys.ErrNoKey) {
		return nil, fmt.Errorf("this device has no key (%s): run `porchlight signup` or `porchlight login` first", p)
	}
	return k, err
}

// loadOrCreateDevice loads device.key or makes and saves a new one.
func (m *Main) loadOrCreateDevice(name string) (*keys.Pair, bool, error) {
	p, err := m.statePath(deviceKeyFile)
	if err != nil {
		return nil, false, err
	}
	return keys.LoadOrGenerate(p, name)
}

// serverURL resolves the service URL: --server, then $PORCHLIGHT_SERVER,
// then the saved session's, then DefaultServer.
func (m *Main) serverURL(s *session) string {
	u := m.serverFlag
	if u == "" {
		u = m.Env(EnvServer)
	}
	if u == "" && s != nil {
		u = s.Server
	}
	if u == "" {
		u = DefaultServer
	}
	return normalizeURL(u)
}

func normalizeURL(u string) string {
	u = strings.TrimSpace(u)
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return strings.TrimRight(u, "/")
}
