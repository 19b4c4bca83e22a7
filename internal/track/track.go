// Package track follows detected objects across frames and decides which of
// them are worth an alert: an object of an alerting class that moves inside
// a zone where that class alerts, once per object. A person or animal the
// detector is sure of also alerts when it stands still but stirs (motion
// over its box), so someone waiting at the door is not missed; vehicles
// must move, so parked cars never alert.
//
// Association is greedy, by overlap (IoU) first and then by centre distance
// relative to the object's size, so detector misses and low frame rates do
// not split one walking person into several tracks. A track's class is a
// score-weighted vote over its detections, so a person called "dog" in one
// frame stays a person. A track moves only when its smoothed centre shifts by
// more than a fraction of its size within a time window: a parked car, with
// its detector jitter, never moves.
//
// It does not look at pixels; feed it detections from internal/detect. A
// Tracker is not safe for concurrent use.
package track

import (
	"math"
	"slices"
	"time"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/motion"
)

// Zone is a region of the picture and the classes that alert in it.
type Zone struct {
	Name string
	// Polygon is the zone in normalised coordinates; an object is in the
	// zone when the bottom-centre of its box (where it stands) is inside.
	// An empty polygon is the whole frame.
	Polygon motion.Polygon
	// Classes alert in this zone. Empty means every class.
	Classes []detect.Class
}

func (z Zone) contains(b detect.Box) bool {
	if len(z.Polygon) == 0 {
		return true
	}
	return z.Polygon.Contains(motion.Point{X: (b.X0 + b.X1) / 2, Y: b.Y1})
}

func (z Zone) alerts(c detect.Class) bool {
	return len(z.Classes) == 0 || slices.Contains(z.Classes, c)
}

// Rule filters the detections of one class before tracking: a detection
// below its class's rule is ignored as if it had not been seen. Classes
// without a rule are not filtered.
type Rule struct {
	Class    detect.Class
	MinScore float32
	MinArea  float32 // fraction of the frame, 0..1
}

// Config tunes a Tracker. Its zero value works: every zero field takes the
// default it documents.
type Config struct {
	// Zones where objects alert, in order: a track's Zone is the first
	// zone that contains it and alerts for its class. No zones means the
	// whole frame alerts for every class.
	Zones []Zone
	// Rules filter detections per class.
	Rules []Rule
	// StartScore is the least score that starts a track: a detection
	// below it only continues a track of its class that exists (by
	// overlap, or by distance once confirmed). Zero: every detection may
	// start one.
	StartScore float32
	// MinIoU is the least overlap that associates a detection with a
	// track. It defaults to 0.2.
	MinIoU float32
	// MaxJump is the farthest a track's centre may jump between updates
	// from where it was predicted to be and still be associated, in units
	// of the track's size (the square root of its box area), when it was
	// seen in the previous frame; the limit widens with the time since it
	// was last seen, up to three times after two seconds. It defaults to 1.
	MaxJump float32
	// MaxGap is how long a track survives without a detection. It
	// defaults to 3 s.
	MaxGap time.Duration
	// TentativeGap is how long a track seen fewer than MinHits times
	// survives without a detection. It defaults to 1 s. A stray second box
	// on one person, or a person seen once and then walking away faster
	// than the overlap test can follow, must not linger as a one-sighting
	// track that picks up someone else seconds later and alerts for them
	// with a stale start.
	TentativeGap time.Duration
	// MinHits is how many detections a track needs before it can move or
	// alert; it suppresses one-frame false detections. A track must also
	// be detected in at least a third of the updates since it began. It
	// defaults to 3.
	MinHits int
	// MoveWindow is the time over which displacement is measured. It
	// defaults to 4 s.
	MoveWindow time.Duration
	// MoveDist is the displacement of the smoothed box centre, in units of
	// the track's size, that makes a track move. It defaults to 0.3.
	MoveDist float32
	// MaxPath caps the boxes kept in Track.Path (the oldest are
	// dropped). It defaults to 300.
	MaxPath int
	// Stirring lists the classes whose confirmed tracks alert without
	// having moved, as long as motion covers at least a tenth of their box
	// (see UpdateWithMotion) and their mean score reaches StirScore:
	// someone standing at the door, not a person-shaped poster, and not a
	// swaying tree the detector half takes for a person. Vehicles are not
	// in it by default, so parked cars with pedestrians passing in front
	// never alert. Nil means person and animal; an empty, non-nil slice
	// turns it off.
	Stirring []detect.Class
	// StirScore is the mean detection score a Stirring track needs. It
	// defaults to 0.6. Without movement to go on, only sustained
	// confidence counts: the swaying tree's foliage, taken for a dog at
	// 0.61 once, averages far below it.
	StirScore float32
	// AlertScore is the best detection score any track needs to alert: a
	// track the detector was never more than half sure of (a swaying tree
	// taken for a person at 0.47) follows along but does not alert. It
	// defaults to 0.5.
	AlertScore float32
	// AlertMean is the mean detection score over all its sightings that a
	// track needs to alert. It defaults to 0.45. A swaying tree the
	// detector now and then calls a person at 0.5, but mostly at 0.3 to
	// 0.4, is a persistent doubt, not a person; people who alert on
	// vtest.avi average 0.48 or more at the time.
	AlertMean float32
}

