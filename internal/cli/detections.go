package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// Camera events: the hub seals each event record (seal.Event, signed by
// the hub) and its thumbnail to the camera's epoch key; the service only
// lists event objects by camera and minute. Everything shown here was
// decrypted and verified on this device.

// Event search windows.
const (
	defaultEventsSince = 24 * time.Hour      // porchlight events
	defaultShowSince   = 30 * 24 * time.Hour // events show, export --event
	// eventPreRoll and eventPostRoll widen an event's export; an event
	// still going on (no end) or of no duration (a doorbell press) is
	// exported for eventOpenLength from its start.
	eventPreRoll    = 5 * time.Second
	eventPostRoll   = 5 * time.Second
	eventOpenLength = 30 * time.Second
)

var eventClasses = []string{"person", "animal", "vehicle"}

var eventKinds = []string{seal.EventObject, seal.EventMotion, seal.EventDoorbell, seal.EventOffline, seal.EventOnline}

// viewedCamera is a camera this device may view, with the household
// (own or sharing) it belongs to.
type viewedCamera struct {
	h *household
	c *camera
}

// camEvent is one verified event and where it came from.
type camEvent struct {
	viewedCamera
	ev  *seal.Event
	obj api.ObjectInfo // the event object that carried this version
}

// eventFilter is what the command line narrows events to.
type eventFilter struct {
	class, kind string
}

func (f eventFilter) match(e *seal.Event) bool {
	return (f.class == "" || slices.Contains(e.Classes, f.class)) && (f.kind == "" || e.Kind == f.kind)
}

