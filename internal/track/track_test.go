package track

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/motion"
)

var t0 = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)

const step = 200 * time.Millisecond // 5 fps

func box(cx, cy, w, h float32) detect.Box {
	return detect.Box{X0: cx - w/2, Y0: cy - h/2, X1: cx + w/2, Y1: cy + h/2}
}

func det(c detect.Class, label string, score float32, b detect.Box) detect.Detection {
	return detect.Detection{Class: c, Label: label, Score: score, Box: b}
}

// poly makes a polygon from x, y pairs.
func poly(xy ...float32) motion.Polygon {
	var p motion.Polygon
	for i := 0; i+1 < len(xy); i += 2 {
		p = append(p, motion.Point{X: xy[i], Y: xy[i+1]})
	}
	return p
}

// jitter moves a box by up to ±amp in each coordinate, as a detector does
// from frame to frame on a still object.
func jitter(rng *rand.Rand, b detect.Box, amp float32) detect.Box {
	j := func() float32 { return (rng.Float32()*2 - 1) * amp }
	return detect.Box{X0: b.X0 + j(), Y0: b.Y0 + j(), X1: b.X1 + j(), Y1: b.Y1 + j()}
}

// run feeds frames produced by gen for n steps and collects every alert and
// the tracks of the last frame.
func run(tr *Tracker, n int, gen func(i int) []detect.Detection) (last []Track, alerts []Alert) {
	for i := range n {
		var a []Alert
		last, a = tr.Update(t0.Add(time.Duration(i)*step), gen(i))
		alerts = append(alerts, a...)
	}
	return last, alerts
}

func TestParkedCarNeverMoves(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	car := box(0.3, 0.15, 0.12, 0.07)
	van := box(0.6, 0.12, 0.1, 0.08)
	tr := New(Config{})
	// Ten minutes at 5 fps, with jitter of ±0.01 (about 10 % of the car's
	// size) and the detector missing one frame in five.
	last, alerts := run(tr, 3000, func(i int) []detect.Detection {
		if i%5 == 4 {
			return nil
		}
		return []detect.Detection{
			det(detect.Vehicle, "car", 0.5+0.3*rng.Float32(), jitter(rng, car, 0.01)),
			det(detect.Vehicle, "truck", 0.45+0.2*rng.Float32(), jitter(rng, van, 0.01)),
		}
	})
	if len(alerts) != 0 {
		t.Errorf("parked vehicles raised %d alerts: %+v", len(alerts), alerts[0].Track)
	}
	if len(last) != 2 {
		t.Fatalf("got %d tracks for two parked vehicles, want 2", len(last))
	}
	for _, tk := range last {
		if tk.Moving {
			t.Errorf("parked %s (track %d) is moving", tk.Label, tk.ID)
		}
		if tk.ID > 2 {
			t.Errorf("parked vehicle got track id %d: it was split into several tracks", tk.ID)
		}
	}
}

func TestWalkingPersonIsOneAlert(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	car := box(0.3, 0.15, 0.12, 0.07)
	tr := New(Config{})
	// A person crosses the frame in 8 s, missed in one frame in four,
	// called "dog" now and then, while a car stays parked.
	var alerts []Alert
	var last []Track
	for i := range 40 {
		now := t0.Add(time.Duration(i) * step)
		dets := []detect.Detection{det(detect.Vehicle, "car", 0.7, jitter(rng, car, 0.005))}
		if i%4 != 3 {
			p := det(detect.Person, "person", 0.8, jitter(rng, box(0.05+0.022*float32(i), 0.6, 0.06, 0.2), 0.005))
			if i%7 == 5 {
				p.Class, p.Label, p.Score = detect.Animal, "dog", 0.45
			}
			dets = append(dets, p)
		}
		var a []Alert
		last, a = tr.Update(now, dets)
		alerts = append(alerts, a...)
	}
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want exactly 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	if a.Track.Class != detect.Person || a.Track.Label != "person" {
		t.Errorf("alert for %s/%s, want person/person", a.Track.Class, a.Track.Label)
	}
	if !a.Start.Equal(t0) {
		t.Errorf("alert starts at %v, want the first sighting %v", a.Start, t0)
	}
	if len(a.Track.Path) < 3 || a.Track.Score != 0.8 {
		t.Errorf("alert track has %d boxes and score %v, want ≥3 boxes and the best person score 0.8", len(a.Track.Path), a.Track.Score)
	}
	persons := 0
	for _, tk := range last {
		if tk.Class == detect.Person {
			persons++
			if !tk.Moving || tk.ID != a.Track.ID {
				t.Errorf("person track %+v: want the alert's track %d, moving", tk, a.Track.ID)
			}
			// 30 detections, 4 of them called "dog": all on one track.
			if len(tk.Path) != 30 {
				t.Errorf("person track has %d boxes, want all 30 of the walk", len(tk.Path))
			}
			if tk.ID != 2 {
				t.Errorf("person track has id %d, want 2 (the car is 1): the walk was split", tk.ID)
			}
		}
	}
	if persons != 1 {
		t.Errorf("got %d person tracks, want 1", persons)
	}
}

