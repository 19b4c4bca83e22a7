package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
)

// TestRecordingsAndExport signs up, claims a hub (played by the test over
// the API), uploads two runs of segments with a gap, and checks cameras,
// recordings and export against a real porchlightd — then that tampered
// objects and a substituted roster are refused.
func TestRecordingsAndExport(t *testing.T) {
	segs := testSegments(t)[:6]
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, claimOut := claimTestHub(t, env, server)
	if !strings.Contains(claimOut, "porchlight-hub --server "+server+" --claim ") {
		t.Errorf("hub claim does not show the hub's command line:\n%s", claimOut)
	}
	r := mustCLI(t, env, "whoami")
	if !strings.Contains(r.stdout, "roster:    version 2, 1 device(s), 1 hub(s)") {
		t.Errorf("whoami after the claim:\n%s", r.stdout)
	}

	cam := hub.addCamera("front door")
	ep := hub.newEpoch(cam)
	now := time.Now().UTC()
	base := now.Add(-10 * time.Minute).Truncate(time.Second)
	var clips []clip
	at := base
	for i, s := range segs {
		if i == 3 {
			at = at.Add(20 * time.Second) // the camera dropped
		}
		clips = append(clips, clip{seg: s, start: at})
		at = at.Add(s.Duration)
	}
	hub.upload(ep, clips[:3])
	hub.upload(ep, clips[3:])
	end := at

	r = mustCLI(t, env, "cameras")
	for _, want := range []string{"front door", cam, "test hub", "forever"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cameras does not show %q:\n%s", want, r.stdout)
		}
	}
	mustCLI(t, env, "cameras", "retention", "front door", "7")
	if r = mustCLI(t, env, "cameras"); !strings.Contains(r.stdout, "7 days") {
		t.Errorf("cameras after setting retention:\n%s", r.stdout)
	}

	r = mustCLI(t, env, "recordings", "--camera", "front door", "--from", "-1h")
	wantLines := []string{
		formatSpan(clips[0].start, clips[2].start.Add(segs[2].Duration), time.UTC) + "  ",
		"(3 segments)",
		"gap " + formatGap(clips[2].start.Add(segs[2].Duration), clips[3].start, time.UTC) + "  20s",
		formatSpan(clips[3].start, end, time.UTC) + "  ",
	}
	for _, want := range wantLines {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("recordings does not show %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "→"); n != 2 {
		t.Errorf("recordings shows %d ranges, want 2:\n%s", n, r.stdout)
	}

	// Export everything: the file is exactly the segments joined.
	var media [][]byte
	frames := 0
	for _, s := range segs {
		media = append(media, s.Data)
		frames += s.Frames
	}
	var want bytes.Buffer
	if err := segment.Concat(&want, media); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	from := base.Add(-5 * time.Second).Format(time.RFC3339)
	to := end.Add(5 * time.Second).Format(time.RFC3339)
	r = mustCLI(t, env, "export", "--camera", "front door", "--from", from, "--to", to, "-o", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("exported %d bytes, not the %d bytes of the joined segments", len(got), want.Len())
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("export has mode %v, want 0600 (it is plaintext video)", st.Mode().Perm())
	}
	for _, w := range []string{
		"gap " + formatGap(base.Add(-5*time.Second), base, time.UTC) + ": no recording",
		"gap " + formatGap(clips[2].start.Add(segs[2].Duration), clips[3].start, time.UTC) + ": no recording",
		"Exported front door: 6 segments, 6s of video recorded " + formatSpan(base, end, time.UTC),
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("export stderr does not say %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "[#") {
		t.Errorf("progress bar drawn although stderr is not a terminal:\n%s", r.stderr)
	}
	if n := probeFrames(t, out); n != frames {
		t.Errorf("ffprobe counts %d frames in the export, want %d", n, frames)
	}

	// Segment granularity: a range inside the second run exports the
	// segments overlapping it; -o - streams to stdout.
	r = mustCLI(t, env, "export", "--camera", cam, "--from", clips[4].start.Add(100*time.Millisecond).Format(time.RFC3339Nano),
		"--to", clips[4].start.Add(segs[4].Duration/2).Format(time.RFC3339Nano), "-o", "-", "--progress")
	want.Reset()
	if err := segment.Concat(&want, media[4:5]); err != nil {
		t.Fatal(err)
	}
	if r.stdout != want.String() {
		t.Errorf("export -o - wrote %d bytes, want the %d bytes of segment 4", len(r.stdout), want.Len())
	}
	if !strings.Contains(r.stderr, "1/1 segments") || !strings.Contains(r.stderr, "Exported front door: 1 segment,") {
		t.Errorf("export --progress stderr:\n%q", r.stderr)
	}

	t.Run("a manifest hash that does not match is refused", func(t *testing.T) {
		t0 := now.Add(-40 * time.Minute).Truncate(time.Second)
		bad := hub.upload(ep, []clip{{seg: segs[0], start: t0}, {seg: segs[1], start: t0.Add(segs[0].Duration), badHash: true}})
		out := filepath.Join(t.TempDir(), "bad.mp4")
		r := runCLI(t, env, "", "export", "--camera", "front door", "--from", t0.Add(-time.Second).Format(time.RFC3339), "--to", t0.Add(time.Minute).Format(time.RFC3339), "-o", out)
		if r.code != 1 || !strings.Contains(r.stderr, "segment "+bad[1].ID) || !strings.Contains(r.stderr, "SHA-256 of the ciphertext") {
			t.Fatalf("export of a segment with a wrong hash: exit %d\n%s", r.code, r.stderr)
		}
		assertEmptyDir(t, filepath.Dir(out))
	})

	t.Run("a sealed header that contradicts the manifest is refused", func(t *testing.T) {
		t0 := now.Add(-50 * time.Minute).Truncate(time.Second)
		bad := hub.upload(ep, []clip{{seg: segs[0], start: t0, headerSeqOff: 1}})
		out := filepath.Join(t.TempDir(), "bad.mp4")
		r := runCLI(t, env, "", "export", "--camera", "front door", "--from", t0.Format(time.RFC3339), "--to", t0.Add(time.Second).Format(time.RFC3339), "-o", out)
		if r.code != 1 || !strings.Contains(r.stderr, "segment "+bad[0].ID) || !strings.Contains(r.stderr, "does not match manifest") {
			t.Fatalf("export of a segment with a wrong header: exit %d\n%s", r.code, r.stderr)
		}
		assertEmptyDir(t, filepath.Dir(out))
	})

	t.Run("no recordings in range", func(t *testing.T) {
		r := runCLI(t, env, "", "export", "--camera", "front door", "--from", "-3h", "--to", "-2h", "-o", filepath.Join(t.TempDir(), "x.mp4"))
		if r.code != 1 || !strings.Contains(r.stderr, "no recordings of front door between") {
			t.Fatalf("export of an empty range: exit %d\n%s", r.code, r.stderr)
		}
		r = runCLI(t, env, "", "recordings", "--camera", "back")
		if r.code != 1 || !strings.Contains(r.stderr, `no camera named "back": your cameras are front door`) {
			t.Fatalf("recordings of an unknown camera: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("a roster not rooted in the pinned key is refused", func(t *testing.T) {
		path := filepath.Join(env[EnvHome], rosterFile)
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, orig, 0o600)
		var pin pinnedRoster
		if err := json.Unmarshal(orig, &pin); err != nil {
			t.Fatal(err)
		}
		other, _ := keys.Generate("x")
		pin.Root = other.SignPub()
		b, _ := json.Marshal(pin)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"cameras"}, {"recordings", "--camera", "front door"}, {"hub", "claim", "--yes"}} {
			r := runCLI(t, env, "", args...)
			if r.code != 1 || !strings.Contains(r.stderr, "ROSTER ALARM") || !strings.Contains(r.stderr, "this device pinned key "+other.ID) {
				t.Errorf("%v with a substituted roster: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
			}
		}
	})

	for _, name := range []string{"session.json", "roster.json", "device.key"} {
		st, err := os.Stat(filepath.Join(env[EnvHome], name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", name, st.Mode().Perm(), err)
		}
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Errorf("a failed export left %s behind", e.Name())
	}
}

// probeFrames counts the video frames ffprobe decodes in file.
func probeFrames(t *testing.T, file string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe: %q", out)
	}
	return n
}

// TestHubClaimConfirmation checks that the fingerprint question guards the
// roster: "no" adds nothing, "yes" adds the hub.
func TestHubClaimConfirmation(t *testing.T) {
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))

	c := startClaim(t, env, "n\n")
	presentTestHub(t, server, c.code)
	if code := c.wait(t); code != 1 || !strings.Contains(c.errb.String(), "Does the hub show the same fingerprint? [y/N]") ||
		!strings.Contains(c.errb.String(), "claim not confirmed: the hub was not added") {
		t.Fatalf("declined claim: exit %d\n%s\n%s", code, c.out.String(), c.errb.String())
	}
	if r := mustCLI(t, env, "whoami"); !strings.Contains(r.stdout, "roster:    version 1,") {
		t.Fatalf("a declined claim changed the roster:\n%s", r.stdout)
	}

	c = startClaim(t, env, "yes\n")
	h, _, root := presentTestHub(t, server, c.code)
	if code := c.wait(t); code != 0 {
		t.Fatalf("confirmed claim: exit %d\n%s\n%s", code, c.out.String(), c.errb.String())
	}
	if fp := seal.ClaimFingerprint(c.code, h.key.SignPub(), h.key.Recipient(), root); !strings.Contains(c.out.String(), "Fingerprint: "+fp) {
		t.Fatalf("fingerprint %s not shown:\n%s", fp, c.out.String())
	}
	if r := mustCLI(t, env, "whoami"); !strings.Contains(r.stdout, "roster:    version 2, 1 device(s), 1 hub(s)") {
		t.Fatalf("a confirmed claim did not add the hub:\n%s", r.stdout)
	}
}
