package keys_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// recoveryVectorFile pins the recovery kit format: an age scrypt file (at a
// low work factor) every implementation must open with the passphrase.
const recoveryVectorFile = "../../testdata/vectors/recovery-kit-v1.json"

type recoveryVector struct {
	Comment    string `json:"comment"`
	Passphrase string `json:"passphrase"`
	Kit        []byte `json:"kit"`
	Household  string `json:"expect_household"`
	ID         string `json:"expect_id"`
	Recipient  string `json:"expect_kem_recipient"`
}

func TestRecoveryKitVector(t *testing.T) {
	if *update {
		p, err := keys.Generate("recovery")
		if err != nil {
			t.Fatal(err)
		}
		pass := keys.NewRecoveryPassphrase()
		household := seal.NewID()
		kit, err := keys.SealRecoveryKit(p, household, p.SignPub(), pass, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 10)
		if err != nil {
			t.Fatal(err)
		}
		v := recoveryVector{Comment: "Porchlight recovery kit v1: age scrypt (logN 10 here; 18 in use) of a seal.RecoveryKit. Open with the passphrase; the identity must match.",
			Passphrase: pass, Kit: kit, Household: household, ID: p.ID, Recipient: p.Recipient()}
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(recoveryVectorFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Clean(recoveryVectorFile))
	if err != nil {
		t.Fatalf("read vectors (regenerate with -update): %v", err)
	}
	var v recoveryVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	p, k, err := keys.OpenRecoveryKit(v.Kit, v.Passphrase)
	if err != nil {
		t.Fatalf("open the vector kit: %v", err)
	}
	if k.Household != v.Household || p.ID != v.ID || p.Recipient() != v.Recipient {
		t.Errorf("vector kit opened to household %s, id %s, recipient %s; want %s, %s, %s", k.Household, p.ID, p.Recipient(), v.Household, v.ID, v.Recipient)
	}
	// Non-malleability: any flipped byte of the payload fails.
	bad := bytes.Clone(v.Kit)
	bad[len(bad)-3] ^= 1
	if _, _, err := keys.OpenRecoveryKit(bad, v.Passphrase); err == nil {
		t.Error("a kit with a flipped byte opened")
	}
}

func TestRecoveryKitRoundTrip(t *testing.T) {
	p, err := keys.Generate("recovery")
	if err != nil {
		t.Fatal(err)
	}
	pass := keys.NewRecoveryPassphrase()
	household := seal.NewID()
	kit, err := keys.SealRecoveryKit(p, household, p.SignPub(), pass, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.CheckAgeFile(kit); err != nil {
		t.Fatalf("kit is not an age file: %v", err)
	}
	if len(kit) > seal.MaxRecoveryKit {
		t.Fatalf("kit is %d bytes, over MaxRecoveryKit", len(kit))
	}
	typed := strings.ToLower(strings.ReplaceAll(pass, "-", " "))
	norm, err := keys.NormalizePassphrase(typed)
	if err != nil || norm != pass {
		t.Fatalf("NormalizePassphrase(%q) = %q, %v; want %q", typed, norm, err, pass)
	}
	got, k, err := keys.OpenRecoveryKit(kit, norm)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || !got.Sign.Equal(p.Sign) || got.KEM.String() != p.KEM.String() || k.Household != household {
		t.Error("the kit did not round-trip the recovery identity")
	}
	other := keys.NewRecoveryPassphrase()
	if _, _, err := keys.OpenRecoveryKit(kit, other); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	// A kit sealed to an X25519 recipient instead is not a passphrase kit.
	x, _ := age.GenerateX25519Identity()
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, x.Recipient())
	w.Write([]byte("{}"))
	w.Close()
	if _, _, err := keys.OpenRecoveryKit(buf.Bytes(), pass); err == nil {
		t.Error("a non-scrypt file opened as a kit")
	}
}

func TestPassphraseShape(t *testing.T) {
	pass := keys.NewRecoveryPassphrase()
	if len(pass) != 8*4+7 || strings.Count(pass, "-") != 7 {
		t.Fatalf("passphrase %q is not 8 groups of 4", pass)
	}
	for _, bad := range []string{"", "ABCD", pass + "A", strings.Replace(pass, pass[:1], "0", 1), "ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2-3456-789!"} {
		if _, err := keys.NormalizePassphrase(bad); !errors.Is(err, keys.ErrPassphraseShape) {
			t.Errorf("NormalizePassphrase(%q) = %v, want ErrPassphraseShape", bad, err)
		}
	}
}
