package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
)

var (
	testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	paris   = time.FixedZone("CET", 3600)
)

var parseTimeTests = []struct {
	in   string
	want time.Time
	err  string
}{
	{"now", testNow, ""},
	{"NOW", testNow, ""},
	{" now ", testNow, ""},
	{"-5m", testNow.Add(-5 * time.Minute), ""},
	{"-1h30m", testNow.Add(-90 * time.Minute), ""},
	{"-90s", testNow.Add(-90 * time.Second), ""},
	{"-2d", testNow.Add(-48 * time.Hour), ""},
	{"-1d12h", testNow.Add(-36 * time.Hour), ""},
	{"-0s", testNow, ""},
	{"2026-11-23T11:00:00Z", time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC), ""},
	{"2026-11-23T11:00:00.250Z", time.Date(2026, 11, 23, 11, 0, 0, 250e6, time.UTC), ""},
	{"2026-11-23T13:00:00+01:00", time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), ""},
	{"2026-11-23 13:00:05", time.Date(2026, 11, 23, 12, 0, 5, 0, time.UTC), ""}, // local (CET)
	{"2026-11-23T13:00", time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), ""},
	{"", time.Time{}, "empty"},
	{"-", time.Time{}, "relative time"},
	{"-5", time.Time{}, "relative time"},
	{"5m", time.Time{}, "not a time"},
	{"--5m", time.Time{}, "relative time"},
	{"-+5m", time.Time{}, "relative time"},
	{"-5x", time.Time{}, "relative time"},
	{"-d", time.Time{}, "relative time"},
	{"-1d-5m", time.Time{}, "relative time"},
	{"-99999999d", time.Time{}, "day count"},
	{"-2000000h", time.Time{}, "days ago"},
	{"yesterday", time.Time{}, "not a time"},
	{"2026-13-01T00:00:00Z", time.Time{}, "not a time"},
	{"13:00", time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), ""}, // today, local (CET)
	{"13:00:05", time.Date(2026, 11, 23, 12, 0, 5, 0, time.UTC), ""},
	{"25:00", time.Time{}, "not a time"},
	{"12:0", time.Time{}, "not a time"},
}

func TestParseTime(t *testing.T) {
	for _, tt := range parseTimeTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTime(tt.in, testNow, paris)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseTime(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		from, to string
		def      time.Duration
		wantFrom time.Time
		wantTo   time.Time
		err      string
	}{
		{"", "", 24 * time.Hour, testNow.Add(-24 * time.Hour), testNow, ""},
		{"-1h", "", 0, testNow.Add(-time.Hour), testNow, ""},
		{"", "-1h", time.Hour, testNow.Add(-2 * time.Hour), testNow.Add(-time.Hour), ""},
		{"-1h", "-30m", 0, testNow.Add(-time.Hour), testNow.Add(-30 * time.Minute), ""},
		{"", "", 0, time.Time{}, time.Time{}, "--from is required"},
		{"now", "-1h", 0, time.Time{}, time.Time{}, "must be before"},
		{"now", "now", 0, time.Time{}, time.Time{}, "must be before"},
		{"bogus", "", 0, time.Time{}, time.Time{}, "--from"},
		{"-1h", "bogus", 0, time.Time{}, time.Time{}, "--to"},
	}
	for _, tt := range tests {
		t.Run(tt.from+"_"+tt.to, func(t *testing.T) {
			from, to, err := parseRange(tt.from, tt.to, testNow, time.UTC, tt.def)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseRange = %v, %v, %v; want an error containing %q", from, to, err, tt.err)
				}
				return
			}
			if err != nil || !from.Equal(tt.wantFrom) || !to.Equal(tt.wantTo) {
				t.Fatalf("parseRange = %v, %v, %v; want %v, %v", from, to, err, tt.wantFrom, tt.wantTo)
			}
		})
	}
}