// walk is a person crossing the frame left to right at height y in 6 s.
func walk(y float32) func(i int) []detect.Detection {
	return func(i int) []detect.Detection {
		return []detect.Detection{det(detect.Person, "person", 0.8, box(0.1+0.027*float32(i), y, 0.05, 0.15))}
	}
}

func TestZones(t *testing.T) {
	// The porch is the bottom half of the frame.
	porch := poly(0, 0.5, 1, 0.5, 1, 1, 0, 1)
	street := poly(0, 0, 1, 0, 1, 0.5, 0, 0.5)
	for _, tc := range []struct {
		name     string
		zones    []Zone
		y        float32 // the walker's centre; feet are 0.075 lower
		want     int
		wantZone string
	}{
		{"no zones: whole frame", nil, 0.3, 1, ""},
		{"in the porch", []Zone{{Name: "porch", Polygon: porch}}, 0.7, 1, "porch"},
		{"outside the porch", []Zone{{Name: "porch", Polygon: porch}}, 0.3, 0, ""},
		// Feet at 0.525 are on the porch although the centre is not.
		{"standing on the porch edge", []Zone{{Name: "porch", Polygon: porch}}, 0.45, 1, "porch"},
		{"porch for animals only", []Zone{{Name: "porch", Polygon: porch, Classes: []detect.Class{detect.Animal}}}, 0.7, 0, "porch"},
		{"street for vehicles, porch for people", []Zone{
			{Name: "street", Polygon: street, Classes: []detect.Class{detect.Vehicle}},
			{Name: "porch", Polygon: porch, Classes: []detect.Class{detect.Person}},
		}, 0.7, 1, "porch"},
		{"person in the vehicle-only street", []Zone{
			{Name: "street", Polygon: street, Classes: []detect.Class{detect.Vehicle}},
			{Name: "porch", Polygon: porch, Classes: []detect.Class{detect.Person}},
		}, 0.3, 0, "street"},
		{"whole-frame zone", []Zone{{Name: "all"}}, 0.3, 1, "all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last, alerts := run(New(Config{Zones: tc.zones}), 30, walk(tc.y))
			if len(alerts) != tc.want {
				t.Fatalf("got %d alerts, want %d", len(alerts), tc.want)
			}
			if len(alerts) == 1 && alerts[0].Track.Zone != tc.wantZone {
				t.Errorf("alert in zone %q, want %q", alerts[0].Track.Zone, tc.wantZone)
			}
			if len(last) != 1 || last[0].Zone != tc.wantZone {
				t.Errorf("tracks %+v, want one in zone %q", last, tc.wantZone)
			}
		})
	}
}

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  int
	}{
		{"no rules", nil, 1},
		{"score below the person minimum", []Rule{{Class: detect.Person, MinScore: 0.9}}, 0},
		{"score above the person minimum", []Rule{{Class: detect.Person, MinScore: 0.7}}, 1},
		// The walker's box is 0.05×0.15 = 0.0075 of the frame.
		{"too small", []Rule{{Class: detect.Person, MinArea: 0.01}}, 0},
		{"big enough", []Rule{{Class: detect.Person, MinArea: 0.005}}, 1},
		{"rule for another class", []Rule{{Class: detect.Vehicle, MinScore: 0.99, MinArea: 0.5}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last, alerts := run(New(Config{Rules: tc.rules}), 30, walk(0.5))
			if len(alerts) != tc.want {
				t.Fatalf("got %d alerts, want %d", len(alerts), tc.want)
			}
			if tc.want == 0 && len(last) != 0 {
				t.Errorf("filtered detections still made tracks: %+v", last)
			}
		})
	}
}

