package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
)

// The state directory ($PORCHLIGHT_HOME) holds, each written atomically with
// mode 0600 in a 0700 directory:
//
//	device.key    this device's key pair (keys.Pair): losing it loses access
//	session.json  server, token, account, household, e-mail
//	roster.json   the verified roster chain last seen and its pinned root key
//	devices.json  the service's device token (pld_…) of each account signed
//	              in here, per server: it keeps this device known (no
//	              new-device alert; sign-in works while the account is
//	              under attack). It outlives logout.
const (
	deviceKeyFile    = "device.key"
	sessionFile      = "session.json"
	rosterFile       = "roster.json"
	deviceTokensFile = "devices.json"
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
	SessionID   string    `json:"session_id,omitempty"`
	AccountID   string    `json:"account_id"`
	HouseholdID string    `json:"household_id"` // empty for staff accounts
	Role        string    `json:"role,omitempty"`
	Email       string    `json:"email"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	// NeedsRoster is set between signup and the upload of roster version 1,
	// so an interrupted signup finishes on the next command.
	NeedsRoster bool `json:"needs_roster,omitempty"`
}

// deviceTokens is devices.json.
type deviceTokens struct {
	V        int           `json:"v"`
	Accounts []deviceToken `json:"accounts"`
}

// deviceToken is this device's token for one account on one server.
type deviceToken struct {
	Server    string `json:"server"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"` // as last known here; the lookup key at login
	Token     string `json:"token"`
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

// normalizeURL adds a missing scheme (http:// for this machine, https://
// for any other host) and drops trailing slashes.
func normalizeURL(u string) string {
	u = strings.TrimSpace(u)
	if !strings.Contains(u, "://") {
		scheme := "https://"
		if p, err := url.Parse("http://" + u); err == nil && apiclient.IsLoopbackHost(p.Hostname()) {
			scheme = "http://"
		}
		u = scheme + u
	}
	return strings.TrimRight(u, "/")
}

// deviceTokenFor returns this device's token for email's account at server,
// or "".
func (m *Main) deviceTokenFor(server, email string) string {
	var d deviceTokens
	if ok, err := m.readJSON(deviceTokensFile, &d); err != nil || !ok || d.V != stateVersion {
		return ""
	}
	for _, a := range d.Accounts {
		if a.Server == server && strings.EqualFold(a.Email, email) {
			return a.Token
		}
	}
	return ""
}

// saveDeviceToken remembers this device's token for an account (a token of
// "" keeps the one known, updating the e-mail address).
func (m *Main) saveDeviceToken(server, accountID, email, token string) error {
	var d deviceTokens
	if ok, err := m.readJSON(deviceTokensFile, &d); err != nil || !ok || d.V != stateVersion {
		d = deviceTokens{}
	}
	found := false
	for i := range d.Accounts {
		a := &d.Accounts[i]
		if a.Server != server || a.AccountID != accountID {
			continue
		}
		found = true
		a.Email = email
		if token != "" {
			a.Token = token
		}
	}
	if !found {
		if token == "" {
			return nil
		}
		// Another account that had this e-mail address here is stale.
		d.Accounts = slices.DeleteFunc(d.Accounts, func(a deviceToken) bool {
			return a.Server == server && strings.EqualFold(a.Email, email)
		})
		d.Accounts = append(d.Accounts, deviceToken{Server: server, AccountID: accountID, Email: email, Token: token})
	}
	d.V = stateVersion
	return m.writeJSON(deviceTokensFile, &d)
}