func (c Config) withDefaults() Config {
	if c.MinIoU <= 0 {
		c.MinIoU = 0.2
	}
	if c.MaxJump <= 0 {
		c.MaxJump = 1
	}
	if c.MaxGap <= 0 {
		c.MaxGap = 3 * time.Second
	}
	if c.TentativeGap <= 0 {
		c.TentativeGap = time.Second
	}
	if c.MinHits <= 0 {
		c.MinHits = 3
	}
	if c.MoveWindow <= 0 {
		c.MoveWindow = 4 * time.Second
	}
	if c.MoveDist <= 0 {
		c.MoveDist = 0.3
	}
	if c.MaxPath <= 0 {
		c.MaxPath = 300
	}
	if c.AlertScore <= 0 {
		c.AlertScore = 0.5
	}
	if c.AlertMean <= 0 {
		c.AlertMean = 0.45
	}
	if c.StirScore <= 0 {
		c.StirScore = 0.6
	}
	if c.Stirring == nil {
		c.Stirring = []detect.Class{detect.Person, detect.Animal}
	}
	return c
}

// Track is one object followed across frames.
type Track struct {
	ID    int
	Class detect.Class // the class with the highest summed score
	Label string       // the COCO label with the highest summed score within Class
	Score float32      // the best detection score of Class
	Box   detect.Box   // the latest box
	Path  []detect.Box // boxes oldest first, capped at Config.MaxPath
	Times []time.Time  // when each box of Path was seen
	First time.Time    // first detection
	Last  time.Time    // latest detection
	// Moving is true once the track has moved; it stays true.
	Moving bool
	// Alerted is true once the track has raised its alert; it stays true.
	Alerted bool
	// Zone is the name of the first zone that contains the track and
	// alerts for its class, or else of the first zone that contains it;
	// empty when in none (or when no zones are configured).
	Zone string
}

// Onset is when the track's object started to move: the sighting before
// the first box whose centre is a tenth of the box's larger side (and at
// least OnsetJitter) away from the first box's centre. For an object
// walking in that is its first sighting; for one that stood first, when
// it set off. Benchmarks measure alert latency from it.
func (t Track) Onset() time.Time {
	if len(t.Path) == 0 || len(t.Times) != len(t.Path) {
		return t.First
	}
	c0x, c0y := (t.Path[0].X0+t.Path[0].X1)/2, (t.Path[0].Y0+t.Path[0].Y1)/2
	for i, b := range t.Path {
		size := max(b.X1-b.X0, b.Y1-b.Y0)
		cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
		if d := max(abs32(cx-c0x), abs32(cy-c0y)); size > 0 && d > max(0.1*size, OnsetJitter) {
			return t.Times[max(i-1, 0)]
		}
	}
	return t.First
}