func TestLostTrackThenNewObject(t *testing.T) {
	tr := New(Config{})
	var alerts []Alert
	var ids []int
	feed := func(i int, dets []detect.Detection) {
		tracks, a := tr.Update(t0.Add(time.Duration(i)*step), dets)
		alerts = append(alerts, a...)
		for _, tk := range tracks {
			if len(ids) == 0 || ids[len(ids)-1] != tk.ID {
				ids = append(ids, tk.ID)
			}
		}
	}
	w := walk(0.5)
	for i := range 15 { // a person walks for 3 s ...
		feed(i, w(i))
	}
	for i := 15; i < 40; i++ { // ... is gone for 5 s (the detector ran, saw nothing) ...
		feed(i, nil)
	}
	if tracks, _ := tr.Update(t0.Add(40*step), nil); len(tracks) != 0 {
		t.Errorf("track still alive after 5 s without detections: %+v", tracks)
	}
	for i := 41; i < 71; i++ { // ... and someone walks the same path.
		feed(i, w(i-41))
	}
	if diff := cmp.Diff([]int{1, 2}, ids); diff != "" {
		t.Errorf("track ids (-want +got):\n%s", diff)
	}
	if len(alerts) != 2 || alerts[0].Track.ID == alerts[1].Track.ID {
		t.Errorf("got alerts %+v, want one for each of two tracks", alerts)
	}
}

func TestShortGapKeepsTrack(t *testing.T) {
	tr := New(Config{})
	w := walk(0.5)
	var alerts []Alert
	for i := range 30 {
		var dets []detect.Detection
		if i < 10 || i >= 16 { // the detector misses 1.2 s in the middle
			dets = w(i)
		}
		tracks, a := tr.Update(t0.Add(time.Duration(i)*step), dets)
		alerts = append(alerts, a...)
		if len(tracks) != 1 || tracks[0].ID != 1 {
			t.Fatalf("frame %d: tracks %+v, want track 1 throughout", i, tracks)
		}
	}
	if len(alerts) != 1 {
		t.Errorf("got %d alerts, want 1", len(alerts))
	}
}

func TestTwoPeopleTwoAlerts(t *testing.T) {
	// Two people walk towards each other on different paths and cross.
	_, alerts := run(New(Config{}), 30, func(i int) []detect.Detection {
		x := 0.027 * float32(i)
		return []detect.Detection{
			det(detect.Person, "person", 0.8, box(0.1+x, 0.4, 0.05, 0.15)),
			det(detect.Person, "person", 0.7, box(0.9-x, 0.7, 0.05, 0.15)),
		}
	})
	if len(alerts) != 2 || alerts[0].Track.ID == alerts[1].Track.ID {
		t.Fatalf("got alerts %+v, want two, on different tracks", alerts)
	}
}

func TestScatteredFalseDetectionsNeverAlert(t *testing.T) {
	// False detections in one frame of three, each at a random place:
	// 100 runs of 20 s.
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 6))
		_, alerts := run(New(Config{}), 100, func(int) []detect.Detection {
			if rng.IntN(3) != 0 {
				return nil
			}
			return []detect.Detection{det(detect.Animal, "cat", 0.5, box(0.1+0.8*rng.Float32(), 0.1+0.8*rng.Float32(), 0.05, 0.05))}
		})
		if len(alerts) != 0 {
			t.Fatalf("seed %d: scattered one-frame detections raised %d alerts: %+v", seed, len(alerts), alerts[0].Track)
		}
	}
}

func TestBlipNeverAlerts(t *testing.T) {
	// Something is detected in two frames, far apart enough to look like
	// movement, and never again: too few sightings to be real.
	_, alerts := run(New(Config{}), 20, func(i int) []detect.Detection {
		if i == 5 || i == 6 {
			return []detect.Detection{det(detect.Person, "person", 0.9, box(0.3+0.04*float32(i-5), 0.5, 0.06, 0.2))}
		}
		return nil
	})
	if len(alerts) != 0 {
		t.Errorf("a two-frame blip raised an alert: %+v", alerts[0].Track)
	}
}

func TestSparseSightings(t *testing.T) {
	// A person walks slowly for 12 s; the detector finds them in one
	// frame of every n.
	for _, tc := range []struct {
		every, want int
	}{{1, 1}, {2, 1}, {3, 1}, {4, 0}, {6, 0}} {
		_, alerts := run(New(Config{}), 60, func(i int) []detect.Detection {
			if i%tc.every != 0 {
				return nil
			}
			return []detect.Detection{det(detect.Person, "person", 0.8, box(0.2+0.008*float32(i), 0.5, 0.06, 0.2))}
		})
		if len(alerts) != tc.want {
			t.Errorf("seen in 1 frame of %d: got %d alerts, want %d", tc.every, len(alerts), tc.want)
		}
	}
}

