package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Clips from Debian's opencv-doc (installed by scripts/setup).
const (
	vtestAVI = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
	treeAVI  = "/usr/share/doc/opencv-doc/examples/data/tree.avi"
)

// h264Clip re-encodes a clip as H.264 (camsim streams H.264/H.265 files
// as they are).
func h264Clip(t *testing.T, dir, src string) string {
	t.Helper()
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("%s: %v (install the clips with `bash scripts/setup`)", src, err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".avi")+".mp4")
	ffmpeg(t, "-i", src, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "20", "-pix_fmt", "yuv420p", "-y", out)
	return out
}

// eventsOf lists the camera's events as the owner's CLI prints them.
func (s *stack) eventsOf(args ...string) string {
	s.t.Helper()
	return s.cli(append([]string{"events", "--camera", s.camName, "--since", "-1h"}, args...)...)
}

// TestDetectionVtest is issue 6's end-to-end test on pedestrians walking
// past parked cars: the hub, analysing its own stream, raises person
// events (decrypted and verified by the owner's CLI, with a thumbnail) and
// no vehicle event for the parked cars; a doorbell press on the hub's
// local endpoint is an event at once.
func TestDetectionVtest(t *testing.T) {
	dir := t.TempDir()
	clip := h264Clip(t, dir, vtestAVI)
	conf := filepath.Join(dir, "hub.toml")
	const token = "e2e-doorbell-token-0123456789"
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("doorbell_listen = \"127.0.0.1:0\"\ndoorbell_token = %q\ndetection = \"on\"\n", token)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStackHub(t, "walkway", []string{"--config", conf}, "--file", clip)
	bell := s.hub.waitFor(`doorbell endpoint listening.*addr=(\S+)`, 60*time.Second)[1]

	var out string
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(out, "person") {
		if time.Now().After(deadline) {
			t.Fatalf("no person event after 2 minutes:\n%s\nhub:\n%s", out, s.hub.output())
		}
		time.Sleep(2 * time.Second)
		out = s.eventsOf("--class", "person")
	}
	t.Logf("person events:\n%s", out)
	if v := s.eventsOf("--class", "vehicle"); strings.Contains(v, "vehicle") {
		t.Errorf("vehicle events for parked cars:\n%s", v)
	}

	// The doorbell: pressed on the hub's LAN endpoint, listed by the CLI.
	req, _ := http.NewRequest("POST", "http://"+bell+"/doorbell/walkway", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	pressed := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("doorbell press: %s", resp.Status)
	}
	for !strings.Contains(s.eventsOf("--kind", "doorbell"), "doorbell") {
		if time.Since(pressed) > 30*time.Second {
			t.Fatalf("the doorbell press is not listed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(pressed)
	t.Logf("doorbell press → listed by the owner's CLI in %v", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the doorbell event took %v to reach the owner, want under a second", took.Round(time.Millisecond))
	}
}

// TestDetectionTree: a swaying tree moves, but nothing alerts.
func TestDetectionTree(t *testing.T) {
	dir := t.TempDir()
	clip := h264Clip(t, dir, treeAVI)
	conf := filepath.Join(dir, "hub.toml")
	if err := os.WriteFile(conf, []byte("detection = \"on\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStackHub(t, "garden", []string{"--config", conf}, "--file", clip)
	// Long enough for the clip (about 30 s at its rate) to play through
	// and its segments to arrive.
	s.waitRecorded("40 s of recording", 150*time.Second, func(out string) bool { return recordedSeconds(out) >= 40 })
	if out := s.eventsOf("--kind", "object"); strings.Contains(out, "person") || strings.Contains(out, "animal") || strings.Contains(out, "vehicle") {
		t.Errorf("object events on a swaying tree:\n%s", out)
	}
}
