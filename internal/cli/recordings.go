package cli

import (
	"context"
	"fmt"
	"time"
)

// defaultWindow is the range `recordings` shows without --from.
const defaultWindow = 24 * time.Hour

func cmdRecordings(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "recordings", synopsis: "--camera NAME [--from T] [--to T]", about: `
Shows the time ranges a camera recorded (default: the last 24 hours), after
decrypting and verifying every manifest, and the gaps between them. Segments
closer than 1.5 s join one range.

` + timeHelp}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "camera `NAME` (or id), as `porchlight cameras` lists it")
	fromS := fs.String("from", "", "start `T` (default: 24 hours before --to)")
	toS := fs.String("to", "", "end `T` (default: now)")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *camName == "" {
		return usagef(spec.name, "--camera is required (see `porchlight cameras`)")
	}
	from, to, err := parseRange(*fromS, *toS, m.Now(), m.loc, defaultWindow)
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	_, c, segs, err := m.cameraSegments(ctx, *camName, from, to)
	if err != nil {
		return err
	}
	name := clean(c.Name)
	zone := from.In(m.loc).Format("MST")
	if len(segs) == 0 {
		fmt.Fprintf(m.Stdout, "No recordings of %s from %s to %s (%s).\n", name, from.In(m.loc).Format(time.DateTime), to.In(m.loc).Format(time.DateTime), zone)
		return nil
	}
	ranges := spans(segs)
	var total time.Duration
	for _, r := range ranges {
		total += r.End.Sub(r.Start)
	}
	w := m.Stdout
	fmt.Fprintf(w, "Recordings of %s: %s in %d range(s) (times in %s)\n", name, formatDuration(total), len(ranges), zone)
	for i, r := range ranges {
		if i > 0 {
			prev := ranges[i-1]
			fmt.Fprintf(w, "    gap %s  %s\n", formatGap(prev.End, r.Start, m.loc), formatDuration(r.Start.Sub(prev.End)))
		}
		fmt.Fprintf(w, "%s  %s  (%s)\n", formatSpan(r.Start, r.End, m.loc), formatDuration(r.End.Sub(r.Start)), plural(r.Segments, "segment"))
	}
	return nil
}

// formatGap formats a hole as "12:01:10–12:01:21", with dates when it
// crosses a day.
func formatGap(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	layout := time.TimeOnly
	if s.YearDay() != e.YearDay() || s.Year() != e.Year() {
		layout = time.DateTime
	}
	return s.Format(layout) + "–" + e.Format(layout)
}

// plural formats a count with its noun: "1 segment", "69 segments".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