func TestCarDrivesIn(t *testing.T) {
	// A car drives in over 3 s and parks: one alert, then nothing more
	// however long it stays.
	rng := rand.New(rand.NewPCG(7, 8))
	_, alerts := run(New(Config{}), 1000, func(i int) []detect.Detection {
		x := 0.1 + 0.03*float32(min(i, 15))
		return []detect.Detection{det(detect.Vehicle, "car", 0.7, jitter(rng, box(x, 0.6, 0.15, 0.08), 0.005))}
	})
	if len(alerts) != 1 || alerts[0].Track.Class != detect.Vehicle {
		t.Fatalf("got alerts %+v, want one vehicle alert", alerts)
	}
}

// TestStartScore: detections below StartScore never start a track, but
// continue one that exists, so a person the detector is less sure of for a
// while stays one track and still alerts (their mean score staying above
// AlertMean).
func TestStartScore(t *testing.T) {
	tr := New(Config{StartScore: 0.4})
	last, alerts := run(tr, 20, func(i int) []detect.Detection {
		return []detect.Detection{det(detect.Person, "person", 0.3, box(0.2+0.02*float32(i), 0.5, 0.1, 0.3))}
	})
	if len(last) != 0 || len(alerts) != 0 {
		t.Fatalf("low-score detections alone: %d tracks, %d alerts, want none", len(last), len(alerts))
	}
	tr = New(Config{StartScore: 0.4})
	last, alerts = run(tr, 20, func(i int) []detect.Detection {
		score := float32(0.38)
		if i == 0 {
			score = 0.8
		}
		return []detect.Detection{det(detect.Person, "person", score, box(0.2+0.02*float32(i), 0.5, 0.1, 0.3))}
	})
	if len(last) != 1 || len(last[0].Path) != 20 {
		t.Fatalf("one sure detection then low ones: tracks %+v, want one of 20 sightings", last)
	}
	if len(alerts) != 1 || !last[0].Alerted {
		t.Errorf("got %d alerts (Alerted %v), want 1", len(alerts), last[0].Alerted)
	}
}

// TestAlertMean: a track the detector is mostly unsure of (a swaying tree
// taken for a person at 0.3 to 0.45, once at 0.5) follows along and moves
// but does not alert; the same path detected at 0.5 to 0.6 does.
func TestAlertMean(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float32
		want   int
	}{{0.3, 0.5, 0}, {0.5, 0.6, 1}} {
		rng := rand.New(rand.NewPCG(5, 6))
		_, alerts := run(New(Config{StartScore: 0.25}), 30, func(i int) []detect.Detection {
			score := tc.lo + (tc.hi-tc.lo)*rng.Float32()
			if i == 10 {
				score = tc.hi
			}
			return []detect.Detection{det(detect.Person, "person", score, box(0.2+0.02*float32(i), 0.5, 0.1, 0.3))}
		})
		if len(alerts) != tc.want {
			t.Errorf("scores %.2f to %.2f: %d alerts, want %d", tc.lo, tc.hi, len(alerts), tc.want)
		}
	}
}

// TestStirringAlertsWithoutMoving: someone standing at the door, with motion
// over them, alerts once confirmed, without walking first; the same person
// without motion (a poster), a doubtful detection (score below StirScore)
// and a parked car with people passing in front of it do not.
func TestStirringAlertsWithoutMoving(t *testing.T) {
	person := box(0.5, 0.6, 0.12, 0.4)
	car := box(0.3, 0.3, 0.2, 0.1)
	onPerson := []detect.Box{box(0.5, 0.5, 0.08, 0.1)} // arms and head: a fifth of the box
	for _, tc := range []struct {
		name   string
		d      detect.Detection
		motion []detect.Box
		cfg    Config
		alerts int
		at     int // frame of the alert
	}{
		{"standing person, stirring", det(detect.Person, "person", 0.8, person), onPerson, Config{}, 1, 2},
		{"standing dog, stirring", det(detect.Animal, "dog", 0.7, person), onPerson, Config{}, 1, 2},
		{"poster: no motion on it", det(detect.Person, "person", 0.8, person), nil, Config{}, 0, 0},
		{"motion elsewhere", det(detect.Person, "person", 0.8, person), []detect.Box{box(0.1, 0.1, 0.1, 0.1)}, Config{}, 0, 0},
		{"doubtful person", det(detect.Person, "person", 0.5, person), onPerson, Config{}, 0, 0},
		{"parked car, people passing in front", det(detect.Vehicle, "car", 0.9, car), []detect.Box{car}, Config{}, 0, 0},
		{"turned off", det(detect.Person, "person", 0.8, person), onPerson, Config{Stirring: []detect.Class{}}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.cfg)
			var alerts []Alert
			at := -1
			for i := range 50 {
				_, a := tr.UpdateWithMotion(t0.Add(time.Duration(i)*step), []detect.Detection{tc.d}, tc.motion)
				if len(a) > 0 && at < 0 {
					at = i
				}
				alerts = append(alerts, a...)
			}
			if len(alerts) != tc.alerts {
				t.Fatalf("%d alerts, want %d", len(alerts), tc.alerts)
			}
			if tc.alerts > 0 && at != tc.at {
				t.Errorf("alert at frame %d, want %d (the third sighting)", at, tc.at)
			}
		})
	}
}

