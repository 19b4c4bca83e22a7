package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/testutil"
)

// TestEvents drives the event commands against a real porchlightd and a
// test hub that uploads sealed events and thumbnails: listing with
// filters (the latest version of an event wins), the thumbnail saved
// byte for byte, the export around an event, --follow, and an event
// signed by a stranger refused.
func TestEvents(t *testing.T) {
	segs := testSegments(t)[:6]
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("front door")
	garden := hub.addCamera("garden")
	ep, gep := hub.newEpoch(cam), hub.newEpoch(garden)

	// Two runs of video a minute apart; the event is in the second.
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	hub.record(ep, base, segs)
	hub.record(ep, base.Add(time.Minute), segs)

	start := base.Add(62 * time.Second)
	jpeg := append([]byte("\xff\xd8\xff\xe0 thumbnail "), bytes.Repeat([]byte{0x5a}, 3000)...)
	person := seal.Event{ID: seal.NewID(), Version: 1, Kind: seal.EventObject, Start: start, Classes: []string{"person"}, Labels: []string{"person"}, Score: 0.71, Zone: "porch"}
	hub.event(ep, person, nil) // as it starts
	person.Version, person.End, person.Score = 2, start.Add(2*time.Second), 0.91
	for i := range 3 {
		person.Track = append(person.Track, seal.TrackPoint{T: start.Add(time.Duration(i) * time.Second), X0: 0.1 * float32(i), Y0: 0.2, X1: 0.1*float32(i) + 0.2, Y1: 0.9})
	}
	hub.event(ep, person, jpeg) // as it ends
	bell := seal.Event{ID: seal.NewID(), Version: 1, Kind: seal.EventDoorbell, Priority: seal.PriorityHigh, Start: base.Add(5 * time.Minute)}
	hub.event(gep, bell, nil)

	r := mustCLI(t, env, "events", "--since", "-1h")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("events: want a header and 2 events:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	for _, want := range []string{start.Format(time.DateTime), "front door", "object", "person", "0.91", "porch", "2s", "yes", person.ID} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("events: the person event's line lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"garden", "doorbell!", "no", bell.ID} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("events: the doorbell's line lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "0.71") || strings.Contains(r.stdout, "ongoing") {
		t.Errorf("events shows the first version of the person event, not the latest:\n%s", r.stdout)
	}

	// Filters.
	r = mustCLI(t, env, "events", "--class", "animal")
	if strings.Contains(r.stdout, person.ID) || !strings.Contains(r.stdout, "No events.") {
		t.Errorf("events --class animal:\n%s", r.stdout)
	}
	r = mustCLI(t, env, "events", "--class", "person")
	if !strings.Contains(r.stdout, person.ID) || strings.Contains(r.stdout, bell.ID) {
		t.Errorf("events --class person:\n%s", r.stdout)
	}
	r = mustCLI(t, env, "events", "--camera", "garden")
	if strings.Contains(r.stdout, person.ID) || !strings.Contains(r.stdout, bell.ID) {
		t.Errorf("events --camera garden:\n%s", r.stdout)
	}
	r = mustCLI(t, env, "events", "--kind", "doorbell", "--json")
	var list []jsonEvent
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("events --json: %v\n%s", err, r.stdout)
	}
	if len(list) != 1 || list[0].ID != bell.ID || list[0].Priority != seal.PriorityHigh || list[0].Camera != "garden" {
		t.Errorf("events --kind doorbell --json = %+v", list)
	}
	r = mustCLI(t, env, "events", "--since", "-2m")
	if !strings.Contains(r.stdout, "No events.") {
		t.Errorf("events of the last 2 minutes:\n%s", r.stdout)
	}
	if r = runCLI(t, env, "", "events", "--class", "cat"); r.code != 2 || !strings.Contains(r.stderr, "--class must be one of person, animal, vehicle") {
		t.Errorf("events --class cat: exit %d\n%s", r.code, r.stderr)
	}

	// events show: details, and the thumbnail exactly as the hub sealed it.
	thumb := filepath.Join(dir, "thumb.jpg")
	r = mustCLI(t, env, "events", "show", person.ID, "-o", thumb)
	for _, want := range []string{person.ID + " (version 2)", "front door", "3 track points", "porch", "person", "0.91"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("events show lacks %q:\n%s", want, r.stdout)
		}
	}
	if got, err := os.ReadFile(thumb); err != nil || !bytes.Equal(got, jpeg) {
		t.Errorf("saved thumbnail: %d bytes, %v; want the %d bytes the hub sealed", len(got), err, len(jpeg))
	}
	if r = runCLI(t, env, "", "events", "show", bell.ID, "-o", filepath.Join(dir, "none.jpg")); r.code != 1 || !strings.Contains(r.stderr, "has no thumbnail") {
		t.Errorf("events show of an event without thumbnail: exit %d\n%s", r.code, r.stderr)
	}
	if r = runCLI(t, env, "", "events", "show", seal.NewID()); r.code != 1 || !strings.Contains(r.stderr, "no event") {
		t.Errorf("events show of an unknown id: exit %d\n%s", r.code, r.stderr)
	}

	// export --event: the second run of video (the event ± 5 s), not the first.
	var media [][]byte
	for _, s := range segs {
		media = append(media, s.Data)
	}
	var want bytes.Buffer
	if err := segment.Concat(&want, media); err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(dir, "clip.mp4")
	r = mustCLI(t, env, "export", "--event", person.ID, "-o", clip)
	if got, err := os.ReadFile(clip); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("export --event: %d bytes, %v; want the %d bytes of the second run's segments", len(got), err, want.Len())
	}
	if !strings.Contains(r.stderr, "Exported front door: 6 segments") {
		t.Errorf("export --event stderr:\n%s", r.stderr)
	}
	if r = runCLI(t, env, "", "export", "--event", person.ID, "--camera", "garden", "-o", clip); r.code != 2 {
		t.Errorf("export --event with --camera: exit %d, want 2", r.code)
	}

	// --follow prints an event uploaded after it starts, verified.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main{Args: []string{"events", "--follow", "--class", "person"}, Stdout: &out, Stderr: &errb, Env: env.get}.Run(ctx)
	}()
	waitFor(t, "events --follow", errb.String, "Waiting for new events")
	later := seal.Event{ID: seal.NewID(), Version: 1, Kind: seal.EventObject, Start: time.Now().UTC(), Classes: []string{"person"}, Labels: []string{"person"}, Score: 0.8, Zone: "drive"}
	hub.event(ep, seal.Event{ID: seal.NewID(), Version: 1, Kind: seal.EventObject, Start: time.Now().UTC(), Classes: []string{"animal"}, Labels: []string{"cat"}}, nil)
	hub.event(ep, later, nil)
	waitFor(t, "events --follow", out.String, later.ID)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("interrupted events --follow: exit %d\n%s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events --follow did not end when interrupted")
	}
	if strings.Contains(out.String(), "cat") {
		t.Errorf("events --follow --class person printed a cat:\n%s", out.String())
	}
	if !strings.Contains(out.String(), person.ID) || !strings.Contains(out.String(), "drive") {
		t.Errorf("events --follow output:\n%s", out.String())
	}

	// An event sealed with the camera's key but signed by a stranger is
	// refused, and the command fails.
	stranger, err := keys.Generate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	forged := seal.Event{Household: hub.household, Camera: cam, Hub: stranger.ID, Epoch: ep.id, ID: seal.NewID(), Version: 1, Kind: seal.EventDoorbell, Start: time.Now().UTC()}
	ct, err := seal.SealEvent(stranger.Sign, ep.key.Recipient(), forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.c.PutObject(t.Context(), seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: ep.id, Kind: api.ObjectEvent, Time: forged.Start}, ct); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, env, "", "events")
	if r.code != 1 || strings.Contains(r.stdout, forged.ID) || !strings.Contains(r.stderr, "does not open or verify") {
		t.Errorf("events with a forged event: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, later.ID) {
		t.Errorf("events with a forged event no longer shows the genuine ones:\n%s", r.stdout)
	}
}
