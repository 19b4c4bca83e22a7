package keys_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors/v1.json")

// vectorFile is the committed test-vector set every implementation of the
// formats (Go here, the browser later) must open and verify.
const vectorFile = "../../testdata/vectors/v1.json"

// vectors is the JSON layout of vectorFile. Byte fields are base64.
type vectors struct {
	Comment       string   `json:"comment"`
	OwnerSeed     []byte   `json:"owner_sign_seed"`
	OwnerKEM      string   `json:"owner_kem_identity"`
	HubSeed       []byte   `json:"hub_sign_seed"`
	EpochIdentity string   `json:"epoch_identity"`
	Roster        [][]byte `json:"roster"`
	Epoch         []byte   `json:"epoch_announcement"`
	Wrap          []byte   `json:"epoch_wrap"`
	Camera        []byte   `json:"camera_descriptor"`
	Manifest      []byte   `json:"manifest"`
	Segment       []byte   `json:"segment"`

	Household   string `json:"expect_household"`
	CameraID    string `json:"expect_camera"`
	CameraName  string `json:"expect_camera_name"`
	EpochID     string `json:"expect_epoch"`
	SegmentSeq  uint64 `json:"expect_segment_seq"`
	MediaSHA256 string `json:"expect_media_sha256"`
}

func makeVectors(t *testing.T) vectors {
	owner, err := keys.Generate("vector owner")
	if err != nil {
		t.Fatal(err)
	}
	hubSign := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, 32))
	hubKEM, _ := age.GenerateHybridIdentity()
	epochID, _ := age.GenerateHybridIdentity()
	v := vectors{
		Comment:   "Porchlight format v1 test vectors: see docs/formats.md. Regenerate with go test ./internal/keys -run TestVectors -update",
		OwnerSeed: owner.Sign.Seed(), OwnerKEM: owner.KEM.String(), HubSeed: hubSign.Seed(), EpochIdentity: epochID.String(),
		Household: "householdaaaaaaaaaaaaaaaaa", CameraID: "cameraaaaaaaaaaaaaaaaaaaaa", CameraName: "front door",
		EpochID: "epochaaaaaaaaaaaaaaaaaaaaa", SegmentSeq: 42,
	}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ownerEntry := seal.RosterEntry{ID: owner.ID, Kind: seal.KindDevice, Role: seal.RoleOwner, Name: "laptop", Sign: owner.SignPub(), KEM: owner.Recipient(), Cameras: []string{seal.AllCameras}}
	hubPub := hubSign.Public().(ed25519.PublicKey)
	hubEntry := seal.RosterEntry{ID: seal.KeyID(hubPub), Kind: seal.KindHub, Role: seal.RoleHub, Name: "hub", Sign: hubPub, KEM: hubKEM.Recipient().String(), Cameras: []string{}}
	v1, err := seal.SignRoster(owner.Sign, seal.Roster{Household: v.Household, Version: 1, Created: at, Entries: []seal.RosterEntry{ownerEntry}})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := seal.SignRoster(owner.Sign, seal.Roster{Household: v.Household, Version: 2, Prev: seal.RosterHash(v1), Created: at, Entries: []seal.RosterEntry{ownerEntry, hubEntry}})
	if err != nil {
		t.Fatal(err)
	}
	v.Roster = [][]byte{v1, v2}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v.Epoch = must(seal.SignEpoch(hubSign, seal.EpochAnnouncement{Household: v.Household, Camera: v.CameraID, Epoch: v.EpochID, Hub: hubEntry.ID,
		Recipient: epochID.Recipient().String(), NotBefore: at.Truncate(24 * time.Hour), NotAfter: at.Truncate(24 * time.Hour).Add(24 * time.Hour), Roster: 2}))
	v.Wrap = must(seal.WrapEpochKey(owner.KEM.Recipient(), seal.EpochKey{Household: v.Household, Camera: v.CameraID, Epoch: v.EpochID, Identity: epochID.String()}))
	v.Camera = must(seal.SealCamera(hubSign, seal.CameraDescriptor{Household: v.Household, Camera: v.CameraID, Hub: hubEntry.ID, Name: v.CameraName, Created: at}, owner.KEM.Recipient()))
	media := []byte("\x00\x00\x00\x10ftypiso6\x00\x00\x00\x00 not real media, but bytes the envelope must carry exactly")
	v.MediaSHA256 = seal.SHA256Hex(media)
	v.Segment = must(seal.SealSegment(epochID.Recipient(), seal.SegmentHeader{Household: v.Household, Camera: v.CameraID, Epoch: v.EpochID, Seq: v.SegmentSeq, Start: at, DurationMS: 4000, Frames: 100, Codec: "h264"}, media))
	v.Manifest = must(seal.SealManifest(hubSign, epochID.Recipient(), seal.Manifest{Household: v.Household, Camera: v.CameraID, Hub: hubEntry.ID, Epoch: v.EpochID, Seq: 1, Created: at,
		Objects: []seal.ManifestObject{{ID: "segmentaaaaaaaaaaaaaaaaaaa", Kind: "segment", Seq: v.SegmentSeq, Start: at, DurationMS: 4000, Frames: 100, Codec: "h264", Size: int64(len(v.Segment)), SHA256: seal.SHA256Hex(v.Segment)}}}))
	return v
}

