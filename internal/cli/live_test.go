package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
)

// serveLive plays the hub's side of one live view: it waits for the
// request, checks it names the device, opens the hub socket and sends the
// signed hello, the init segment and each segment's fragment sealed as
// the hub does, then keeps the socket open until the service closes it.
// It returns what it sent in the clear (init + fragments) on done.
func (h *testHub) serveLive(camera string, segs []segment.Segment, hello func(*seal.LiveHello)) <-chan []byte {
	t := h.t
	done := make(chan []byte, 1)
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var req api.LiveRequest
		for req.ID == "" {
			reqs, err := h.c.HubLiveRequests(ctx, 5*time.Second)
			if err != nil {
				t.Errorf("hub: live requests: %v", err)
				return
			}
			if len(reqs) > 0 {
				req = reqs[0]
			}
		}
		e := h.roster.Entry(req.Device)
		if e == nil || req.Camera != camera {
			t.Errorf("hub: live request %+v for a device not in the roster or another camera", req)
			return
		}
		to, err := seal.ParseRecipient(e.KEM)
		if err != nil {
			t.Errorf("hub: %v", err)
			return
		}
		hl := seal.LiveHello{Household: h.household, Camera: camera, Session: req.ID, Device: req.Device, MIME: `video/mp4; codecs="avc1.64001f"`}
		if hello != nil {
			hello(&hl)
		}
		sender, helloMsg, err := seal.NewLiveSender(h.key.Sign, hl, to)
		if err != nil {
			t.Errorf("hub: %v", err)
			return
		}
		conn, err := h.c.DialHubLive(ctx, req.ID)
		if err != nil {
			t.Errorf("hub: dial: %v", err)
			return
		}
		defer conn.CloseNow()
		var clear bytes.Buffer
		send := func(typ websocket.MessageType, b []byte) bool {
			if err := conn.Write(ctx, typ, b); err != nil {
				return false // the viewer may have left already
			}
			return true
		}
		if !send(websocket.MessageText, helloMsg) {
			return
		}
		init, frags := liveFragments(t, segs)
		clear.Write(init)
		send(websocket.MessageBinary, sender.Seal(init))
		for _, media := range frags {
			if !send(websocket.MessageBinary, sender.Seal(seal.LiveFragment(time.Now().Add(-50*time.Millisecond), media))) {
				break
			}
			clear.Write(media)
		}
		done <- clear.Bytes()
		_, _, _ = conn.Read(ctx) // until the service closes it
	}()
	return done
}

// TestLive: `porchlight live` verifies the hub's hello against the
// roster, decrypts every fragment and writes a playable fragmented MP4;
// a hello signed by another key is refused.
func TestLive(t *testing.T) {
	segs := testSegments(t)[:3]
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("porch")

	sent := hub.serveLive(cam, segs, nil)
	out := filepath.Join(dir, "live.mp4")
	r := runCLI(t, env, "", "live", "--camera", "porch", "-o", out, "--duration", "1s")
	if r.code != 0 {
		t.Fatalf("porchlight live: exit %d\n%s", r.code, r.stderr)
	}
	want := <-sent
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the file (%d bytes) is not the init segment and fragments the hub sent (%d bytes)", len(got), len(want))
	}
	frames := 0
	for _, s := range segs {
		frames += s.Frames
	}
	if !strings.Contains(r.stderr, plural(frames, "frame")) || !strings.Contains(r.stderr, "latency p50") {
		t.Errorf("progress does not show %d frames and the latency:\n%s", frames, r.stderr)
	}
	if n := probeFrames(t, out); n != frames {
		t.Errorf("ffprobe counts %d frames, want %d", n, frames)
	}

	// A hello for another device is refused, and nothing is written.
	other := filepath.Join(dir, "other.mp4")
	hub.serveLive(cam, segs, func(h *seal.LiveHello) { h.Device = seal.NewID()[:20] })
	r = runCLI(t, env, "", "live", "--camera", "porch", "-o", other, "--duration", "1s")
	if r.code == 0 || !strings.Contains(r.stderr, "not for this device") {
		t.Errorf("a hello for another device: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a refused stream left %s", other)
	}
}

// liveFragments joins segs into one continuous fMP4 (as a hub's live
// stream is) and splits it into the init segment and moof+mdat fragments.
func liveFragments(t *testing.T, segs []segment.Segment) (init []byte, frags [][]byte) {
	var data [][]byte
	for _, s := range segs {
		data = append(data, s.Data)
	}
	var buf bytes.Buffer
	if err := segment.Concat(&buf, data); err != nil {
		t.Error(err)
		return nil, nil
	}
	b := buf.Bytes()
	start := -1
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		switch string(b[off+4 : off+8]) {
		case "moof":
			if init == nil {
				init = b[:off]
			}
			start = off
		case "mdat":
			frags = append(frags, b[start:off+size])
		}
		off += size
	}
	return init, frags
}
