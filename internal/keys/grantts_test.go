package keys_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestGrantFromBrowser: a support grant signed by the browser app's code
// (web/src/lib/grant.ts, whose test writes the vector from the v1 owner
// key) verifies in Go against the vector roster, with every field as the
// browser meant it.
func TestGrantFromBrowser(t *testing.T) {
	var v vectors
	var g struct {
		Signed []byte     `json:"signed"`
		Expect seal.Grant `json:"expect"`
	}
	for path, dst := range map[string]any{vectorFile: &v, "../../testdata/vectors/grant-ts-v1.json": &g} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	roster, err := seal.VerifyRosterChain(v.Roster, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seal.VerifyGrant(g.Signed, roster)
	if err != nil {
		t.Fatalf("VerifyGrant: %v", err)
	}
	if diff := cmp.Diff(&g.Expect, got); diff != "" {
		t.Errorf("grant (-want +got):\n%s", diff)
	}
}
