package eval

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porchlight/porchlight/internal/detect"
)

// Paths of the clips from Debian's opencv-doc (installed by scripts/setup).
const (
	treeClip  = "/usr/share/doc/opencv-doc/examples/data/tree.avi"
	vtestClip = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
)

func openDetector(t testing.TB) *detect.Detector {
	t.Helper()
	d, err := detect.Open(detect.Config{})
	if err != nil {
		t.Fatalf("open the detector (run `bash scripts/setup`): %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// expected is testdata/detect/expected.json: the committed result of the
// detector over the labelled set.
type expected struct {
	Classes map[detect.Class]ClassScore `json:"classes"`
}

// TestImagesMatchExpectations runs the real detector over the labelled
// set and compares each class's hits, false positives and misses with the
// committed expectations, within one count either way: a regression of the
// model, its conversion or the pre/post-processing fails it.
// `go test -run TestImagesMatchExpectations -update` rewrites them.
func TestImagesMatchExpectations(t *testing.T) {
	labels, err := LoadLabels(filepath.Join("..", "..", "testdata", "detect", "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Images(openDetector(t), labels)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	FormatImages(&buf, res)
	t.Logf("\n%s", buf.String())
	path := filepath.Join("..", "..", "testdata", "detect", "expected.json")
	if *update {
		out := expected{Classes: map[detect.Class]ClassScore{}}
		for c, s := range res.Classes {
			out.Classes[c] = *s
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want expected
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	near := func(a, b int) bool { return a-b <= 1 && b-a <= 1 }
	for _, c := range Classes {
		got, w := *res.Classes[c], want.Classes[c]
		if !near(got.TP, w.TP) || !near(got.FP, w.FP) || !near(got.FN, w.FN) || !near(got.FalseAlerts, w.FalseAlerts) {
			t.Errorf("%s: %+v, expected %+v (±1)", c, got, w)
		}
	}
	if res.Classes[detect.Person].Recall() < 0.5 || res.Classes[detect.Person].Precision() < 0.7 {
		t.Errorf("person precision %.2f / recall %.2f: too low for alerts worth reading", res.Classes[detect.Person].Precision(), res.Classes[detect.Person].Recall())
	}
}

// TestClips: the whole chain raises no alert on tree.avi (a swaying tree)
// and person alerts but no vehicle alert on vtest.avi (pedestrians walking
// past parked cars).
func TestClips(t *testing.T) {
	det := openDetector(t)
	tree, err := Clip(t.Context(), det, treeClip, ClipConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if n := tree.Alerts[detect.Person] + tree.Alerts[detect.Animal] + tree.Alerts[detect.Vehicle]; n != 0 {
		t.Errorf("tree.avi: %d alerts (%v), want 0", n, tree.Alerts)
	}
	vt, err := Clip(t.Context(), det, vtestClip, ClipConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if vt.Alerts[detect.Person] == 0 || vt.Alerts[detect.Vehicle] != 0 {
		t.Errorf("vtest.avi: alerts %v, want person events and no vehicle", vt.Alerts)
	}
	var buf strings.Builder
	FormatClip(&buf, "tree.avi", tree)
	FormatClip(&buf, "vtest.avi", vt)
	t.Logf("\n%s", buf.String())
}