// OnsetJitter is the least centre displacement, as a fraction of the
// frame, that Onset counts as moving: two pixels of the detector's 300×300
// input. A distant person standing still is a box a few pixels across
// whose centre wanders by a pixel from frame to frame; a tenth of its size
// alone would take that for setting off.
const OnsetJitter = 2.0 / 300

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// Alert is raised once per track, the first time it is a moving (or, for a
// Config.Stirring class, stirring) object of an alerting class inside a
// zone where that class alerts.
type Alert struct {
	Track Track
	Start time.Time // when the track was first seen
}

type labelKey struct {
	class detect.Class
	label string
}

type state struct {
	Track
	times   []time.Time // parallel to Path
	hits    int         // updates with a detection
	misses  int         // updates without one
	votes   map[detect.Class]float32
	labels  map[labelKey]float32
	best    map[detect.Class]float32
	alerted bool
}

// Tracker holds the tracks of one camera.
type Tracker struct {
	cfg    Config
	tracks []*state
	nextID int
}

// New returns a Tracker with no tracks.
func New(cfg Config) *Tracker {
	return &Tracker{cfg: cfg.withDefaults(), nextID: 1}
}

// SetZones replaces the zones (an owner changed them); tracks keep going
// and take their zone from the new set at the next update.
func (t *Tracker) SetZones(z []Zone) { t.cfg.Zones = z }

// Update feeds the detections of one frame taken at now (frames must come in
// time order) and returns the live tracks, ordered by ID, and the alerts
// raised by this frame. Call it with no detections to age tracks out when the
// detector did not run.
func (t *Tracker) Update(now time.Time, dets []detect.Detection) (tracks []Track, alerts []Alert) {
	return t.UpdateWithMotion(now, dets, nil)
}

// UpdateWithMotion is Update with the frame's motion regions (from package
// motion): a confirmed track of a Config.Stirring class that motion covers
// alerts without having to move first.
func (t *Tracker) UpdateWithMotion(now time.Time, dets []detect.Detection, motion []detect.Box) (tracks []Track, alerts []Alert) {
	// Drop tracks not seen for too long.
	t.tracks = slices.DeleteFunc(t.tracks, func(s *state) bool {
		gap := now.Sub(s.Last)
		return gap > t.cfg.MaxGap || (s.hits < t.cfg.MinHits && gap > t.cfg.TentativeGap)
	})

	dets = t.filter(dets)
	matchedT := make([]bool, len(t.tracks))
	matchedD := make([]bool, len(dets))
	pred := make([]detect.Box, len(t.tracks))
	for ti, s := range t.tracks {
		pred[ti] = s.predict(now)
	}
	type pair struct {
		ti, di int
		score  float32
	}
	// Passes, each on what the earlier ones left: overlap with the same
	// class, overlap with another class (the detector changing its mind
	// about one object), centre distance with the same class. A track seen
	// fewer than MinHits times has no reliable velocity and continues by
	// overlap only, so scattered false detections do not chain into a
	// track.
	for pass := range 3 {
		var pairs []pair
		for ti, s := range t.tracks {
			if matchedT[ti] {
				continue
			}
			for di, d := range dets {
				if matchedD[di] || (pass != 1) != (d.Class == s.Class) || (pass == 1 && d.Score < t.cfg.StartScore) {
					continue
				}
				if pass < 2 {
					if v := detect.IoU(pred[ti], d.Box); v >= t.cfg.MinIoU {
						pairs = append(pairs, pair{ti, di, v})
					}
				} else if j := jump(pred[ti], d.Box); s.hits >= t.cfg.MinHits && j <= t.cfg.MaxJump*gapFactor(now.Sub(s.Last)) {
					pairs = append(pairs, pair{ti, di, -j})
				}
			}
		}
		slices.SortStableFunc(pairs, func(a, b pair) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return 0
		})
		for _, p := range pairs {
			if matchedT[p.ti] || matchedD[p.di] {
				continue
			}
			matchedT[p.ti], matchedD[p.di] = true, true
			t.tracks[p.ti].add(now, dets[p.di], t.cfg.MaxPath)
		}
	}
	for ti, m := range matchedT {
		if !m {
			t.tracks[ti].misses++
		}
	}
	for di, d := range dets {
		if matchedD[di] || d.Score < t.cfg.StartScore {
			continue
		}
		s := &state{
			Track:  Track{ID: t.nextID, First: now},
			votes:  map[detect.Class]float32{},
			labels: map[labelKey]float32{},
			best:   map[detect.Class]float32{},
		}
		t.nextID++
		s.add(now, d, t.cfg.MaxPath)
		t.tracks = append(t.tracks, s)
	}

	for _, s := range t.tracks {
		s.Zone = t.zone(s)
		if !s.Moving && s.confirmed(t.cfg) && s.moved(now, t.cfg) {
			s.Moving = true
		}
		active := s.Moving || (s.confirmed(t.cfg) && s.mean() >= t.cfg.StirScore && slices.Contains(t.cfg.Stirring, s.Class) && stirring(s.Box, motion))
		if !s.alerted && active && s.Score >= t.cfg.AlertScore && s.mean() >= t.cfg.AlertMean && t.alerting(s) {
			s.alerted, s.Alerted = true, true
			alerts = append(alerts, Alert{Track: s.snapshot(), Start: s.First})
		}
		tracks = append(tracks, s.snapshot())
	}
	return tracks, alerts
}

