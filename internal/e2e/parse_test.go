package e2e

import (
	"regexp"
	"strings"
	"time"
)

// rangeRE matches a range line of `porchlight recordings` (run with TZ=UTC):
//
//	2026-11-23 12:00:01 → 12:04:37  4m36s  (69 segments)
var rangeRE = regexp.MustCompile(`(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) → (?:(\d{4}-\d{2}-\d{2}) )?(\d{2}:\d{2}:\d{2})`)

type span struct{ from, to time.Time }

func parseRanges(out string) []span {
	var spans []span
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(l), "gap") {
			continue
		}
		m := rangeRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		from, err1 := time.Parse(time.DateTime, m[1]+" "+m[2])
		day := m[3]
		if day == "" {
			day = m[1]
		}
		to, err2 := time.Parse(time.DateTime, day+" "+m[4])
		if err1 != nil || err2 != nil {
			continue
		}
		if to.Before(from) {
			to = to.Add(24 * time.Hour)
		}
		spans = append(spans, span{from, to})
	}
	return spans
}

// recordedSeconds sums the ranges' lengths.
func recordedSeconds(out string) float64 {
	var s float64
	for _, sp := range parseRanges(out) {
		s += sp.to.Sub(sp.from).Seconds()
	}
	return s
}

// lastRangeEnd is the end of the last range.
func lastRangeEnd(out string) (time.Time, bool) {
	r := parseRanges(out)
	if len(r) == 0 {
		return time.Time{}, false
	}
	return r[len(r)-1].to, true
}
