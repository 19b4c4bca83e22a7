package eval

import (
	"testing"

	"github.com/porchlight/porchlight/internal/detect"
)

// TestScore pins the matching rules: IoU ≥ 0.5 and the same class is a
// hit, each label matches once, difficult labels and crowd regions count
// neither way, and detections on a negative image are false alerts.
func TestScore(t *testing.T) {
	dog := Object{Class: detect.Animal, Label: "dog", Box: jsonBox{0.1, 0.1, 0.5, 0.5}}
	tiny := Object{Class: detect.Person, Label: "person", Box: jsonBox{0.8, 0.8, 0.82, 0.84}, Difficult: true}
	crowd := Object{Class: detect.Person, Box: jsonBox{0, 0.6, 0.5, 1}, Crowd: true}
	det := func(c detect.Class, s float32, b detect.Box) detect.Detection {
		return detect.Detection{Class: c, Score: s, Box: b}
	}
	tests := []struct {
		name string
		objs []Object
		dets []detect.Detection
		want map[detect.Class]ClassScore
	}{
		{"hit", []Object{dog}, []detect.Detection{det(detect.Animal, 0.9, detect.Box{X0: 0.12, Y0: 0.1, X1: 0.5, Y1: 0.52})},
			map[detect.Class]ClassScore{detect.Animal: {TP: 1}}},
		{"wrong class is a miss and a false positive", []Object{dog}, []detect.Detection{det(detect.Person, 0.9, detect.Box{X0: 0.1, Y0: 0.1, X1: 0.5, Y1: 0.5})},
			map[detect.Class]ClassScore{detect.Animal: {FN: 1}, detect.Person: {FP: 1}}},
		{"low overlap", []Object{dog}, []detect.Detection{det(detect.Animal, 0.9, detect.Box{X0: 0.4, Y0: 0.4, X1: 0.9, Y1: 0.9})},
			map[detect.Class]ClassScore{detect.Animal: {FP: 1, FN: 1}}},
		{"duplicate detection", []Object{dog}, []detect.Detection{det(detect.Animal, 0.9, dog.Box.box()), det(detect.Animal, 0.8, dog.Box.box())},
			map[detect.Class]ClassScore{detect.Animal: {TP: 1, FP: 1}}},
		{"difficult: neither", []Object{tiny}, []detect.Detection{det(detect.Person, 0.5, tiny.Box.box())}, map[detect.Class]ClassScore{}},
		{"difficult missed: no miss", []Object{tiny}, nil, map[detect.Class]ClassScore{}},
		{"difficult, loose box: neither", []Object{tiny}, []detect.Detection{det(detect.Person, 0.5, detect.Box{X0: 0.805, Y0: 0.79, X1: 0.83, Y1: 0.85})}, map[detect.Class]ClassScore{}},
		{"crowd: ignored", []Object{crowd}, []detect.Detection{det(detect.Person, 0.7, detect.Box{X0: 0.1, Y0: 0.7, X1: 0.15, Y1: 0.8})}, map[detect.Class]ClassScore{}},
		{"negative image", nil, []detect.Detection{det(detect.Vehicle, 0.6, detect.Box{X0: 0, Y0: 0, X1: 1, Y1: 1})},
			map[detect.Class]ClassScore{detect.Vehicle: {FP: 1, FalseAlerts: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &ImageResult{Classes: map[detect.Class]*ClassScore{}}
			for _, c := range Classes {
				res.Classes[c] = &ClassScore{}
			}
			score(res, Image{Objects: tc.objs}, tc.dets)
			for _, c := range Classes {
				if got := *res.Classes[c]; got != tc.want[c] {
					t.Errorf("%s: %+v, want %+v", c, got, tc.want[c])
				}
			}
		})
	}
}