// viewedCameras returns the cameras to read events of: the one named, or
// every camera of the household this device is in the roster for, and
// every camera shared with this account.
func (m *Main) viewedCameras(ctx context.Context, own *household, name string) ([]viewedCamera, error) {
	if name != "" {
		c, err := own.camera(ctx, name)
		if err == nil {
			return []viewedCamera{{own, c}}, nil
		}
		sh, sc, ok, serr := m.sharedCamera(ctx, own, name)
		if errors.Is(serr, errRosterAlarm) {
			return nil, serr
		}
		if serr != nil || !ok {
			return nil, err
		}
		return []viewedCamera{{sh, sc}}, nil
	}
	var out []viewedCamera
	if own.self() != nil {
		cams, err := own.loadCameras(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range cams {
			if c.err != nil {
				fmt.Fprintf(m.Stderr, "porchlight: warning: %v\n", c.err)
				continue
			}
			out = append(out, viewedCamera{own, c})
		}
	}
	shared, _, err := m.sharedHouseholds(ctx, own)
	if err != nil {
		return nil, err
	}
	for _, h := range shared {
		if h.self() == nil {
			continue
		}
		for _, c := range h.cams {
			if c.err == nil {
				out = append(out, viewedCamera{h, c})
			}
		}
	}
	if len(out) == 0 {
		if err := own.requireViewer(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// eventLog collects verified events, keeping the highest version of each,
// and counts what could not be used.
type eventLog struct {
	byID     map[string]*camEvent
	noKey    map[string]int // epoch → event objects skipped for want of a key
	failures []error        // objects that did not open or verify
}

func newEventLog() *eventLog {
	return &eventLog{byID: map[string]*camEvent{}, noKey: map[string]int{}}
}

// add keeps e unless a version at least as high is known; it reports
// whether e is new or newer.
func (l *eventLog) add(e *camEvent) bool {
	key := e.c.ID + "/" + e.ev.ID
	if prev, ok := l.byID[key]; ok && prev.ev.Version >= e.ev.Version {
		return false
	}
	l.byID[key] = e
	return true
}

// sorted returns the events by start time, then id.
func (l *eventLog) sorted() []*camEvent {
	out := make([]*camEvent, 0, len(l.byID))
	for _, e := range l.byID {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *camEvent) int {
		if c := a.ev.Start.Compare(b.ev.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.ev.ID, b.ev.ID)
	})
	return out
}

// report warns about skipped objects and returns an error if any object
// failed verification.
func (l *eventLog) report(m *Main, dev string) error {
	for ep, n := range l.noKey {
		fmt.Fprintf(m.Stderr, "porchlight: warning: skipped %d event(s) of epoch %s: the hub wrapped no key of it to this device (%s)\n", n, ep, dev)
	}
	for _, err := range l.failures {
		fmt.Fprintf(m.Stderr, "porchlight: %v\n", err)
	}
	if n := len(l.failures); n > 0 {
		return fmt.Errorf("%s did not open or verify and were not shown: the service altered or mixed up its data; tell the service's operator", plural(n, "event object"))
	}
	return nil
}

// load lists vc's event objects with a coarse time in [from, to] and adds
// every one that opens and verifies.
func (l *eventLog) load(ctx context.Context, vc viewedCamera, from, to time.Time) error {
	list, err := vc.h.conn.c.CameraEvents(ctx, vc.c.ID, from, to, true)
	if err != nil {
		return vc.h.conn.explain("list the events of camera "+clean(vc.c.Name), err)
	}
	for _, oi := range list {
		l.open(ctx, vc, oi)
	}
	return nil
}

// open decrypts and verifies one listed event object and adds it.
func (l *eventLog) open(ctx context.Context, vc viewedCamera, oi api.ObjectInfo) *camEvent {
	e, err := vc.openEvent(ctx, oi)
	switch {
	case errors.Is(err, errNoWrap):
		l.noKey[oi.EpochID]++
	case err != nil:
		l.failures = append(l.failures, err)
	default:
		l.add(e)
	}
	return e
}

// openEvent decrypts one event object with its epoch's key and verifies
// it: signed by the camera's hub (or an owner device), for this household,
// camera and epoch.
func (vc viewedCamera) openEvent(ctx context.Context, oi api.ObjectInfo) (*camEvent, error) {
	h, c := vc.h, vc.c
	if oi.Kind != api.ObjectEvent || !seal.ValidID(oi.ID) || !seal.ValidID(oi.EpochID) {
		return nil, fmt.Errorf("the service listed a malformed event object %q (kind %q, epoch %q) for camera %s", clean(oi.ID), clean(oi.Kind), clean(oi.EpochID), clean(c.Name))
	}
	if len(oi.Data) == 0 {
		return nil, fmt.Errorf("event object %s: the service sent it without its data", oi.ID)
	}
	key, err := h.epochKey(ctx, c, oi.EpochID)
	if err != nil {
		return nil, fmt.Errorf("event object %s: %w", oi.ID, err)
	}
	pt, err := keys.Decrypt(oi.Data, key)
	var ev *seal.Event
	if err == nil {
		ev, err = seal.VerifyEventFrom(pt, h.trusted(c.HubID, c.hub), h.roster.Household, c.ID, oi.EpochID)
	}
	if err != nil {
		return nil, fmt.Errorf("event object %s (camera %s, epoch %s) does not open or verify: %w", oi.ID, clean(c.Name), oi.EpochID, err)
	}
	return &camEvent{viewedCamera: vc, ev: ev, obj: oi}, nil
}

// overlaps reports whether the event touches [from, to].
func (e *camEvent) overlaps(from, to time.Time) bool {
	end := e.ev.End
	if end.IsZero() {
		end = e.ev.Start
	}
	return !e.ev.Start.After(to) && !end.Before(from)
}

func cmdEvents(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "events", synopsis: "[--camera NAME] [--class person|animal|vehicle] [--kind KIND] [--since T] [--until T] [--follow] [--json]", about: `
Lists camera events, oldest first: a person, animal or vehicle moving in a
zone, doorbell presses, motion, and cameras going offline or back online.
The hub decides what is an event and seals each record and thumbnail to the
camera's keys; this device decrypts them and checks the hub's signature, so
the service never learns what happened, only that something did.

Without --camera, the events of every camera this device may view are
listed, including cameras other households share with you. An event that
grows (a person still walking) is uploaded again; the latest version is
shown. THUMB says whether a thumbnail exists: save it with
` + "`porchlight events show ID -o thumb.jpg`" + `, and export the video around the
event with ` + "`porchlight export --event ID -o clip.mp4`" + `.

With --follow it keeps waiting for new events until interrupted (Ctrl-C).
--json prints one JSON object per event (a list, or one per line with
--follow).

` + timeHelp}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "only the camera `NAME` (or id)")
	class := fs.String("class", "", "only events with an object of `CLASS`: "+strings.Join(eventClasses, ", "))
	kind := fs.String("kind", "", "only events of `KIND`: "+strings.Join(eventKinds, ", "))
	sinceS := fs.String("since", "", "list events from `T` (default -24h)")
	untilS := fs.String("until", "", "list events up to `T` (default now)")
	follow := fs.Bool("follow", false, "keep showing new events as they come, until interrupted")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *class != "" && !slices.Contains(eventClasses, *class) {
		return usagef(spec.name, "--class must be one of %s", strings.Join(eventClasses, ", "))
	}
	if *kind != "" && !slices.Contains(eventKinds, *kind) {
		return usagef(spec.name, "--kind must be one of %s", strings.Join(eventKinds, ", "))
	}
	if *follow && *untilS != "" {
		return usagef(spec.name, "--follow and --until do not go together")
	}
	from, to, err := parseRange(*sinceS, *untilS, m.Now(), m.loc, defaultEventsSince)
	if err != nil {
		return usagef(spec.name, "%v", strings.NewReplacer("--from", "--since", "--to", "--until").Replace(err.Error()))
	}
	filter := eventFilter{class: *class, kind: *kind}
	own, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	cams, err := m.viewedCameras(ctx, own, *camName)
	if err != nil {
		return err
	}
	// The notification stream starts after what is there now, so nothing
	// uploaded between the listing and the stream is missed.
	var after int64
	if *follow {
		if after, err = lastNotice(ctx, own.conn); err != nil {
			return err
		}
	}
	log := newEventLog()
	for _, vc := range cams {
		if err := log.load(ctx, vc, from, to); err != nil {
			return err
		}
	}
	var shown []*camEvent
	for _, e := range log.sorted() {
		if filter.match(e.ev) && e.overlaps(from, to) {
			shown = append(shown, e)
		}
	}
	switch {
	case *asJSON && *follow:
		for _, e := range shown {
			if err := json.NewEncoder(m.Stdout).Encode(eventJSON(e)); err != nil {
				return err
			}
		}
	case *asJSON:
		if err := m.printEventsJSON(shown); err != nil {
			return err
		}
	default:
		m.printEvents(shown, len(cams))
	}
	if err := log.report(m, own.dev.ID); err != nil {
		return err
	}
	if !*follow {
		return nil
	}
	return m.followEvents(ctx, own, cams, log, filter, after, *asJSON)
}

// lastNotice returns the sequence number of the account's latest
// notification (0 if none).
func lastNotice(ctx context.Context, c *conn) (int64, error) {
	var last int64
	for {
		list, err := c.c.Notifications(ctx, last)
		if err != nil {
			return 0, c.explain("list notifications", err)
		}
		before := last
		for _, n := range list {
			last = max(last, n.Seq)
		}
		if len(list) < noticePage || last == before {
			return last, nil
		}
	}
}

// followEvents waits for camera_event notifications after seq and shows
// each new event of cams that matches filter, once verified, until ctx
// ends.
func (m *Main) followEvents(ctx context.Context, own *household, cams []viewedCamera, log *eventLog, filter eventFilter, after int64, asJSON bool) error {
	byID := map[string]viewedCamera{}
	for _, vc := range cams {
		byID[vc.c.ID] = vc
	}
	fmt.Fprintln(m.Stderr, "Waiting for new events (Ctrl-C to stop)…")
	for n, err := range own.conn.c.Events(ctx, after) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return own.conn.explain("follow events", err)
		}
		if n.Kind != api.NoticeCameraEvent {
			continue
		}
		vc, ok := byID[n.CameraID]
		if !ok || !seal.ValidID(n.ObjectID) {
			continue // another camera, or one not asked for
		}
		e, err := m.fetchEvent(ctx, vc, n.ObjectID, n.At)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(m.Stderr, "porchlight: %v\n", err)
			continue
		}
		if e == nil || !log.add(e) || !filter.match(e.ev) {
			continue
		}
		if asJSON {
			if err := json.NewEncoder(m.Stdout).Encode(eventJSON(e)); err != nil {
				return err
			}
		} else {
			m.printEvents([]*camEvent{e}, len(cams))
		}
	}
	return nil
}

