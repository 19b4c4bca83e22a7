package keys_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

var updateCampaignCopy = flag.Bool("update-campaign-copy", false, "rewrite testdata/vectors/campaign-copy-v1.json")

const campaignCopyVector = "../../testdata/vectors/campaign-copy-v1.json"

type campaignCopy struct {
	Comment   string `json:"comment"`
	Identity  string `json:"identity"`
	Campaign  string `json:"campaign"`
	HubPub    []byte `json:"hub_pub"`
	Sealed    []byte `json:"sealed"`
	MP4SHA256 string `json:"mp4_sha256"`
}

// TestCampaignCopyVector: a campaign copy (a hub-sealed redaction result to
// a campaign key) that the browser's annotation tool must open
// (web/src/lib/annotate.test.ts opens the same file). With
// -update-campaign-copy it writes a fresh one.
func TestCampaignCopyVector(t *testing.T) {
	if *updateCampaignCopy {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2 — a stand-in for a redacted clip")
		sum := sha256.Sum256(mp4)
		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		campaign := seal.NewID()
		sealed, err := seal.SealRedaction(priv, seal.Redaction{Job: seal.NewID(), Household: seal.NewID(), Camera: seal.NewID(), Purpose: "donate",
			Campaign: campaign, From: at, To: at.Add(10 * time.Second), MP4SHA256: hex.EncodeToString(sum[:]), Size: int64(len(mp4)), Frames: 1, Created: at},
			mp4, id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(campaignCopy{Comment: "a redaction result sealed to a campaign key (internal/keys TestCampaignCopyVector)",
			Identity: id.String(), Campaign: campaign, HubPub: pub, Sealed: sealed, MP4SHA256: hex.EncodeToString(sum[:])}, "", " ")
		if err := os.WriteFile(campaignCopyVector, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(campaignCopyVector)
	if err != nil {
		t.Fatal(err)
	}
	var v campaignCopy
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseHybridIdentity(v.Identity)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := keys.Decrypt(v.Sealed, id)
	if err != nil {
		t.Fatal(err)
	}
	h, mp4, err := seal.ParseRedactionPlaintext(pt, v.HubPub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mp4)
	if h.Campaign != v.Campaign || hex.EncodeToString(sum[:]) != v.MP4SHA256 || h.Purpose != "donate" {
		t.Fatalf("vector opens to campaign %s purpose %s sha %x", h.Campaign, h.Purpose, sum)
	}
}