func FuzzParseTime(f *testing.F) {
	for _, tt := range parseTimeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s, testNow, paris)
		if err != nil {
			return
		}
		trimmed := strings.TrimSpace(s)
		if strings.HasPrefix(trimmed, "-") && !got.After(testNow) && testNow.Sub(got) > maxAgo {
			t.Fatalf("parseTime(%q) = %v: further back than maxAgo", s, got)
		}
		if strings.HasPrefix(trimmed, "-") && got.After(testNow) {
			t.Fatalf("parseTime(%q) = %v: a relative time in the future", s, got)
		}
		// Whatever parses formats back to RFC 3339 and parses to the same instant.
		again, err := parseTime(got.Format(time.RFC3339Nano), testNow, paris)
		if err != nil || !again.Equal(got) {
			t.Fatalf("round trip of %q (%v): %v, %v", s, got, again, err)
		}
	})
}

func seg(seq uint64, start time.Time, d time.Duration) segRef {
	return segRef{ManifestObject: seal.ManifestObject{ID: seal.NewID(), Seq: seq, Start: start, DurationMS: d.Milliseconds()}}
}

func TestSpansAndGaps(t *testing.T) {
	t0 := testNow
	s := 4 * time.Second
	segs := []segRef{
		seg(1, t0, s),
		seg(2, t0.Add(4*time.Second), s),                         // contiguous
		seg(3, t0.Add(9*time.Second), s),                         // 1 s hole: joins
		seg(4, t0.Add(13*time.Second+1500*time.Millisecond), s),  // 1.5 s hole: joins
		seg(5, t0.Add(30*time.Second), s),                        // 11.5 s hole: new range
		seg(6, t0.Add(34*time.Second-200*time.Millisecond), 2*s), // slight overlap: joins
	}
	got := spans(segs)
	want := []span{
		{t0, t0.Add(18*time.Second + 500*time.Millisecond), 4},
		{t0.Add(30 * time.Second), t0.Add(41*time.Second + 800*time.Millisecond), 2},
	}
	if len(got) != len(want) {
		t.Fatalf("spans = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) || got[i].Segments != want[i].Segments {
			t.Errorf("span %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if spans(nil) != nil {
		t.Error("spans(nil) is not empty")
	}

	gs := gaps(got, t0.Add(-10*time.Second), t0.Add(time.Minute))
	wantGaps := []gap{
		{t0.Add(-10 * time.Second), t0},
		{t0.Add(18*time.Second + 500*time.Millisecond), t0.Add(30 * time.Second)},
		{t0.Add(41*time.Second + 800*time.Millisecond), t0.Add(time.Minute)},
	}
	if len(gs) != len(wantGaps) {
		t.Fatalf("gaps = %+v, want %+v", gs, wantGaps)
	}
	for i := range wantGaps {
		if !gs[i].Start.Equal(wantGaps[i].Start) || !gs[i].End.Equal(wantGaps[i].End) {
			t.Errorf("gap %d = %+v, want %+v", i, gs[i], wantGaps[i])
		}
	}
	// A range starting inside the first segment has no leading gap.
	if gs := gaps(got, t0.Add(time.Second), t0.Add(17*time.Second)); len(gs) != 0 {
		t.Errorf("gaps inside a recorded range: %+v", gs)
	}
}

func TestFormat(t *testing.T) {
	a := time.Date(2026, 11, 23, 12, 0, 1, 400e6, time.UTC)
	if got, want := formatSpan(a, a.Add(4*time.Minute+36*time.Second), time.UTC), "2026-11-23 12:00:01 → 12:04:37"; got != want {
		t.Errorf("formatSpan = %q, want %q", got, want)
	}
	late := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	if got, want := formatSpan(late, late.Add(2*time.Minute), time.UTC), "2026-11-23 23:59:00 → 2026-11-24 00:01:00"; got != want {
		t.Errorf("formatSpan over midnight = %q, want %q", got, want)
	}
	if got, want := formatGap(a, a.Add(11*time.Second), time.UTC), "12:00:01–12:00:12"; got != want {
		t.Errorf("formatGap = %q, want %q", got, want)
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12_345_678: "12.3 MB", 3 << 30: "3.2 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatDuration(4*time.Minute + 36*time.Second + 400*time.Millisecond); got != "4m36s" {
		t.Errorf("formatDuration = %q", got)
	}
}