// filter applies the per-class rules.
func (t *Tracker) filter(dets []detect.Detection) []detect.Detection {
	out := make([]detect.Detection, 0, len(dets))
	for _, d := range dets {
		ok := true
		for _, r := range t.cfg.Rules {
			if r.Class == d.Class && (d.Score < r.MinScore || d.Box.Area() < r.MinArea) {
				ok = false
			}
		}
		if ok {
			out = append(out, d)
		}
	}
	return out
}

func (t *Tracker) zone(s *state) string {
	first, found := "", false
	for _, z := range t.cfg.Zones {
		if !z.contains(s.Box) {
			continue
		}
		if z.alerts(s.Class) {
			return z.Name
		}
		if !found {
			first, found = z.Name, true
		}
	}
	return first
}

func (t *Tracker) alerting(s *state) bool {
	if len(t.cfg.Zones) == 0 {
		return true
	}
	for _, z := range t.cfg.Zones {
		if z.contains(s.Box) && z.alerts(s.Class) {
			return true
		}
	}
	return false
}

// stirring reports whether motion regions cover at least a tenth of box.
func stirring(box detect.Box, motion []detect.Box) bool {
	area := box.Area()
	if area <= 0 {
		return false
	}
	var covered float32
	for _, m := range motion {
		w := min(box.X1, m.X1) - max(box.X0, m.X0)
		h := min(box.Y1, m.Y1) - max(box.Y0, m.Y0)
		if w > 0 && h > 0 {
			covered += w * h
		}
	}
	return covered >= area/10
}

// confirmed reports whether the track is real enough to move and alert: seen
// at least MinHits times, and in at least a third of the updates of its
// life. Scattered false detections that happen to chain up fail the second
// test; a small, distant person the detector finds in every other frame
// passes it.
func (s *state) confirmed(cfg Config) bool {
	return s.hits >= cfg.MinHits && 2*s.hits >= s.misses
}

// mean is the mean score of all the track's detections, whatever their
// class.
func (s *state) mean() float32 {
	var sum float32
	for _, v := range s.votes {
		sum += v
	}
	return sum / float32(max(s.hits, 1))
}