// TestAlertScore: a walking track the detector was never more than half
// sure of follows along but does not alert; at 0.55 it does.
func TestAlertScore(t *testing.T) {
	for _, tc := range []struct {
		score  float32
		alerts int
	}{{0.45, 0}, {0.55, 1}} {
		tr := New(Config{})
		_, alerts := run(tr, 40, func(i int) []detect.Detection {
			return []detect.Detection{det(detect.Person, "person", tc.score, box(0.1+0.02*float32(i), 0.6, 0.08, 0.3))}
		})
		if len(alerts) != tc.alerts {
			t.Errorf("score %.2f: %d alerts, want %d", tc.score, len(alerts), tc.alerts)
		}
	}
}

func TestTentativeTrackDoesNotLinger(t *testing.T) {
	// One person is seen once, then walks off faster than the overlap
	// test follows; 1.8 s later someone else walks through that spot. The
	// second person's alert must start at their own first sighting, not
	// at the stale one-sighting track's.
	tr := New(Config{})
	spot := box(0.9, 0.45, 0.04, 0.15)
	var alerts []Alert
	for i := range 20 {
		var dets []detect.Detection
		switch {
		case i == 0:
			dets = append(dets, det(detect.Person, "person", 0.7, spot))
		case i >= 9:
			x := 0.9 - 0.02*float32(i-9) // the second person, first seen on the spot
			dets = append(dets, det(detect.Person, "person", 0.8, box(x, 0.46, 0.045, 0.15)))
		}
		_, a := tr.Update(t0.Add(time.Duration(i)*step), dets)
		alerts = append(alerts, a...)
	}
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	if got, want := alerts[0].Start, t0.Add(9*step); !got.Equal(want) {
		t.Errorf("alert starts %v after the first sighting, want %v: a one-sighting track lingered", got.Sub(t0), want.Sub(t0))
	}

	// A small person the detector finds in every third frame still
	// builds a track: the limit is on gaps longer than that.
	_, alerts = run(New(Config{}), 30, func(i int) []detect.Detection {
		if i%3 != 0 {
			return nil
		}
		return []detect.Detection{det(detect.Person, "person", 0.8, box(0.2+0.004*float32(i), 0.5, 0.03, 0.1))}
	})
	if len(alerts) != 1 || alerts[0].Start != t0 {
		t.Errorf("sparse sightings: got alerts %+v, want one starting at the first sighting", alerts)
	}
}

func TestOnsetIgnoresJitter(t *testing.T) {
	// A distant person, a box 1.5 % of the frame across, stands for 3 s
	// while the detector's box wanders by a pixel or so (of 640), then
	// walks.
	tr := New(Config{})
	var alerts []Alert
	for i := range 30 {
		cx := float32(0.3)
		if i >= 15 {
			cx += 0.006 * float32(i-14)
		}
		if i%2 == 0 { // the box's centre swings ±0.002, over a tenth of its size
			cx += 0.002
		} else {
			cx -= 0.002
		}
		_, a := tr.Update(t0.Add(time.Duration(i)*step), []detect.Detection{det(detect.Person, "person", 0.8, box(cx, 0.4, 0.015, 0.03))})
		alerts = append(alerts, a...)
	}
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	if got, want := alerts[0].Track.Onset(), t0.Add(14*step); got.Before(want.Add(-step)) || got.After(want.Add(step)) {
		t.Errorf("onset %v after the first sighting, want %v (setting off), give or take a frame", got.Sub(t0), want.Sub(t0))
	}
}
