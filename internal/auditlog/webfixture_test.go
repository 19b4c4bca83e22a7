package auditlog_test

// The browser app verifies the audit log in TypeScript (web/src/lib/auditlog.ts).
// Its tests read a fixture made here from real tessera logs: a checkpoint
// before and after growth, the hash tiles, one household's entries (bodies
// sealed to a hybrid device identity the fixture carries), and a checkpoint
// of a fork signed with the same key. Regenerate it with
//
//	go test ./internal/auditlog -run TestWebFixture -update-web
//
// Without the flag the test checks the committed fixture with this
// package's Verifier, so the TypeScript tests and Go agree on what verifies.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/transparency-dev/tessera/api/layout"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/seal"
)

var updateWeb = flag.Bool("update-web", false, "rewrite web/src/lib/testdata/auditlog/fixture.json from new logs")

const webFixture = "../../web/src/lib/testdata/auditlog/fixture.json"

// webOrigin is porchlightd's log origin (internal/server).
const webOrigin = "porchlight/audit-log"

// webFixtureFile is the fixture's JSON. Byte fields are base64.
type webFixtureFile struct {
	Comment     string `json:"comment"`
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	Household   string `json:"household"`
	Identity    string `json:"identity"` // AGE-SECRET-KEY-PQ-1…: the device the bodies are sealed to
	// Old and New are checkpoints of the same log before and after it
	// grew; Fork is a checkpoint of another log signed with the same key,
	// larger than Old and not extending it.
	Old  []byte `json:"old"`
	New  []byte `json:"new"`
	Fork []byte `json:"fork"`
	// Tiles and ForkTiles are every hash tile of each log, by the path
	// that follows "tile/" (e.g. "0/001.p/44").
	Tiles     map[string][]byte `json:"tiles"`
	ForkTiles map[string][]byte `json:"fork_tiles"`
	// Entries are the household's entries in New, oldest first.
	Entries []webFixtureEntry `json:"entries"`
}

type webFixtureEntry struct {
	Index uint64 `json:"index"`
	Entry []byte `json:"entry"`
	// Action is the decrypted body's action; "" when the body does not
	// open with Identity (Sealed says why).
	Action string `json:"action,omitempty"`
	Sealed string `json:"sealed,omitempty"` // "none" (no body) or "other" (sealed to another device)
}