// TestVectors opens the committed vectors exactly as a client does: verify
// the roster chain, find the hub, verify the epoch announcement, unwrap the
// epoch key, open the manifest, check the segment's hash against it, open
// the segment and the camera descriptor.
func TestVectors(t *testing.T) {
	if *update {
		b, err := json.MarshalIndent(makeVectors(t), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	owner := ed25519.NewKeyFromSeed(v.OwnerSeed)
	kem, err := age.ParseHybridIdentity(v.OwnerKEM)
	if err != nil {
		t.Fatal(err)
	}
	dev := &keys.Pair{ID: seal.KeyID(owner.Public().(ed25519.PublicKey)), KEM: kem, Sign: owner}

	roster, err := seal.VerifyRosterChain(v.Roster, dev.SignPub())
	if err != nil {
		t.Fatalf("roster: %v", err)
	}
	var hub *seal.RosterEntry
	for i := range roster.Entries {
		if roster.Entries[i].Kind == seal.KindHub {
			hub = &roster.Entries[i]
		}
	}
	if hub == nil {
		t.Fatal("roster v2 lists no hub")
	}
	ann, err := seal.VerifyEpoch(v.Epoch, hub.Sign)
	if err != nil {
		t.Fatalf("epoch: %v", err)
	}
	epoch, err := dev.OpenEpochKey(v.Wrap, ann)
	if err != nil {
		t.Fatalf("wrap: %v", err)
	}
	if epoch.String() != v.EpochIdentity {
		t.Fatal("unwrapped epoch key differs from the vector's")
	}
	m, err := keys.OpenManifest(v.Manifest, epoch, hub.Sign, v.Household, v.CameraID, v.EpochID)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(m.Objects) != 1 || m.Objects[0].SHA256 != seal.SHA256Hex(v.Segment) || m.Objects[0].Seq != v.SegmentSeq {
		t.Fatalf("manifest does not list the segment's ciphertext hash: %+v", m.Objects)
	}
	h, media, err := keys.OpenSegment(v.Segment, epoch)
	if err != nil {
		t.Fatalf("segment: %v", err)
	}
	if h.Seq != v.SegmentSeq || h.Camera != v.CameraID || h.Epoch != v.EpochID || seal.SHA256Hex(media) != v.MediaSHA256 {
		t.Fatalf("segment header %+v or media hash wrong", h)
	}
	cam, err := dev.OpenCamera(v.Camera, hub.Sign)
	if err != nil {
		t.Fatalf("camera: %v", err)
	}
	if cam.Name != v.CameraName {
		t.Fatalf("camera name %q", cam.Name)
	}
	// A wrap opened against an announcement for another key is refused.
	other := *ann
	other.Recipient = kem.Recipient().String()
	if _, err := dev.OpenEpochKey(v.Wrap, &other); err == nil {
		t.Fatal("wrap accepted against an announcement of another key")
	}
	// The manifest does not verify as another camera's.
	if _, err := keys.OpenManifest(v.Manifest, epoch, hub.Sign, v.Household, "othercameraaaaaaaaaaaaaaaa", v.EpochID); err == nil {
		t.Fatal("manifest accepted for another camera")
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	p, err := keys.Generate("laptop")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", "device.key")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	q, err := keys.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.ID != p.ID || q.Recipient() != p.Recipient() || q.Name != "laptop" {
		t.Fatal("loaded key differs")
	}
	if _, err := keys.Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing key file loaded")
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"v": 1`), []byte(`"v": 9`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Load(path); err == nil {
		t.Fatal("key file of an unknown version loaded")
	}
}