// fetchEvent finds one event object of vc named by a notification (its
// coarse time at) in the camera's listing, then opens and verifies it.
// It returns nil, nil if the listing no longer has it (deleted since).
func (m *Main) fetchEvent(ctx context.Context, vc viewedCamera, objectID string, at time.Time) (*camEvent, error) {
	list, err := vc.h.conn.c.CameraEvents(ctx, vc.c.ID, at, at, true)
	if err != nil {
		return nil, vc.h.conn.explain("fetch event "+objectID+" of camera "+clean(vc.c.Name), err)
	}
	for _, oi := range list {
		if oi.ID == objectID {
			return vc.openEvent(ctx, oi)
		}
	}
	return nil, nil
}

// eventWhat describes what an event is about: classes and labels, or its
// kind.
func eventWhat(e *seal.Event) string {
	var parts []string
	parts = append(parts, e.Classes...)
	for _, l := range e.Labels {
		if !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	for i := range parts {
		parts[i] = clean(parts[i])
	}
	return strings.Join(parts, ",")
}

func eventDuration(e *seal.Event) string {
	switch {
	case e.End.IsZero() && (e.Kind == seal.EventObject || e.Kind == seal.EventMotion):
		return "ongoing"
	case !e.End.After(e.Start):
		return "-" // a press or a change of state: no duration
	}
	return formatDuration(e.End.Sub(e.Start))
}

// printEvents prints events as a table.
func (m *Main) printEvents(evs []*camEvent, cameras int) {
	if len(evs) == 0 {
		if cameras == 0 {
			fmt.Fprintln(m.Stdout, "No cameras.")
		} else {
			fmt.Fprintln(m.Stdout, "No events.")
		}
		return
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCAMERA\tKIND\tWHAT\tSCORE\tZONE\tDURATION\tTHUMB\tID")
	for _, e := range evs {
		score := "-"
		if e.ev.Score > 0 {
			score = fmt.Sprintf("%.2f", e.ev.Score)
		}
		thumb := "no"
		if e.ev.Thumb != "" {
			thumb = "yes"
		}
		kind := clean(e.ev.Kind)
		if e.ev.Priority == seal.PriorityHigh {
			kind += "!"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.when(e.ev.Start), clean(e.c.Name), kind, eventWhat(e.ev), score,
			orDash(clean(e.ev.Zone)), eventDuration(e.ev), thumb, e.ev.ID)
	}
	tw.Flush()
}

// jsonEvent is the --json form of an event.
type jsonEvent struct {
	ID          string    `json:"id"`
	Version     int       `json:"version"`
	CameraID    string    `json:"camera_id"`
	Camera      string    `json:"camera"`
	Kind        string    `json:"kind"`
	Priority    string    `json:"priority"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	Classes     []string  `json:"classes,omitempty"`
	Labels      []string  `json:"labels,omitempty"`
	Score       float32   `json:"score,omitempty"`
	Zone        string    `json:"zone,omitempty"`
	TrackPoints int       `json:"track_points"`
	Thumbnail   bool      `json:"thumbnail"`
	Detail      string    `json:"detail,omitempty"`
	Object      string    `json:"object"`
}

func eventJSON(e *camEvent) jsonEvent {
	return jsonEvent{
		ID: e.ev.ID, Version: e.ev.Version, CameraID: e.c.ID, Camera: e.c.Name, Kind: e.ev.Kind, Priority: e.ev.Priority,
		Start: e.ev.Start, End: e.ev.End, Classes: e.ev.Classes, Labels: e.ev.Labels, Score: e.ev.Score, Zone: e.ev.Zone,
		TrackPoints: len(e.ev.Track), Thumbnail: e.ev.Thumb != "", Detail: e.ev.Detail, Object: e.obj.ID,
	}
}

func (m *Main) printEventsJSON(evs []*camEvent) error {
	out := make([]jsonEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventJSON(e))
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// findEvent finds an event by its id (or its object's id) among the
// events of the viewed cameras (or the one named) since since.
func (m *Main) findEvent(ctx context.Context, cmd, id, camName, sinceS string) (*camEvent, error) {
	if !seal.ValidID(id) {
		return nil, usagef(cmd, "%q is not an event id (see `porchlight events`)", id)
	}
	from, to, err := parseRange(sinceS, "", m.Now(), m.loc, defaultShowSince)
	if err != nil {
		return nil, usagef(cmd, "%v", strings.ReplaceAll(err.Error(), "--from", "--since"))
	}
	own, err := m.openHousehold(ctx)
	if err != nil {
		return nil, err
	}
	cams, err := m.viewedCameras(ctx, own, camName)
	if err != nil {
		return nil, err
	}
	log := newEventLog()
	for _, vc := range cams {
		if err := log.load(ctx, vc, from, to); err != nil {
			return nil, err
		}
	}
	var found *camEvent
	for _, e := range log.sorted() {
		if e.ev.ID == id || e.obj.ID == id {
			found = e
			break
		}
	}
	if found == nil {
		if err := log.report(m, own.dev.ID); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no event %s among the events since %s of the cameras this device may view: pass --since to look further back, or --camera", id, m.when(from))
	}
	for ep, n := range log.noKey {
		fmt.Fprintf(m.Stderr, "porchlight: warning: skipped %d event(s) of epoch %s: the hub wrapped no key of it to this device (%s)\n", n, ep, own.dev.ID)
	}
	return found, nil
}

func cmdEventsShow(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "events show", synopsis: "ID [--camera NAME] [--since T] [-o FILE|-]", minArgs: 1, maxArgs: 1, about: `
Shows one camera event in full (as ` + "`porchlight events`" + ` lists it: the latest
version), found among the events of the last 30 days (--since to look
further back). With -o it saves the event's thumbnail: the thumbnail's
ciphertext must have the SHA-256 the hub signed into the event, then it is
decrypted on this device and written to FILE under a temporary name,
renamed when complete (-o - writes to standard output).

` + timeHelp}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "look only at the camera `NAME` (or id)")
	sinceS := fs.String("since", "", "look at events from `T` (default -30d)")
	out := fs.String("o", "", "save the thumbnail (JPEG) to `FILE`, or - for standard output")
	// `events show ID -o FILE` reads naturally: take the id first.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(slices.Clone(args[1:]), args[0])
	}
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := m.checkOutput(spec.name, *out); err != nil {
			return err
		}
	}
	e, err := m.findEvent(ctx, spec.name, rest[0], *camName, *sinceS)
	if err != nil {
		return err
	}
	info := m.Stdout
	if *out == "-" {
		info = m.Stderr
	}
	m.printEventDetail(info, e)
	if *out == "" {
		return nil
	}
	if e.ev.Thumb == "" {
		return fmt.Errorf("event %s has no thumbnail", e.ev.ID)
	}
	jpeg, err := m.eventThumb(ctx, e)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := m.Stdout.Write(jpeg)
		return err
	}
	if _, err := writeAtomic(*out, func(w io.Writer) error { _, err := w.Write(jpeg); return err }); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "Saved the thumbnail of event %s (%s) to %s\n", e.ev.ID, formatBytes(int64(len(jpeg))), *out)
	return nil
}

// maxThumb bounds a thumbnail's ciphertext.
const maxThumb = 16 << 20

// eventThumb fetches the event's thumbnail, checks its ciphertext against
// the SHA-256 in the signed event and decrypts it.
func (m *Main) eventThumb(ctx context.Context, e *camEvent) ([]byte, error) {
	h := e.h
	ct, err := h.conn.c.Object(ctx, e.ev.Thumb)
	if err != nil {
		return nil, h.conn.explain("download the thumbnail of event "+e.ev.ID, err)
	}
	if len(ct) > maxThumb {
		return nil, fmt.Errorf("thumbnail %s of event %s: %s, larger than a thumbnail can be; refusing it", e.ev.Thumb, e.ev.ID, formatBytes(int64(len(ct))))
	}
	if got := seal.SHA256Hex(ct); got != e.ev.ThumbSHA256 {
		return nil, fmt.Errorf("thumbnail %s of event %s: SHA-256 of the ciphertext is %s, the hub-signed event names %s: the object was altered or swapped; refusing it", e.ev.Thumb, e.ev.ID, got, e.ev.ThumbSHA256)
	}
	key, err := h.epochKey(ctx, e.c, e.obj.EpochID)
	if err != nil {
		return nil, fmt.Errorf("thumbnail of event %s: %w", e.ev.ID, err)
	}
	jpeg, err := keys.Decrypt(ct, key)
	if err != nil {
		return nil, fmt.Errorf("thumbnail %s of event %s does not decrypt with the key of epoch %s: %w", e.ev.Thumb, e.ev.ID, e.obj.EpochID, err)
	}
	return jpeg, nil
}

// printEventDetail prints every field of an event.
func (m *Main) printEventDetail(w io.Writer, e *camEvent) {
	ev := e.ev
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("event", fmt.Sprintf("%s (version %d)", ev.ID, ev.Version))
	row("camera", fmt.Sprintf("%s (%s)", clean(e.c.Name), e.c.ID))
	row("kind", fmt.Sprintf("%s, %s priority", clean(ev.Kind), clean(ev.Priority)))
	row("start", m.when(ev.Start))
	if ev.End.IsZero() {
		row("end", eventDuration(ev))
	} else {
		row("end", fmt.Sprintf("%s (%s)", m.when(ev.End), eventDuration(ev)))
	}
	row("what", eventWhat(ev))
	if ev.Score > 0 {
		row("score", fmt.Sprintf("%.2f", ev.Score))
	}
	row("zone", orDash(clean(ev.Zone)))
	track := plural(len(ev.Track), "track point")
	if n := len(ev.Track); n > 0 {
		a, b := ev.Track[0], ev.Track[n-1]
		track += fmt.Sprintf(", box (%.2f,%.2f)-(%.2f,%.2f) → (%.2f,%.2f)-(%.2f,%.2f)", a.X0, a.Y0, a.X1, a.Y1, b.X0, b.Y0, b.X1, b.Y1)
	}
	row("track", track)
	if ev.Thumb != "" {
		row("thumbnail", ev.Thumb+" (save it with -o FILE)")
	} else {
		row("thumbnail", "none")
	}
	if ev.Detail != "" {
		row("detail", clean(ev.Detail))
	}
	row("signed by", fmt.Sprintf("%s, verified", ev.Hub))
	tw.Flush()
}

// exportEvent is `porchlight export --event ID`: the event's camera over
// [start − pre-roll, end + post-roll].
func (m *Main) exportEvent(ctx context.Context, cmd, id, sinceS, out string, progress bool) error {
	e, err := m.findEvent(ctx, cmd, id, "", sinceS)
	if err != nil {
		return err
	}
	end := e.ev.End
	if !end.After(e.ev.Start) { // going on, or a moment (a doorbell press)
		end = e.ev.Start.Add(eventOpenLength)
	}
	from, to := e.ev.Start.Add(-eventPreRoll), end.Add(eventPostRoll)
	segs, err := e.h.segments(ctx, e.c, from, to)
	if err != nil {
		return err
	}
	name := clean(e.c.Name)
	if len(segs) == 0 {
		return fmt.Errorf("no recordings of %s between %s and %s around event %s (see `porchlight recordings --camera %s`)",
			name, m.when(from), m.when(to), e.ev.ID, name)
	}
	return m.writeExport(ctx, e.h.source(e.c), name, segs, from, to, out, progress)
}
