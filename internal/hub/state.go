package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// stateVersion is the version of state.json.
const stateVersion = 1

// state is what the hub remembers across restarts, in DATA/state.json
// (mode 0600, written atomically). It holds the hub token, so it is as
// secret as hub.key. It never holds an epoch's private key.
type state struct {
	V int `json:"v"`

	// Claim in progress: kept so a restart mid-claim resumes it.
	Pending *pendingClaim `json:"pending,omitempty"`

	// Set once claimed.
	Server    string `json:"server,omitempty"`
	HubID     string `json:"hub_id,omitempty"`
	Household string `json:"household,omitempty"`
	Token     string `json:"token,omitempty"`
	RootSign  []byte `json:"root_sign,omitempty"` // pinned: signer of roster v1, shown in the fingerprint

	// Roster is the last verified roster chain, oldest first: a later
	// chain must extend it. It is kept in roster.json beside state.json
	// (written only when it changes; state.json is rewritten per segment).
	Roster [][]byte `json:"-"`

	// Cameras by configured name.
	Cameras map[string]*camState `json:"cameras,omitempty"`
}

type pendingClaim struct {
	Code   string `json:"code"`
	Secret string `json:"secret"`
	Server string `json:"server"`
}

// camState is one camera's durable recording state.
type camState struct {
	ID      string    `json:"id"` // random, stable
	Created time.Time `json:"created"`
	// NextSeq is the next segment sequence; NextManifest the next
	// manifest sequence. Both only grow.
	NextSeq      uint64 `json:"next_seq"`
	NextManifest uint64 `json:"next_manifest"`
	// Descriptor is the roster version the last queued descriptor was
	// sealed for (0: none yet).
	Descriptor uint64 `json:"descriptor"`
	// Epoch is the current epoch (public half only).
	Epoch *epochState `json:"epoch,omitempty"`
	// Batch is the open batch: segments queued but not yet listed by a
	// queued manifest. A crash leaves it here; the next start closes it.
	Batch *batchState `json:"batch,omitempty"`
	// Settings are the owner's sealed settings applied last (settings.go),
	// at SettingsVersion; re-verified at start.
	Settings        []byte `json:"settings,omitempty"`
	SettingsVersion uint64 `json:"settings_version,omitempty"`
}

// epochState is the public half of an epoch: enough to seal to it, not to
// open it.
type epochState struct {
	ID        string    `json:"id"`
	Recipient string    `json:"recipient"`
	Day       string    `json:"day"` // UTC day, 2006-01-02
	Roster    uint64    `json:"roster"`
	Viewers   []string  `json:"viewers"` // device ids the key was wrapped to
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// batchState is an open batch of one epoch.
type batchState struct {
	Epoch     string                `json:"epoch"`
	Recipient string                `json:"recipient"`
	Opened    time.Time             `json:"opened"`
	Objects   []seal.ManifestObject `json:"objects"`
}

// store guards state and writes it. mu guards st; save is called with mu
// held so writes are ordered.
type store struct {
	path       string
	rosterPath string
	mu         sync.Mutex
	st         state
}

func loadState(path string) (*store, error) {
	s := &store{path: path, rosterPath: filepath.Join(filepath.Dir(path), "roster.json"), st: state{V: stateVersion}}
	if b, err := os.ReadFile(s.rosterPath); err == nil {
		var r rosterFile
		if err := json.Unmarshal(b, &r); err != nil || r.V != stateVersion {
			return nil, fmt.Errorf("hub roster cache %s: unreadable (delete it to fetch the roster again): %v", s.rosterPath, err)
		}
		s.st.Roster = r.Versions
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read hub roster cache: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hub state: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.st); err != nil {
		return nil, fmt.Errorf("hub state %s: %w", path, err)
	}
	if s.st.V != stateVersion {
		return nil, fmt.Errorf("hub state %s: %w v%d", path, seal.ErrVersion, s.st.V)
	}
	return s, nil
}

// saveLocked writes the state; the caller holds mu.
func (s *store) saveLocked() error {
	s.st.V = stateVersion
	b, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	if err := keys.WriteFileAtomic(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save hub state: %w", err)
	}
	return nil
}

// rosterFile is roster.json.
type rosterFile struct {
	V        int      `json:"v"`
	Versions [][]byte `json:"versions"`
}

// setRoster saves a newly verified chain.
func (s *store) setRoster(chain [][]byte) error {
	b, err := json.Marshal(rosterFile{V: stateVersion, Versions: chain})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := keys.WriteFileAtomic(s.rosterPath, b, 0o600); err != nil {
		return fmt.Errorf("save roster cache: %w", err)
	}
	s.st.Roster = chain
	return nil
}

// update runs f on the state under mu and saves it.
func (s *store) update(f func(*state)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
	return s.saveLocked()
}

// view runs f on the state under mu.
func (s *store) view(f func(*state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}