func TestWebFixture(t *testing.T) {
	if *updateWeb {
		writeWebFixture(t)
	}
	b, err := os.ReadFile(webFixture)
	if err != nil {
		t.Fatalf("read the fixture (make it with -update-web): %v", err)
	}
	var f webFixtureFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	v, err := auditlog.NewVerifier(f.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if v.Origin() != webOrigin {
		t.Errorf("origin %q, want %q", v.Origin(), webOrigin)
	}
	cps := map[string]auditlog.Checkpoint{}
	for name, raw := range map[string][]byte{"old": f.Old, "new": f.New, "fork": f.Fork} {
		cp, err := v.Checkpoint(raw)
		if err != nil {
			t.Fatalf("%s checkpoint: %v", name, err)
		}
		cps[name] = cp
	}
	if !(cps["old"].Size < cps["fork"].Size && cps["fork"].Size < cps["new"].Size && cps["new"].Size > 256) {
		t.Errorf("sizes old %d fork %d new %d: want old < fork < new and new beyond one tile", cps["old"].Size, cps["fork"].Size, cps["new"].Size)
	}
	tiles, forkTiles := mapFetcher(f.Tiles), mapFetcher(f.ForkTiles)
	ctx := t.Context()
	if err := v.VerifyConsistency(ctx, tiles, cps["old"], cps["new"]); err != nil {
		t.Errorf("old to new: %v", err)
	}
	if err := v.VerifyConsistency(ctx, forkTiles, cps["old"], cps["fork"]); !errors.Is(err, auditlog.ErrFork) {
		t.Errorf("old to fork: %v, want ErrFork", err)
	}
	id, err := age.ParseHybridIdentity(f.Identity)
	if err != nil {
		t.Fatal(err)
	}
	var before, sealed int
	for _, e := range f.Entries {
		if err := v.VerifyInclusion(ctx, tiles, cps["new"], e.Index, e.Entry); err != nil {
			t.Errorf("entry %d: %v", e.Index, err)
		}
		en, err := auditlog.Parse(e.Entry)
		if err != nil || en.Household != f.Household {
			t.Errorf("entry %d: %v, household %q", e.Index, err, en.Household)
		}
		if e.Index < cps["old"].Size {
			before++
		}
		if e.Action == "" {
			sealed++
			continue
		}
		if got := openBody(t, en.Body, id); got.Action != e.Action {
			t.Errorf("entry %d: action %q, want %q", e.Index, got.Action, e.Action)
		}
	}
	if before < 3 || len(f.Entries)-before < 3 || sealed != 2 {
		t.Errorf("%d entries before the old checkpoint, %d after, %d not opening: want at least 3 each side and 2", before, len(f.Entries)-before, sealed)
	}
}

// mapFetcher serves tiles from a fixture's map as porchlightd does: a
// missing tile is ErrNotFound.
func mapFetcher(tiles map[string][]byte) auditlog.TileFetcher {
	return func(_ context.Context, level, index uint64, p uint8) ([]byte, error) {
		b, ok := tiles[strings.TrimPrefix(layout.TilePath(level, index, p), "tile/")]
		if !ok {
			return nil, auditlog.ErrNotFound
		}
		return b, nil
	}
}

func writeWebFixture(t *testing.T) {
	base := t.TempDir()
	key := filepath.Join(base, "log.key")
	s, vkey, err := auditlog.LoadOrCreateKey(key, webOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(dir string) auditlog.Config {
		return auditlog.Config{Dir: dir, Signer: s, CheckpointInterval: 100 * time.Millisecond,
			Timeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	}
	const household, other = "householdaaaaaaaaaaaaaaaaa", "householdbbbbbbbbbbbbbbbbb"
	dev, stranger := newIdentity(t), newIdentity(t)
	f := webFixtureFile{
		Comment:     "made by internal/auditlog/webfixture_test.go (-update-web); read by web/src/lib/auditlog.test.ts",
		Origin:      webOrigin,
		VerifierKey: vkey,
		Household:   household,
		Identity:    dev.String(),
	}
	actions := []struct {
		class  string
		action string
		actor  auditlog.Actor
	}{
		{api.AuditAuth, "login", auditlog.Actor{Kind: api.ActorOwner, Device: "devaaaaaaaaaaaaaaaaa", Addr: "192.0.2.0/24"}},
		{api.AuditGrant, "grant_requested", auditlog.Actor{Kind: api.ActorSupport, Email: "sam@support.example", Org: "Porchlight Support Ltd", Country: "IE"}},
		{api.AuditKeyRelease, "key_release", auditlog.Actor{Kind: api.ActorSupport, Email: "sam@support.example", Org: "Porchlight Support Ltd", Country: "IE"}},
		{api.AuditDenial, "denied", auditlog.Actor{Kind: api.ActorAnonymous, Addr: "198.51.100.0/24"}},
		{api.AuditDevice, "roster_version", auditlog.Actor{Kind: api.ActorOwner, Device: "devaaaaaaaaaaaaaaaaa"}},
		{api.AuditAccess, "fetch", auditlog.Actor{Kind: api.ActorMember, Device: "devbbbbbbbbbbbbbbbbb"}},
	}
	var (
		mu   sync.Mutex
		mine []webFixtureEntry
		n    int
	)
	// fill appends count leaves to l, every 17th of household (the rest of
	// another), and waits for a checkpoint covering them.
	fill := func(l *auditlog.Log, count int, record bool) {
		var wg sync.WaitGroup
		for range count {
			i := n
			n++
			e := auditlog.Entry{Envelope: auditlog.Envelope{ID: seal.NewID(), Time: time.Now(), Household: other, Class: api.AuditAuth}}
			want := webFixtureEntry{}
			if record && i%17 == 5 {
				a := actions[(i/17)%len(actions)]
				e.Household, e.Class = household, a.class
				want.Action = a.action
				switch i / 17 {
				case 2:
					want = webFixtureEntry{Sealed: "none"}
				case 9:
					e.Body = mustSealBody(t, auditlog.Body{Actor: a.actor, Action: a.action}, stranger.Recipient())
					want = webFixtureEntry{Sealed: "other"}
				default:
					e.Body = mustSealBody(t, auditlog.Body{Actor: a.actor, Action: a.action, Resource: "camera:camaaaaaaaaaaaaaaaaaaaa",
						Reason: "ticket follow-up", Decision: "allowed"}, dev.Recipient(), stranger.Recipient())
				}
			}
			leaf, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				idx, err := l.Append(t.Context(), leaf)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if e.Household == household {
					want.Index, want.Entry = idx, leaf
					mu.Lock()
					mine = append(mine, want)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		last, err := auditlog.Entry{Envelope: auditlog.Envelope{ID: seal.NewID(), Time: time.Now(), Household: other, Class: api.AuditAuth}}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		n++
		if _, err := l.AppendPublished(t.Context(), last); err != nil {
			t.Fatal(err)
		}
	}
	open := func(dir string) *auditlog.Log {
		l, err := auditlog.Open(t.Context(), cfg(dir))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l.Close(ctx)
		})
		return l
	}
	a := open(filepath.Join(base, "a"))
	fill(a, 129, true)
	if f.Old, err = a.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	fill(a, 170, true)
	if f.New, err = a.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := open(filepath.Join(base, "b"))
	n = 0
	fill(b, 199, false)
	if f.Fork, err = b.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.Tiles, f.ForkTiles = readTiles(t, filepath.Join(base, "a")), readTiles(t, filepath.Join(base, "b"))
	slices.SortFunc(mine, func(x, y webFixtureEntry) int { return int(x.Index) - int(y.Index) })
	f.Entries = mine
	out, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(webFixture), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(webFixture, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readTiles reads every hash tile of a log directory (not the entry
// bundles), keyed by the path after "tile/".
func readTiles(t *testing.T, dir string) map[string][]byte {
	root := filepath.Join(dir, "tile")
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "entries" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
