package seal_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/seal"
)

func testConsent(t testing.TB, hh string) seal.Consent {
	t.Helper()
	key, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	return seal.Consent{ID: seal.NewID(), Household: hh, Campaign: seal.NewID(), Recipient: key.Recipient().String(),
		Purpose: "night-time people", Org: "Labelling Ltd", Country: "DE", RetentionDays: 90, Camera: seal.NewID(),
		From: now.Add(-time.Minute), To: now, Job: seal.NewID(), Created: now}
}

// TestConsentSigners: only an owner device (or the recovery identity) of
// the household's roster signs a consent that verifies; a member, the hub,
// a stranger, another household and any altered byte are refused.
func TestConsentSigners(t *testing.T) {
	owner, member, hub, stranger := newKey(t, 11), newKey(t, 12), newKey(t, 13), newKey(t, 14)
	hh := seal.NewID()
	v1 := mustRoster(t, owner, seal.Roster{Household: hh, Version: 1, Created: time.Now().UTC(), Entries: []seal.RosterEntry{
		owner.entry(seal.KindDevice, seal.RoleOwner), member.entry(seal.KindDevice, seal.RoleMember), hub.entry(seal.KindHub, seal.RoleHub)}})
	ro, err := seal.VerifyRosterChain([][]byte{v1}, owner.pub())
	if err != nil {
		t.Fatal(err)
	}
	c := testConsent(t, hh)
	signed, err := seal.SignConsent(owner.sign, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seal.VerifyConsent(signed, ro)
	if err != nil || got.ID != c.ID || got.Job != c.Job || got.V != seal.FormatVersion {
		t.Fatalf("VerifyConsent = %+v, %v", got, err)
	}
	if p, err := seal.ParseConsent(signed); err != nil || p.ID != c.ID {
		t.Errorf("ParseConsent = %+v, %v", p, err)
	}
	for name, k := range map[string]testKey{"member": member, "hub": hub, "stranger": stranger} {
		s, err := seal.SignConsent(k.sign, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seal.VerifyConsent(s, ro); !errors.Is(err, seal.ErrSignature) {
			t.Errorf("signed by the %s: %v, want ErrSignature", name, err)
		}
	}
	other := c
	other.Household = seal.NewID()
	s, _ := seal.SignConsent(owner.sign, other)
	if _, err := seal.VerifyConsent(s, ro); !errors.Is(err, seal.ErrSignature) {
		t.Errorf("another household's consent: %v, want ErrSignature", err)
	}
	var env seal.Signed
	if err := json.Unmarshal(signed, &env); err != nil {
		t.Fatal(err)
	}
	env.Body[len(env.Body)/2] ^= 1
	tampered, _ := json.Marshal(env)
	if _, err := seal.VerifyConsent(tampered, ro); err == nil {
		t.Error("a tampered consent verifies")
	}
}

// TestConsentCheck: a consent must name everything the owner was shown.
func TestConsentCheck(t *testing.T) {
	owner := newKey(t, 21)
	for name, edit := range map[string]func(*seal.Consent){
		"no campaign":       func(c *seal.Consent) { c.Campaign = "" },
		"a classic key":     func(c *seal.Consent) { c.Recipient = "age1qqqq" },
		"no purpose":        func(c *seal.Consent) { c.Purpose = "" },
		"no organisation":   func(c *seal.Consent) { c.Org = "" },
		"no country":        func(c *seal.Consent) { c.Country = "" },
		"no retention":      func(c *seal.Consent) { c.RetentionDays = 0 },
		"endless retention": func(c *seal.Consent) { c.RetentionDays = seal.MaxRetentionDays + 1 },
		"no job":            func(c *seal.Consent) { c.Job = "x" },
		"an empty clip":     func(c *seal.Consent) { c.To = c.From },
		"a bad event id":    func(c *seal.Consent) { c.Event = "EVENT" },
	} {
		c := testConsent(t, seal.NewID())
		edit(&c)
		if _, err := seal.SignConsent(owner.sign, c); !errors.Is(err, seal.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParseConsent(f *testing.F) {
	owner := newKey(f, 31)
	signed, err := seal.SignConsent(owner.sign, testConsent(f, seal.NewID()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte(`{"v":1,"type":"porchlight.consent"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := seal.ParseConsent(b)
		if err == nil && (c == nil || !seal.ValidID(c.ID)) {
			t.Fatalf("ParseConsent accepted %q as %+v", b, c)
		}
	})
}

var updateConsent = flag.Bool("update-consent", false, "rewrite testdata/consent-v1.json")

// consentVector is testdata/consent-v1.json.
type consentVector struct {
	Comment    string       `json:"comment"`
	SignerSeed []byte       `json:"signer_seed"`
	Signed     []byte       `json:"signed"`
	Expect     seal.Consent `json:"expect"`
}

// TestConsentVector pins the consent format: the vector verifies against a
// roster whose owner is the vector's signer, decodes to the expected
// consent, and signing that consent again gives the same bytes.
func TestConsentVector(t *testing.T) {
	path := filepath.Join("testdata", "consent-v1.json")
	if *updateConsent {
		signer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
		c := testConsent(t, "householdaaaaaaaaaaaaaaaaa")
		c.ID, c.Campaign, c.Camera, c.Job, c.Event = "consentaaaaaaaaaaaaaaaaaaa", "campaignaaaaaaaaaaaaaaaaa", "cameraaaaaaaaaaaaaaaaaaaaa", "jobaaaaaaaaaaaaaaaaaaaaaaa", "eventaaaaaaaaaaaaaaaaaaaaa"
		c.V = seal.FormatVersion
		signed, err := seal.SignConsent(signer, c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(consentVector{Comment: "Porchlight consent v1 vector: see docs/formats.md. Regenerate with go test ./internal/seal -run TestConsentVector -update-consent",
			SignerSeed: signer.Seed(), Signed: signed, Expect: c}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v consentVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	signer := ed25519.NewKeyFromSeed(v.SignerSeed)
	owner := testKey{sign: signer, kem: newKey(t, 0x43).kem}
	v1 := mustRoster(t, owner, seal.Roster{Household: v.Expect.Household, Version: 1, Created: time.Now().UTC(),
		Entries: []seal.RosterEntry{owner.entry(seal.KindDevice, seal.RoleOwner)}})
	ro, err := seal.VerifyRosterChain([][]byte{v1}, owner.pub())
	if err != nil {
		t.Fatal(err)
	}
	got, err := seal.VerifyConsent(v.Signed, ro)
	if err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	if d := cmp.Diff(v.Expect, *got); d != "" {
		t.Errorf("vector decodes to (-want +got):\n%s", d)
	}
	again, err := seal.SignConsent(signer, v.Expect)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, v.Signed) {
		t.Errorf("signing the expected consent no longer gives the vector's bytes: the encoding changed\n got %s\nwant %s", again, v.Signed)
	}
}