// predict is where the track's box should be at now, moving on at the
// velocity of its centre over the last second.
func (s *state) predict(now time.Time) detect.Box {
	n := len(s.Path)
	if n < 2 {
		return s.Box
	}
	i := n - 2
	for i > 0 && s.times[n-1].Sub(s.times[i-1]) <= time.Second {
		i--
	}
	dt := s.times[n-1].Sub(s.times[i]).Seconds()
	if dt <= 0 {
		return s.Box
	}
	a, b := centre(s.Path[i]), centre(s.Path[n-1])
	ahead := float32(now.Sub(s.times[n-1]).Seconds() / dt)
	dx, dy := (b.x-a.x)*ahead, (b.y-a.y)*ahead
	return detect.Box{X0: s.Box.X0 + dx, Y0: s.Box.Y0 + dy, X1: s.Box.X1 + dx, Y1: s.Box.Y1 + dy}
}

func (s *state) add(now time.Time, d detect.Detection, maxPath int) {
	s.hits++
	s.Last = now
	s.Box = d.Box
	s.Path = append(s.Path, d.Box)
	s.times = append(s.times, now)
	if n := len(s.Path) - maxPath; n > 0 {
		s.Path = slices.Delete(s.Path, 0, n)
		s.times = slices.Delete(s.times, 0, n)
	}
	s.votes[d.Class] += d.Score
	s.labels[labelKey{d.Class, d.Label}] += d.Score
	s.best[d.Class] = max(s.best[d.Class], d.Score)
	var bestVote float32
	for c, v := range s.votes {
		if v > bestVote || (v == bestVote && c < s.Class) {
			s.Class, bestVote = c, v
		}
	}
	s.Score = s.best[s.Class]
	var bestLabel float32
	s.Label = ""
	for k, v := range s.labels {
		if k.class == s.Class && (v > bestLabel || (v == bestLabel && k.label < s.Label)) {
			s.Label, bestLabel = k.label, v
		}
	}
}

// moved reports whether the smoothed centre moved more than MoveDist track
// sizes within the last MoveWindow.
func (s *state) moved(now time.Time, cfg Config) bool {
	n := len(s.Path)
	if n < 2 {
		return false
	}
	cur := smoothCentre(s.Path, n-1)
	size := boxSize(s.Box)
	for i := n - 2; i >= 0 && now.Sub(s.times[i]) <= cfg.MoveWindow; i-- {
		c := smoothCentre(s.Path, i)
		size = max(size, boxSize(s.Path[i]))
		if size <= 0 {
			continue
		}
		if dist(cur, c)/size > cfg.MoveDist {
			return true
		}
	}
	return false
}

func (s *state) snapshot() Track {
	tr := s.Track
	tr.Path = slices.Clone(s.Path)
	tr.Times = slices.Clone(s.times)
	return tr
}

type point struct{ x, y float32 }

// smoothCentre is the mean centre of the boxes at i and its neighbours
// (up to one each side), which damps single-frame detector jitter.
func smoothCentre(path []detect.Box, i int) point {
	var p point
	n := 0
	for j := max(0, i-1); j <= min(len(path)-1, i+1); j++ {
		c := centre(path[j])
		p.x += c.x
		p.y += c.y
		n++
	}
	return point{p.x / float32(n), p.y / float32(n)}
}

func centre(b detect.Box) point { return point{(b.X0 + b.X1) / 2, (b.Y0 + b.Y1) / 2} }

func dist(a, b point) float32 {
	return float32(math.Hypot(float64(a.x-b.x), float64(a.y-b.y)))
}

// boxSize is the square root of the box area: a size that treats tall
// people and wide cars alike.
func boxSize(b detect.Box) float32 { return float32(math.Sqrt(float64(b.Area()))) }

// jump is the distance between two boxes' centres in units of the larger
// box's size.
func jump(a, b detect.Box) float32 {
	size := max(boxSize(a), boxSize(b))
	if size <= 0 {
		return float32(math.Inf(1))
	}
	return dist(centre(a), centre(b)) / size
}

// gapFactor widens the association radius with the time since a track was
// last seen, as the prediction grows less certain: ×1 at once, ×2 after a
// second, at most ×3.
func gapFactor(gap time.Duration) float32 {
	return 1 + min(2, float32(gap.Seconds()))
}
