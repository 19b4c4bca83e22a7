package seal_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/geocell"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestPublication: a publication verifies only when an owner device of the
// household's roster signed it; members, hubs, the recovery identity and
// strangers do not count, and every field is checked.
func TestPublication(t *testing.T) {
	owner, member, hub, recovery, stranger := newKey(t, 11), newKey(t, 12), newKey(t, 13), newKey(t, 14), newKey(t, 15)
	hh := seal.NewID()
	entry := func(k testKey, kind, role string) seal.RosterEntry {
		return seal.RosterEntry{ID: seal.KeyID(k.pub()), Kind: kind, Role: role, Name: role, Sign: k.pub(), KEM: k.kem.Recipient().String(), Cameras: []string{seal.AllCameras}}
	}
	ro := &seal.Roster{V: 1, Household: hh, Version: 1, Entries: []seal.RosterEntry{
		entry(owner, seal.KindDevice, seal.RoleOwner), entry(member, seal.KindDevice, seal.RoleMember),
		entry(hub, seal.KindHub, seal.RoleHub), entry(recovery, seal.KindDevice, seal.RoleRecovery),
	}}
	good := seal.Publication{ID: seal.NewID(), Household: hh, SHA256: strings.Repeat("ab", 32), Size: 1234, Title: "Parcel taken from porch",
		Category: seal.CategoryCrime, Cell: "u4pruy", Pseudonym: seal.NewPseudonym(), Job: seal.NewID(), Created: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	signed, err := seal.SignPublication(owner.sign, good)
	if err != nil {
		t.Fatal(err)
	}
	p, err := seal.VerifyPublication(signed, ro)
	if err != nil || p.SHA256 != good.SHA256 || p.Cell != "u4pruy" || p.V != seal.FormatVersion {
		t.Fatalf("VerifyPublication = %+v, %v", p, err)
	}
	for name, k := range map[string]testKey{"member": member, "hub": hub, "recovery": recovery, "stranger": stranger} {
		s, err := seal.Sign(k.sign, seal.TypePublication, func() seal.Publication { q := good; q.V = 1; return q }())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seal.VerifyPublication(s, ro); !errors.Is(err, seal.ErrSignature) {
			t.Errorf("signed by %s: %v, want ErrSignature", name, err)
		}
	}
	// Another household's roster.
	other := *ro
	other.Household = seal.NewID()
	if _, err := seal.VerifyPublication(signed, &other); !errors.Is(err, seal.ErrSignature) {
		t.Errorf("other household: %v, want ErrSignature", err)
	}
	// A flipped byte in the body.
	tampered := []byte(strings.Replace(string(signed), `"sig":"`, `"sig":"A`, 1))
	if _, err := seal.VerifyPublication(tampered, ro); err == nil {
		t.Error("tampered envelope verifies")
	}
	// Bad fields: SignPublication refuses them, and so does a verifier
	// handed one signed raw.
	for _, tc := range []struct {
		name string
		mod  func(p *seal.Publication)
	}{
		{"7-character geohash", func(p *seal.Publication) { p.Cell = "u4pruyd" }},
		{"full geohash", func(p *seal.Publication) { p.Cell = "u4pruydqqvj" }},
		{"coordinates", func(p *seal.Publication) { p.Cell = "48.137,11.575" }},
		{"5-character cell", func(p *seal.Publication) { p.Cell = "u4pru" }},
		{"category", func(p *seal.Publication) { p.Category = "gossip" }},
		{"empty title", func(p *seal.Publication) { p.Title = " " }},
		{"long title", func(p *seal.Publication) { p.Title = strings.Repeat("x", seal.MaxPublicationTitle+1) }},
		{"control in title", func(p *seal.Publication) { p.Title = "a\x1b[2Jb" }},
		{"hash", func(p *seal.Publication) { p.SHA256 = strings.Repeat("AB", 32) }},
		{"size", func(p *seal.Publication) { p.Size = 0 }},
		{"pseudonym e-mail", func(p *seal.Publication) { p.Pseudonym = "jane@example.org" }},
		{"job", func(p *seal.Publication) { p.Job = "" }},
		{"time", func(p *seal.Publication) { p.Created = time.Time{} }},
	} {
		q := good
		tc.mod(&q)
		if _, err := seal.SignPublication(owner.sign, q); !errors.Is(err, seal.ErrMalformed) {
			t.Errorf("%s: SignPublication = %v, want ErrMalformed", tc.name, err)
		}
		q.V = 1
		raw, err := seal.Sign(owner.sign, seal.TypePublication, q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seal.VerifyPublication(raw, ro); !errors.Is(err, seal.ErrMalformed) {
			t.Errorf("%s: VerifyPublication = %v, want ErrMalformed", tc.name, err)
		}
	}
	// A grant's signature never passes as a publication's.
	if _, err := seal.VerifyPublication([]byte(strings.Replace(string(signed), seal.TypePublication, seal.TypeGrant, 1)), ro); err == nil {
		t.Error("envelope of another type verifies")
	}
}

func TestNewPseudonym(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p := seal.NewPseudonym()
		if !seal.ValidPseudonym(p) {
			t.Fatalf("NewPseudonym() = %q, not valid", p)
		}
		seen[p] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 pseudonyms gave only %d distinct ones", len(seen))
	}
}

var updatePublication = flag.Bool("update-publication", false, "rewrite testdata/publication-v1.json")

// publicationVector is testdata/publication-v1.json: an owner device's
// Ed25519 seed, the signed publication it makes, and what that decodes
// to. Ed25519 is deterministic, so signing the expected record with the
// seed gives the envelope byte for byte.
type publicationVector struct {
	Comment   string           `json:"comment"`
	OwnerSeed []byte           `json:"owner_sign_seed"`
	Signed    []byte           `json:"signed"`
	Expect    seal.Publication `json:"expect"`
}

func TestPublicationVector(t *testing.T) {
	path := filepath.Join("testdata", "publication-v1.json")
	owner := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x50}, ed25519.SeedSize))
	if *updatePublication {
		p := seal.Publication{V: seal.FormatVersion, ID: "postaaaaaaaaaaaaaaaaaaaaaa", Household: "householdaaaaaaaaaaaaaaaaa",
			SHA256: seal.SHA256Hex([]byte("mp4")), Size: 3, Title: "Grey cat missing", Category: seal.CategoryLostPet, Cell: "u4pruy",
			Pseudonym: "quiet-heron-0042", Job: "jobaaaaaaaaaaaaaaaaaaaaaaa", Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		signed, err := seal.SignPublication(owner, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(publicationVector{
			Comment:   "Porchlight publication v1 vector: see docs/formats.md. Regenerate with go test ./internal/seal -run TestPublicationVector -update-publication",
			OwnerSeed: owner.Seed(), Signed: signed, Expect: p}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v publicationVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(v.OwnerSeed)
	pub := key.Public().(ed25519.PublicKey)
	ro := &seal.Roster{V: 1, Household: v.Expect.Household, Version: 1, Entries: []seal.RosterEntry{{
		ID: seal.KeyID(pub), Kind: seal.KindDevice, Role: seal.RoleOwner, Name: "owner", Sign: pub, Cameras: []string{seal.AllCameras}}}}
	got, err := seal.VerifyPublication(v.Signed, ro)
	if err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	if diff := cmp.Diff(v.Expect, *got); diff != "" {
		t.Errorf("vector decodes differently (-want +got):\n%s", diff)
	}
	again, err := seal.SignPublication(key, v.Expect)
	if err != nil || !bytes.Equal(again, v.Signed) {
		t.Errorf("signing the expected record does not reproduce the vector: %v\n%s\n%s", err, again, v.Signed)
	}
}

// FuzzVerifyPublication: no input panics, and whatever verifies has a
// valid cell and re-signs to a record that verifies the same.
func FuzzVerifyPublication(f *testing.F) {
	owner := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x51}, ed25519.SeedSize))
	pub := owner.Public().(ed25519.PublicKey)
	hh := "householdaaaaaaaaaaaaaaaaa"
	ro := &seal.Roster{V: 1, Household: hh, Version: 1, Entries: []seal.RosterEntry{{
		ID: seal.KeyID(pub), Kind: seal.KindDevice, Role: seal.RoleOwner, Name: "owner", Sign: pub, Cameras: []string{seal.AllCameras}}}}
	good, err := seal.SignPublication(owner, seal.Publication{ID: "postaaaaaaaaaaaaaaaaaaaaaa", Household: hh, SHA256: seal.SHA256Hex(nil), Size: 1,
		Title: "t", Category: seal.CategoryOther, Cell: "u4pruy", Pseudonym: "abc", Job: "jobaaaaaaaaaaaaaaaaaaaaaaa", Created: time.Unix(1, 0).UTC()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1,"type":"porchlight.publication"}`))
	f.Add([]byte(strings.Replace(string(good), `"sig":"`, `"sig":"A`, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := seal.VerifyPublication(b, ro)
		if err != nil {
			return
		}
		if !geocell.Valid(p.Cell) || p.Household != hh {
			t.Fatalf("verified publication with cell %q, household %q", p.Cell, p.Household)
		}
		again, err := seal.SignPublication(owner, *p)
		if err != nil {
			t.Fatalf("re-sign: %v", err)
		}
		if _, err := seal.VerifyPublication(again, ro); err != nil {
			t.Fatalf("re-signed record does not verify: %v", err)
		}
	})
}
