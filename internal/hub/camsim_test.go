package hub

import (
	"bytes"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/camsim"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
)

// startCamsim starts a simulated camera on loopback: a small test pattern
// with a keyframe every second.
func startCamsim(t *testing.T) *camsim.Main {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (scripts/setup installs it)")
	}
	cam := &camsim.Main{Listen: "127.0.0.1:0", Size: "320x240", FPS: 25, GOP: 25,
		Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := cam.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Wait() })
	return cam
}

// checkMedia concatenates the decrypted segments of each manifest run and
// checks they parse as the fMP4 the segmenter writes.
func checkMedia(t *testing.T, manifests []*seal.Manifest, media map[string][]byte) (segments int) {
	t.Helper()
	var all [][]byte
	var last uint64
	for _, m := range manifests {
		for _, o := range m.Objects {
			if segments > 0 && o.Seq <= last {
				t.Fatalf("segment seq %d after %d", o.Seq, last)
			}
			last = o.Seq
			b := media[o.ID]
			if !bytes.Contains(b[:min(len(b), 64)], []byte("ftyp")) {
				t.Fatalf("segment %d does not start with an fMP4 init", o.Seq)
			}
			all = append(all, b)
			segments++
		}
	}
	var out bytes.Buffer
	if err := segment.Concat(&out, all); err != nil {
		t.Fatalf("decrypted segments do not parse: %v", err)
	}
	return segments
}

// TestCamsimToHub records a simulated camera through the real ingest code
// into the in-memory service and decrypts the result as the owner.
func TestCamsimToHub(t *testing.T) {
	cam := startCamsim(t)
	r := newRig(t)
	r.clock = &clock{}
	m := r.main()
	m.Now = time.Now
	m.runSource = nil // the real ingest
	m.MinSegment = time.Second
	m.MaxSegment = 3 * time.Second
	m.Cameras = []Camera{{Name: "sim", URL: cam.URL(), Transport: "tcp"}}
	h := r.start(m)
	r.waitFor("segments", func() bool { s, mm := r.counts(); return s >= 3 && mm >= 1 })
	r.shutdown()
	o := r.open(r.hh.owner)
	n := checkMedia(t, o.manifests, o.segments)
	if n < 3 || h.Stats().Segments != int64(n) {
		t.Fatalf("%d segments listed, stats %+v", n, h.Stats())
	}
	if !slices.Contains(maps(o.names), "sim") {
		t.Fatalf("camera names %v", o.names)
	}
}

func maps(m map[string]string) []string {
	var v []string
	for _, s := range m {
		v = append(v, s)
	}
	return v
}
