package e2e

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tee is a TCP relay in front of porchlightd that keeps everything
// porchlightd sends back on each connection: what the service put on the
// wire, to look for plaintext in.
type tee struct {
	l    net.Listener
	mu   sync.Mutex
	seen []*bytes.Buffer // per connection, server → client
}

// teeAt listens on addr (retrying while a stopped process still holds
// it) and relays to the address upstream returns.
func teeAt(t *testing.T, addr string, upstream func() string) *tee {
	var l net.Listener
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("address %s not free again: %v", addr, err)
		}
	}
	tp := &tee{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream())
			if err != nil {
				c.Close()
				continue
			}
			buf := &bytes.Buffer{}
			tp.mu.Lock()
			tp.seen = append(tp.seen, buf)
			tp.mu.Unlock()
			go func() {
				_, _ = io.Copy(u, c)
				u.Close()
			}()
			go func() {
				_, _ = io.Copy(io.MultiWriter(c, lockedWriter{&tp.mu, buf}), u)
				c.Close()
			}()
		}
	}()
	return tp
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// liveMessages returns the binary WebSocket messages porchlightd sent on
// the upgraded connections (server frames are unmasked and, here,
// unfragmented and uncompressed).
func (tp *tee) liveMessages(t *testing.T) [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out [][]byte
	for _, buf := range tp.seen {
		b := buf.Bytes()
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 101")) {
			continue
		}
		i := bytes.Index(b, []byte("\r\n\r\n"))
		b = b[i+4:]
		for len(b) >= 2 {
			op, n, hl := b[0]&0x0f, int(b[1]&0x7f), 2
			switch {
			case n == 126 && len(b) >= 4:
				n, hl = int(binary.BigEndian.Uint16(b[2:])), 4
			case n == 127 && len(b) >= 10:
				n, hl = int(binary.BigEndian.Uint64(b[2:])), 10
			case n >= 126:
				n = len(b) // cut short: stop below
			}
			if len(b) < hl+n {
				break
			}
			if op == 2 {
				out = append(out, b[hl:hl+n])
			}
			b = b[hl+n:]
		}
	}
	return out
}

// TestLive: `porchlight live` against the real hub, camera and service
// writes a playable MP4, and what porchlightd relayed is ciphertext only:
// no MP4 box, no H.264 start code and no piece of the decrypted video.
func TestLive(t *testing.T) {
	const camName = "live-cam-e2e-5120"
	dir := t.TempDir()
	src := makeSource(t, dir, "h264", 12)
	s := newStack(t, camName, "--file", src)
	s.waitRecorded("a first segment", 90*time.Second, func(out string) bool { return strings.Count(out, "segments") > 0 })

	// Put the tee where porchlightd was (the CLI's session and the hub
	// know that address) and start porchlightd behind it.
	front := s.svcAddr
	s.svc.stop()
	var back sync.Mutex
	tp := teeAt(t, front, func() string { back.Lock(); defer back.Unlock(); return s.svcAddr })
	back.Lock()
	s.startService("127.0.0.1:0")
	back.Unlock()

	out := filepath.Join(dir, "live.mp4")
	var stderr string
	var err error
	for range 3 { // the hub may still be reconnecting to the restarted service
		if _, stderr, err = run(t, s.cliEnv, "porchlight", "live", "--camera", camName, "--duration", "3s", "-o", out); err == nil {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err != nil {
		t.Fatalf("porchlight live: %v\n%s\nhub:\n%s", err, stderr, s.hub.output())
	}
	t.Logf("porchlight live: %s", strings.TrimSpace(stderr))

	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", out).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, probe)
	}
	frames, err := strconv.Atoi(strings.TrimSpace(string(probe)))
	if err != nil || frames <= 0 {
		t.Fatalf("ffprobe counts %q frames in the live recording", probe)
	}
	t.Logf("live recording: %d frames", frames)

	plain, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	msgs := tp.liveMessages(t)
	if len(msgs) < 2 {
		t.Fatalf("the relay carried %d binary messages", len(msgs))
	}
	var relayed int
	for i, m := range msgs {
		relayed += len(m)
		if len(m) < 9 || m[0] != 0x01 {
			t.Fatalf("relayed message %d does not start with the live header", i)
		}
		ct := m[9:] // after version and sequence number
		for _, box := range []string{"ftyp", "moov", "moof", "mdat", "avcC"} {
			if bytes.Contains(ct, []byte(box)) {
				t.Errorf("relayed message %d carries an MP4 %q box in the clear", i, box)
			}
		}
		for _, nal := range []byte{0x65, 0x67, 0x68} { // IDR, SPS, PPS
			if bytes.Contains(ct, []byte{0, 0, 0, 1, nal}) {
				t.Errorf("relayed message %d carries an H.264 start code and NAL %#x", i, nal)
			}
		}
	}
	// No 32-byte piece of the decrypted video passed the service in the clear.
	all := bytes.Join(msgs, nil)
	for off := 64; off+32 <= len(plain); off += max(len(plain)/200, 32) {
		if bytes.Contains(all, plain[off:off+32]) {
			t.Fatalf("decrypted bytes at offset %d of the recording were relayed in the clear", off)
		}
	}
	t.Logf("relayed %d binary messages, %d bytes of ciphertext", len(msgs), relayed)
}
