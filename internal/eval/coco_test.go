package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/detect"
)

// writeCOCO writes dir/annotations.json.
func writeCOCO(t *testing.T, dir string, c COCO) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "annotations.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var cocoCats = []COCOCategory{{1, "person"}, {2, "animal"}, {3, "vehicle"}}

// TestLoadCOCO: pixel boxes become fractions of their image, categories
// become classes, paths stay under images/; malformed files are refused.
func TestLoadCOCO(t *testing.T) {
	dir := t.TempDir()
	writeCOCO(t, dir, COCO{
		Images: []COCOImage{{ID: 1, FileName: "c1-00000500.jpg", Width: 200, Height: 100, ConsentID: "consentone"}, {ID: 2, FileName: "c2.jpg", Width: 10, Height: 10}},
		Annotations: []COCOAnnotation{
			{ID: 1, ImageID: 1, CategoryID: 1, BBox: [4]float64{20, 10, 100, 50}, ConsentID: "consentone"},
			{ID: 2, ImageID: 1, CategoryID: 3, BBox: [4]float64{0, 0, 200, 100}, IsCrowd: 1},
		},
		Categories: cocoCats,
	})
	l, err := LoadCOCO(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Labels{Version: 1, Images: []Image{
		{Path: filepath.Join(dir, "images", "c1-00000500.jpg"), Package: "coco:consentone", Width: 200, Height: 100, Objects: []Object{
			{Class: detect.Person, Label: "person", Box: jsonBox{X0: 0.1, Y0: 0.1, X1: 0.6, Y1: 0.6}},
			{Class: detect.Vehicle, Label: "vehicle", Box: jsonBox{X0: 0, Y0: 0, X1: 1, Y1: 1}, Crowd: true},
		}},
		{Path: filepath.Join(dir, "images", "c2.jpg"), Package: "coco:", Width: 10, Height: 10, Objects: []Object{}},
	}}
	if diff := cmp.Diff(want, l, cmp.AllowUnexported(jsonBox{})); diff != "" {
		t.Errorf("LoadCOCO (-want +got):\n%s", diff)
	}

	bad := map[string]COCO{
		"an unknown category":   {Images: []COCOImage{{ID: 1, FileName: "a.jpg", Width: 1, Height: 1}}, Categories: []COCOCategory{{1, "face"}}},
		"a path out of images/": {Images: []COCOImage{{ID: 1, FileName: "../a.jpg", Width: 1, Height: 1}}, Categories: cocoCats},
		"an unknown image":      {Images: []COCOImage{{ID: 1, FileName: "a.jpg", Width: 10, Height: 10}}, Annotations: []COCOAnnotation{{ID: 1, ImageID: 2, CategoryID: 1, BBox: [4]float64{0, 0, 1, 1}}}, Categories: cocoCats},
		"a box outside":         {Images: []COCOImage{{ID: 1, FileName: "a.jpg", Width: 10, Height: 10}}, Annotations: []COCOAnnotation{{ID: 1, ImageID: 1, CategoryID: 1, BBox: [4]float64{5, 5, 10, 10}}}, Categories: cocoCats},
		"no size":               {Images: []COCOImage{{ID: 1, FileName: "a.jpg"}}, Categories: cocoCats},
	}
	for name, c := range bad {
		d := t.TempDir()
		writeCOCO(t, d, c)
		if _, err := LoadCOCO(d); err == nil {
			t.Errorf("%s: loaded, want an error", name)
		}
	}
}

// TestEvalOnCOCO runs `porchlight-hub eval --coco DIR` with the real
// detector over a dataset laid out as `porchlight dataset export` writes
// it (darknet's dog.jpg labelled as in labels.json): the dog and the
// bicycle are found.
func TestEvalOnCOCO(t *testing.T) {
	openDetector(t) // fails with a hint when the model is missing
	src := "/usr/share/darknet/data/dog.jpg"
	img, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("%v (install the test images with `bash scripts/setup`)", err)
	}
	dir := t.TempDir()
	writeCOCO(t, dir, COCO{
		Images: []COCOImage{{ID: 1, FileName: "dog.jpg", Width: 768, Height: 576, ConsentID: "consentdog"}},
		Annotations: []COCOAnnotation{
			{ID: 1, ImageID: 1, CategoryID: 2, BBox: [4]float64{0.17 * 768, 0.385 * 576, 0.23 * 768, 0.55 * 576}, ConsentID: "consentdog"},
			{ID: 2, ImageID: 1, CategoryID: 3, BBox: [4]float64{0.165 * 768, 0.23 * 576, 0.575 * 768, 0.5 * 576}, ConsentID: "consentdog"},
		},
		Categories: cocoCats,
	})
	if err := os.WriteFile(filepath.Join(dir, "images", "dog.jpg"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Command(context.Background(), []string{"--coco", dir}, &out, &errb); code != 0 {
		t.Fatalf("eval --coco = %d: %s", code, errb.String())
	}
	l, err := LoadCOCO(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Images(openDetector(t), l)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images != 1 || res.Classes[detect.Animal].TP != 1 || res.Classes[detect.Vehicle].TP < 1 {
		t.Errorf("result = %d images, animal %+v, vehicle %+v; want the dog and the bicycle found", res.Images, *res.Classes[detect.Animal], *res.Classes[detect.Vehicle])
	}
	if !strings.Contains(out.String(), "Images ("+dir+")") || strings.Contains(out.String(), "Clips") {
		t.Errorf("output:\n%s", out.String())
	}
}
