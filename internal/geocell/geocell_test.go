package geocell

import (
	"math"
	"slices"
	"testing"
)

// Vectors from the published geohash definition (geohash.org): the first
// six characters of well-known points.
func TestCellVectors(t *testing.T) {
	for _, tc := range []struct {
		lat, lon float64
		want     string
	}{
		{57.64911, 10.40744, "u4pruy"}, // geohash.org's example, u4pruydqqvj
		{42.605, -5.603, "ezs42s"},     // Wikipedia's example ezs42, one character finer
		{-25.382708, -49.265506, "6gkzwg"},
		{0, 0, "s00000"},
		{-90, -180, "000000"},
		{90, 180 - 1e-9, "zzzzzz"},
	} {
		if got := Cell(tc.lat, tc.lon); got != tc.want {
			t.Errorf("Cell(%g, %g) = %q, want %q", tc.lat, tc.lon, got, tc.want)
		}
		if !Valid(tc.want) {
			t.Errorf("Valid(%q) = false", tc.want)
		}
		minLat, minLon, maxLat, maxLon, err := Bounds(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if tc.lat < minLat || tc.lat > maxLat || tc.lon < minLon || tc.lon > maxLon {
			t.Errorf("Bounds(%q) = %g,%g..%g,%g, not containing %g,%g", tc.want, minLat, minLon, maxLat, maxLon, tc.lat, tc.lon)
		}
	}
}

// TestCellIsCoarse: a cell is about a neighbourhood: larger than 1 km
// east-west and 0.5 km north-south at mid latitudes, so a house is never
// pinned.
func TestCellIsCoarse(t *testing.T) {
	minLat, minLon, maxLat, maxLon, err := Bounds(Cell(48.1371, 11.5754))
	if err != nil {
		t.Fatal(err)
	}
	ns := (maxLat - minLat) * 111.2
	ew := (maxLon - minLon) * 111.2 * math.Cos(48.1371*math.Pi/180)
	if ns < 0.5 || ew < 0.7 {
		t.Errorf("cell is %.2f km × %.2f km, finer than a neighbourhood", ew, ns)
	}
}

func TestValid(t *testing.T) {
	for _, s := range []string{"u4pruy", "000000", "zzzzzz"} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false", s)
		}
	}
	for _, s := range []string{"", "u4pru", "u4pruyd", "u4pruydqqvj", "U4PRUY", "u4prua", "u4prui", "u4prul", "u4pruo",
		"48.137", "48.137,11.575", "u4pr y", "u4pruÿ"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := Check(48.1, 11.5); err != nil {
		t.Errorf("Check(48.1, 11.5) = %v", err)
	}
	for _, c := range [][2]float64{{91, 0}, {0, 181}, {math.NaN(), 0}, {0, math.Inf(1)}} {
		if Check(c[0], c[1]) == nil {
			t.Errorf("Check(%g, %g) = nil", c[0], c[1])
		}
	}
}

func TestNear(t *testing.T) {
	c := Cell(48.1371, 11.5754)
	if got := Near(c, 0); !slices.Equal(got, []string{c}) {
		t.Errorf("Near(%q, 0) = %v", c, got)
	}
	for r, want := range map[int]int{1: 9, 2: 25, MaxRadius: 121, 99: 121} {
		got := Near(c, r)
		if len(got) != want || got[0] != c {
			t.Errorf("Near(%q, %d): %d cells starting %v, want %d starting with the cell", c, r, len(got), got[:1], want)
		}
		for _, n := range got {
			if !Valid(n) {
				t.Errorf("Near returned %q", n)
			}
		}
	}
	// Every neighbour of ring 1 touches the cell.
	minLat, minLon, maxLat, maxLon, _ := Bounds(c)
	for _, n := range Near(c, 1)[1:] {
		a, b, cc, d, _ := Bounds(n)
		if a > maxLat+1e-9 || cc < minLat-1e-9 || b > maxLon+1e-9 || d < minLon-1e-9 {
			t.Errorf("ring-1 neighbour %s does not touch %s", n, c)
		}
	}
	// Across the antimeridian and at a pole.
	east := Cell(0, 179.999)
	if got := Near(east, 1); !slices.Contains(got, Cell(0, -179.999)) {
		t.Errorf("Near(%s, 1) = %v lacks the cell across the antimeridian", east, got)
	}
	if got := Near(Cell(90, 0), 1); len(got) != 6 {
		t.Errorf("Near at the north pole = %d cells, want 6", len(got))
	}
	if Near("u4pruyd", 1) != nil || Near("nope", 0) != nil {
		t.Error("Near of an invalid cell is not nil")
	}
}

func FuzzCell(f *testing.F) {
	f.Add(57.64911, 10.40744)
	f.Add(-90.0, 180.0)
	f.Add(math.NaN(), math.Inf(-1))
	f.Fuzz(func(t *testing.T, lat, lon float64) {
		c := Cell(lat, lon)
		if !Valid(c) {
			t.Fatalf("Cell(%g, %g) = %q, not valid", lat, lon, c)
		}
		if Check(lat, lon) == nil {
			minLat, minLon, maxLat, maxLon, err := Bounds(c)
			if err != nil || lat < minLat || lat > maxLat || (lon < minLon || lon > maxLon) && lon != 180 {
				t.Fatalf("Cell(%g, %g) = %q with bounds %g,%g..%g,%g", lat, lon, c, minLat, minLon, maxLat, maxLon)
			}
		}
	})
}
