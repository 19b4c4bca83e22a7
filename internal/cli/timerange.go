package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeSyntax is what the time flags accept, for error messages.
const timeSyntax = `RFC 3339 (2026-11-23T12:00:00Z, 2026-11-23T13:00:00+01:00), a local date and time (2026-11-23 12:00[:05]), a time today (12:00[:05]), a relative time (-5m, -1h30m, -2d) or "now"`

// timeHelp is timeSyntax for -h.
const timeHelp = `T is RFC 3339 (2026-11-23T12:00:00Z, 2026-11-23T13:00:00+01:00), a local
date and time (2026-11-23 12:00[:05], in $TZ), a time today (12:00[:05]), a
relative time (-5m, -1h30m, -2d) or "now".`

// maxAgo bounds relative times (about a century), far from overflow.
const maxAgo = 36500 * 24 * time.Hour

// parseTime parses a time flag relative to now; local forms are in loc.
//
//	now                      now
//	-5m, -1h30m, -90s, -2d   that long before now (d is 24 h; Go duration units otherwise)
//	2026-11-23T12:00:00Z     RFC 3339, fractional seconds allowed
//	2026-11-23 12:00:05      in loc; also with T, and without seconds
//	12:00, 12:00:05          that time of today (in loc)
func parseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, errors.New("empty time")
	case strings.EqualFold(s, "now"):
		return now, nil
	case s[0] == '-':
		d, err := parseAgo(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %v", s, err)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			y, m, d := now.In(loc).Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want %s", s, timeSyntax)
}

// parseAgo parses a positive duration with an optional leading day count:
// "5m", "1h30m", "2d", "1d12h".
func parseAgo(s string) (time.Duration, error) {
	var d time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 || days > int(maxAgo/(24*time.Hour)) {
			return 0, fmt.Errorf("bad day count: want a relative time like -5m, -1h30m or -2d")
		}
		d = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return d, nil
		}
	}
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("want a relative time like -5m, -1h30m or -2d")
	}
	rest, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a relative time like -5m, -1h30m or -2d")
	}
	d += rest
	if d > maxAgo {
		return 0, fmt.Errorf("more than %d days ago", int(maxAgo/(24*time.Hour)))
	}
	return d, nil
}

// parseRange parses --from and --to. An empty from is def before to; an
// empty to is now. from must be before to.
func parseRange(fromS, toS string, now time.Time, loc *time.Location, def time.Duration) (from, to time.Time, err error) {
	to = now
	if toS != "" {
		if to, err = parseTime(toS, now, loc); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--to %v", err)
		}
	}
	if fromS == "" {
		if def <= 0 {
			return time.Time{}, time.Time{}, errors.New("--from is required")
		}
		from = to.Add(-def)
	} else if from, err = parseTime(fromS, now, loc); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %v", err)
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, fmt.Errorf("--from (%s) must be before --to (%s)", from.In(loc).Format(time.DateTime), to.In(loc).Format(time.DateTime))
	}
	return from, to, nil
}

// span is a recorded time range made of consecutive segments.
type span struct {
	Start, End time.Time
	Segments   int
}

// maxJoinGap is the largest hole between one segment's end and the next
// one's start that still counts as continuous recording.
const maxJoinGap = 1500 * time.Millisecond

// spans merges segments, in order, into continuous ranges: a hole longer
// than maxJoinGap starts a new range.
func spans(segs []segRef) []span {
	var out []span
	for _, s := range segs {
		if n := len(out); n > 0 && s.Start.Sub(out[n-1].End) <= maxJoinGap {
			last := &out[n-1]
			if s.End().After(last.End) {
				last.End = s.End()
			}
			if s.Start.Before(last.Start) {
				last.Start = s.Start
			}
			last.Segments++
			continue
		}
		out = append(out, span{Start: s.Start, End: s.End(), Segments: 1})
	}
	return out
}

// gap is a hole in the recording inside a requested range.
type gap struct{ Start, End time.Time }

// gaps returns the holes longer than maxJoinGap in [from, to] not covered
// by the ranges (in order).
func gaps(ranges []span, from, to time.Time) []gap {
	var out []gap
	cur := from
	for _, r := range ranges {
		if !r.Start.Before(to) {
			break
		}
		if r.Start.Sub(cur) > maxJoinGap {
			out = append(out, gap{cur, r.Start})
		}
		if r.End.After(cur) {
			cur = r.End
		}
	}
	if to.Sub(cur) > maxJoinGap {
		out = append(out, gap{cur, to})
	}
	return out
}

// formatSpan formats a range as "2026-11-23 12:00:01 → 12:04:37", with the
// end's date when it is another day.
func formatSpan(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	endLayout := time.TimeOnly
	if s.YearDay() != e.YearDay() || s.Year() != e.Year() {
		endLayout = time.DateTime
	}
	return s.Format(time.DateTime) + " → " + e.Format(endLayout)
}

// formatDuration shows a duration to the second: "4m36s", "1h0m5s", "0s".
func formatDuration(d time.Duration) string {
	return d.Round(time.Second).String()
}

// formatBytes shows a byte count in SI units: "512 B", "12.3 MB".
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
