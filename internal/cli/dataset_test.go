package cli

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// fakeCampaign is an annotator's view of one campaign: what the service
// lists (it leaves out withdrawn and expired copies) and the copies.
type fakeCampaign struct {
	camps  []api.Campaign
	tasks  []api.Task
	copies map[string][]byte
}

func (f *fakeCampaign) AnnotateCampaigns(context.Context) ([]api.Campaign, error) {
	return f.camps, nil
}
func (f *fakeCampaign) AnnotateTasks(_ context.Context, id string) ([]api.Task, error) {
	if id != f.camps[0].ID {
		return nil, errors.New("403")
	}
	return f.tasks, nil
}
func (f *fakeCampaign) TaskMedia(_ context.Context, id string) ([]byte, error) {
	return f.copies[id], nil
}

// testMP4 makes a 2 s, 160×120 MP4 of a test pattern.
func testMP4(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "2",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// campaignCopy seals a hub-signed donate result for campaign to key.
func campaignCopy(t *testing.T, hub *keys.Pair, campaign string, mp4 []byte, to age.Recipient) []byte {
	t.Helper()
	now := time.Now().UTC()
	body, err := seal.SealRedaction(hub.Sign, seal.Redaction{Job: seal.NewID(), Household: seal.NewID(), Camera: seal.NewID(), Purpose: "donate",
		Campaign: campaign, From: now.Add(-time.Minute), To: now, Frames: 50, Created: now}, mp4, to)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestDatasetExport: the export opens each listed copy with the campaign
// key, writes the labelled frames as JPEG and a COCO file whose images and
// boxes carry their consent ids; a copy the service no longer lists (a
// withdrawn consent) contributes nothing; unlabelled copies are skipped.
func TestDatasetExport(t *testing.T) {
	key, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	hub, err := keys.Generate("hub")
	if err != nil {
		t.Fatal(err)
	}
	camp := api.Campaign{ID: seal.NewID(), Purpose: "p", Org: "Labelling Ltd", Country: "DE", Recipient: key.Recipient().String(),
		Classes: []string{"person", "animal", "vehicle"}, RetentionDays: 90}
	mp4 := testMP4(t)
	labelled, unlabelled, withdrawn := seal.NewID(), seal.NewID(), seal.NewID()
	f := &fakeCampaign{camps: []api.Campaign{camp}, copies: map[string][]byte{}}
	for _, id := range []string{labelled, unlabelled, withdrawn} {
		f.copies[id] = campaignCopy(t, hub, camp.ID, mp4, key.Recipient())
	}
	f.tasks = []api.Task{
		{ID: labelled, Consent: labelled, Campaign: camp.ID, SHA256: seal.SHA256Hex(f.copies[labelled]), Labels: []api.LabelBox{
			{TMS: 500, Class: "person", X0: 0.25, Y0: 0.5, X1: 0.75, Y1: 1},
			{TMS: 500, Class: "vehicle", X0: 0, Y0: 0, X1: 0.5, Y1: 0.5},
			{TMS: 1500, Class: "animal", X0: 0.1, Y0: 0.1, X1: 0.2, Y1: 0.2},
		}},
		{ID: unlabelled, Consent: unlabelled, Campaign: camp.ID, SHA256: seal.SHA256Hex(f.copies[unlabelled]), Labels: []api.LabelBox{}},
		// withdrawn is not listed: the service excludes it.
	}
	dir := filepath.Join(t.TempDir(), "ds")
	st, err := exportDataset(t.Context(), f, camp.ID, key, dir, os.Stderr, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st != (datasetStats{clips: 1, images: 2, boxes: 3}) {
		t.Errorf("stats = %+v", st)
	}
	b, err := os.ReadFile(filepath.Join(dir, "annotations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var coco cocoFile
	if err := json.Unmarshal(b, &coco); err != nil {
		t.Fatal(err)
	}
	wantImages := []cocoImage{
		{ID: 1, FileName: labelled + "-00000500.jpg", Width: 160, Height: 120, ConsentID: labelled, TMS: 500},
		{ID: 2, FileName: labelled + "-00001500.jpg", Width: 160, Height: 120, ConsentID: labelled, TMS: 1500},
	}
	if diff := cmp.Diff(wantImages, coco.Images); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	wantAnn := []cocoAnnotation{
		{ID: 1, ImageID: 1, CategoryID: 1, BBox: [4]float64{40, 60, 80, 60}, Area: 4800, ConsentID: labelled},
		{ID: 2, ImageID: 1, CategoryID: 3, BBox: [4]float64{0, 0, 80, 60}, Area: 4800, ConsentID: labelled},
		{ID: 3, ImageID: 2, CategoryID: 2, BBox: [4]float64{16, 12, 16, 12}, Area: 192, ConsentID: labelled},
	}
	if diff := cmp.Diff(wantAnn, coco.Annotations, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 })); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if len(coco.Categories) != 3 || coco.Categories[1].Name != "animal" || coco.Info.Campaign != camp.ID {
		t.Errorf("categories %+v, info %+v", coco.Categories, coco.Info)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Errorf("images/ holds %d files, want the 2 frames (no temp clip, nothing of other copies)", len(ents))
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), withdrawn) || strings.Contains(e.Name(), unlabelled) {
			t.Errorf("exported %s", e.Name())
		}
		fh, err := os.Open(filepath.Join(dir, "images", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, format, err := image.DecodeConfig(fh)
		fh.Close()
		if err != nil || format != "jpeg" {
			t.Errorf("%s: %s, %v; want a JPEG", e.Name(), format, err)
		}
	}

	// Refusals: a used directory, another key, a copy that is not the
	// listed one, a copy made for another campaign.
	if _, err := exportDataset(t.Context(), f, camp.ID, key, dir, os.Stderr, time.Now()); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a used directory: %v", err)
	}
	other, _ := age.GenerateHybridIdentity()
	if _, err := exportDataset(t.Context(), f, camp.ID, other, t.TempDir(), os.Stderr, time.Now()); err == nil {
		t.Error("export with another key succeeded")
	}
	swapped := *f
	swapped.copies = map[string][]byte{labelled: f.copies[unlabelled]}
	if _, err := exportDataset(t.Context(), &swapped, camp.ID, key, t.TempDir(), os.Stderr, time.Now()); err == nil || !strings.Contains(err.Error(), "hash") {
		t.Errorf("export of a swapped copy: %v", err)
	}
	foreign := *f
	foreign.copies = map[string][]byte{labelled: campaignCopy(t, hub, seal.NewID(), mp4, key.Recipient())}
	foreign.tasks = []api.Task{f.tasks[0]}
	foreign.tasks[0].SHA256 = seal.SHA256Hex(foreign.copies[labelled])
	if _, err := exportDataset(t.Context(), &foreign, camp.ID, key, t.TempDir(), os.Stderr, time.Now()); err == nil || !strings.Contains(err.Error(), "campaign") {
		t.Errorf("export of another campaign's copy: %v", err)
	}
}

// TestCampaignKey: the key file is 0600, holds a hybrid identity whose
// recipient is what was printed, and is never overwritten.
func TestCampaignKey(t *testing.T) {
	env := cliEnv{EnvHome: t.TempDir()}
	path := filepath.Join(t.TempDir(), "campaign.key")
	r := mustCLI(t, env, "campaign", "key", "-o", path)
	rcp := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(rcp, "age1pq1") {
		t.Fatalf("printed %q, want an age1pq1 recipient", rcp)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	id, err := loadCampaignKey(path)
	if err != nil || id.Recipient().String() != rcp {
		t.Fatalf("loaded key: %v; recipient differs from the printed one", err)
	}
	before, _ := os.ReadFile(path)
	if r := runCLI(t, env, "", "campaign", "key", "-o", path); r.code != 1 || !strings.Contains(r.stderr, "never overwritten") {
		t.Errorf("second campaign key = %d %q, want a refusal", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the key file changed")
	}
}
