package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

func mustKey(t *testing.T, name string) *keys.Pair {
	t.Helper()
	k, err := keys.Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chain builds a roster chain of n versions founded by root: version 1
// lists root, each later version adds a hub.
func mustChain(t *testing.T, root *keys.Pair, household string, n int) [][]byte {
	t.Helper()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v1, err := firstRoster(root, household, now)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{v1}
	for len(chain) < n {
		latest, err := seal.VerifyRosterChain(chain, nil)
		if err != nil {
			t.Fatal(err)
		}
		hub := mustKey(t, "hub")
		next, err := nextRoster(root, latest, chain[len(chain)-1], now, func(es []seal.RosterEntry) []seal.RosterEntry {
			return append(es, seal.RosterEntry{ID: hub.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "hub", Sign: hub.SignPub(), KEM: hub.Recipient()})
		})
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, next)
	}
	return chain
}

func TestCheckChain(t *testing.T) {
	household := seal.NewID()
	root := mustKey(t, "owner")
	good := mustChain(t, root, household, 3)
	pin := func(versions [][]byte) *pinnedRoster {
		return &pinnedRoster{V: stateVersion, Household: household, Root: root.SignPub(), Versions: versions}
	}

	// An impostor household: same id, version 1 signed by another key.
	impostor := mustKey(t, "impostor")
	substituted := mustChain(t, impostor, household, 3)
	// A fork: another version 2 after the same version 1, by the real root.
	latest1, _ := seal.VerifyRosterChain(good[:1], nil)
	hub := mustKey(t, "other hub")
	forked2, err := nextRoster(root, latest1, good[0], time.Now(), func(es []seal.RosterEntry) []seal.RosterEntry {
		return append(es, seal.RosterEntry{ID: hub.ID, Kind: seal.KindHub, Role: seal.RoleHub, Sign: hub.SignPub(), KEM: hub.Recipient()})
	})
	if err != nil {
		t.Fatal(err)
	}
	otherHousehold := mustChain(t, root, seal.NewID(), 1)

	tests := []struct {
		name    string
		pin     *pinnedRoster
		served  [][]byte
		version uint64
		alarm   string // substring of the error; "" for success
	}{
		{"same chain", pin(good), good, 3, ""},
		{"extends the pinned prefix", pin(good[:1]), good, 3, ""},
		{"v1 signed by another key", pin(good[:1]), substituted, 0, "this device pinned key " + root.ID},
		{"v1 signed by another key, nothing seen yet beyond v1", pin(good[:1]), substituted[:1], 0, "roster was replaced"},
		{"rollback", pin(good), good[:2], 0, "rollback"},
		{"fork", pin(good[:2]), [][]byte{good[0], forked2}, 0, "fork"},
		{"emptied", pin(good), nil, 0, "has no roster"},
		{"other household", pin(good[:1]), otherHousehold, 0, "of household"},
		{"tampered version", pin(good[:1]), [][]byte{good[0], flip(good[1])}, 0, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			latest, err := checkChain(tt.pin, tt.served)
			if tt.alarm == "" {
				if err != nil {
					t.Fatalf("checkChain: %v", err)
				}
				if latest.Version != tt.version {
					t.Fatalf("latest version %d, want %d", latest.Version, tt.version)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkChain accepted the chain; want an alarm containing %q", tt.alarm)
			}
			if !errors.Is(err, errRosterAlarm) {
				t.Errorf("error is not a roster alarm: %v", err)
			}
			if !strings.Contains(err.Error(), tt.alarm) {
				t.Errorf("error %q does not say %q", err, tt.alarm)
			}
		})
	}
}

// flip changes one byte of the signature region of an envelope.
func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	i := len(c) - 10
	if c[i] == 'A' {
		c[i] = 'B'
	} else {
		c[i] = 'A'
	}
	return c
}

func TestRosterSignerPinsVersion1Signer(t *testing.T) {
	root := mustKey(t, "owner")
	chain := mustChain(t, root, seal.NewID(), 2)
	got, latest, err := rosterSigner(chain)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(root.SignPub()) || latest.Version != 2 {
		t.Fatalf("pinned %x (version %d), want the founder's key and version 2", got, latest.Version)
	}
}

func TestNextRosterNeedsOwner(t *testing.T) {
	root := mustKey(t, "owner")
	chain := mustChain(t, root, seal.NewID(), 1)
	latest, _ := seal.VerifyRosterChain(chain, nil)
	stranger := mustKey(t, "stranger")
	_, err := nextRoster(stranger, latest, chain[0], time.Now(), func(es []seal.RosterEntry) []seal.RosterEntry { return es })
	if err == nil || !strings.Contains(err.Error(), "not an owner") {
		t.Fatalf("nextRoster by a non-member: %v, want a not-an-owner error", err)
	}
}

// TestPinnedRosterFile round-trips roster.json.
func TestPinnedRosterFile(t *testing.T) {
	home := t.TempDir()
	m := &Main{Env: func(k string) string {
		if k == EnvHome {
			return home
		}
		return ""
	}}
	m.defaults()
	if p, err := m.loadPin(); err != nil || p != nil {
		t.Fatalf("loadPin on an empty home: %v, %v", p, err)
	}
	root := mustKey(t, "owner")
	want := &pinnedRoster{Household: seal.NewID(), Root: root.SignPub(), Versions: mustChain(t, root, seal.NewID(), 1)}
	if err := m.savePin(want); err != nil {
		t.Fatal(err)
	}
	got, err := m.loadPin()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Root.Equal(want.Root) || got.Household != want.Household || len(got.Versions) != 1 {
		t.Fatalf("round trip: got %+v", got)
	}
}

func TestRosterNews(t *testing.T) {
	until := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	owner := seal.RosterEntry{ID: "own1", Kind: seal.KindDevice, Role: seal.RoleOwner, Name: "phone", KEM: "k1", Cameras: []string{seal.AllCameras}}
	member := seal.RosterEntry{ID: "mem1", Kind: seal.KindDevice, Role: seal.RoleMember, Name: "ann@example.org", KEM: "k2", Cameras: []string{"cam1"}, NotAfter: &until}
	rotated := owner
	rotated.KEM = "k1b"
	for _, tc := range []struct {
		name       string
		prev, next []seal.RosterEntry
		want       string
	}{
		{"member added", []seal.RosterEntry{owner}, []seal.RosterEntry{owner, member},
			`Roster version 2, signed by owner "phone" (own1): added member "ann@example.org" (mem1), 1 camera(s) until 2026-12-01 09:00 UTC.`},
		{"member removed", []seal.RosterEntry{owner, member}, []seal.RosterEntry{owner},
			`Roster version 2, signed by owner "phone" (own1): removed member "ann@example.org" (mem1), 1 camera(s) until 2026-12-01 09:00 UTC.`},
		{"key rotated", []seal.RosterEntry{owner}, []seal.RosterEntry{rotated},
			`Roster version 2, signed by owner "phone" (own1): new key for owner "phone" (own1).`},
		{"nothing", []seal.RosterEntry{owner}, []seal.RosterEntry{owner},
			`Roster version 2, signed by owner "phone" (own1): no change to who may see what.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rosterNews(&seal.Roster{Version: 1, Entries: tc.prev}, &seal.Roster{Version: 2, Entries: tc.next}, "own1")
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
