package cli

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdLive(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "live", synopsis: "--camera NAME [-o FILE|-] [--duration 10s]", about: `
Watches a camera live. The camera's hub encrypts the stream to this device
alone; the service relays ciphertext. The hub's signed hello is verified
against the hub's key in your household's verified roster, the stream key
is unwrapped with this device's key, and every fragment is decrypted and
checked in order (a missing, repeated or altered one stops the view).

With -o, the video is written as a fragmented MP4 (the file is complete
when the command ends; -o - streams it to standard output, e.g. into
ffplay -). Progress on stderr: frames, seconds of video and the latency
behind the hub's capture time. --duration 0 watches until interrupted.`}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "camera `NAME` (or id)")
	out := fs.String("o", "", "write the video to `FILE` (fragmented MP4), or - for standard output")
	dur := fs.Duration("duration", 10*time.Second, "stop after this much video (`D`; 0: until interrupted)")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	switch {
	case *camName == "":
		return usagef(spec.name, "--camera is required (see `porchlight cameras`)")
	case *dur < 0:
		return usagef(spec.name, "--duration must not be negative")
	}
	if *out != "" {
		if err := m.checkOutput(spec.name, *out); err != nil {
			return err
		}
	}
	h, c, err := m.liveCamera(ctx, *camName)
	if err != nil {
		return err
	}
	name := clean(c.Name)

	sink, err := newLiveSink(m, *out)
	if err != nil {
		return err
	}
	defer sink.abort()

	ls, err := h.conn.c.StartLive(ctx, c.ID, h.dev.ID)
	if err != nil {
		return h.conn.explain("start the live view", err)
	}
	conn, err := h.conn.c.DialLive(ctx, ls.ID)
	if err != nil {
		return h.conn.explain("open the live view", err)
	}
	defer conn.CloseNow()

	v := &liveViewer{
		m: m, sink: sink, dur: *dur,
		want:    keys.LiveWant{Household: h.roster.Household, Camera: c.ID, Session: ls.ID, Device: h.dev.ID},
		trusted: seal.OnlySigner(ed25519.PublicKey(c.hub)),
		dev:     h.dev,
	}
	_, tty := terminalFd(m.Stderr)
	v.tty = tty
	fmt.Fprintf(m.Stderr, "Connecting to %s…\n", name)
	runErr := v.run(ctx, conn)
	v.drawDone()
	if v.frames > 0 {
		dest, err := sink.commit()
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "Live view of %s: %s, %s of video, latency %s%s\n", name, plural(v.frames, "frame"),
			formatDuration(v.video()), v.latencySummary(), dest)
	}
	switch {
	case runErr == nil:
		return nil
	case v.frames > 0:
		return fmt.Errorf("%w (the video received so far is kept)", runErr)
	}
	return runErr
}

// liveCamera finds a camera of this household, or one shared with this
// account, by name or id.
func (m *Main) liveCamera(ctx context.Context, name string) (*household, *camera, error) {
	h, err := m.openHousehold(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := h.camera(ctx, name)
	if err == nil {
		return h, c, nil
	}
	sh, sc, ok, serr := m.sharedCamera(ctx, h, name)
	if errors.Is(serr, errRosterAlarm) {
		return nil, nil, serr
	}
	if serr != nil || !ok {
		return nil, nil, err
	}
	return sh, sc, nil
}

// liveViewer reads one live view's socket.
type liveViewer struct {
	m       *Main
	sink    *liveSink
	dur     time.Duration
	want    keys.LiveWant
	trusted seal.Signers
	dev     *keys.Pair
	tty     bool

	recv      *keys.LiveReceiver
	conn      *websocket.Conn
	timeUp    atomic.Bool // the duration passed: the socket was closed by us
	first     time.Time   // when the first fragment arrived
	frames    int
	latencies []time.Duration // one per fragment
	lastDraw  time.Time
	drawn     bool
}

// errLiveDone ends a view that ran its duration.
var errLiveDone = errors.New("live view done")

// run reads messages until the duration is reached, ctx ends or the
// service closes the socket.
func (v *liveViewer) run(ctx context.Context, conn *websocket.Conn) error {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	v.conn = conn
	// Interrupted: close the socket properly, keep what arrived.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close(websocket.StatusNormalClosure, "viewer_left") })
	defer stop()
	for {
		typ, msg, err := conn.Read(rctx)
		if err != nil {
			if ctx.Err() != nil || v.timeUp.Load() {
				return nil
			}
			return liveClosed(err)
		}
		err = v.handle(typ, msg)
		if errors.Is(err, errLiveDone) {
			_ = conn.Close(websocket.StatusNormalClosure, "viewer_left")
			return nil
		}
		if err != nil {
			_ = conn.Close(websocket.StatusPolicyViolation, "refused")
			return err
		}
	}
}

// handle takes one message.
func (v *liveViewer) handle(typ websocket.MessageType, msg []byte) error {
	if typ == websocket.MessageText {
		var head struct {
			Type  string `json:"type"`
			State string `json:"state"`
		}
		if err := json.Unmarshal(msg, &head); err != nil {
			return fmt.Errorf("the live view sent a malformed message: %w", err)
		}
		switch head.Type {
		case api.LiveStatusType:
			switch head.State {
			case api.LiveWaitingForHub:
				fmt.Fprintln(v.m.Stderr, "Waiting for the hub…")
			case api.LiveStateLive:
				fmt.Fprintln(v.m.Stderr, "The hub answered.")
			}
			return nil
		case "hello":
			if v.recv != nil {
				return errors.New("the live view sent a second hello: refusing the stream")
			}
			recv, _, err := keys.OpenLiveHello(msg, v.trusted, v.dev, v.want)
			if err != nil {
				return fmt.Errorf("the live stream is not from your camera's hub or not for this device: %w", err)
			}
			v.recv = recv
			return nil
		}
		return nil // a message of a later version: ignored
	}
	if v.recv == nil {
		return errors.New("the live view sent video before the hub's signed hello: refusing it")
	}
	seq, pt, err := v.recv.Open(msg)
	if err != nil {
		return err
	}
	if seq == 0 {
		return v.sink.write(pt)
	}
	captured, media, err := seal.ParseLiveFragment(pt)
	if err != nil {
		return err
	}
	now := time.Now()
	if v.first.IsZero() {
		v.first = now
		if v.dur > 0 {
			// Stop on time even if the stream stalls.
			time.AfterFunc(v.dur, func() {
				v.timeUp.Store(true)
				_ = v.conn.Close(websocket.StatusNormalClosure, "viewer_left")
			})
		}
	}
	v.frames += fragmentSamples(media)
	v.latencies = append(v.latencies, now.Sub(captured))
	if err := v.sink.write(media); err != nil {
		return err
	}
	v.draw(now)
	if v.dur > 0 && now.Sub(v.first) >= v.dur {
		v.timeUp.Store(true)
		return errLiveDone
	}
	return nil
}

// video is the wall-clock time video has been arriving.
func (v *liveViewer) video() time.Duration {
	if v.first.IsZero() {
		return 0
	}
	return time.Since(v.first)
}

// draw shows progress on a terminal, at most five times a second.
func (v *liveViewer) draw(now time.Time) {
	if !v.tty || now.Sub(v.lastDraw) < 200*time.Millisecond {
		return
	}
	v.lastDraw, v.drawn = now, true
	fmt.Fprintf(v.m.Stderr, "\r%s  %s  latency %d ms   ", plural(v.frames, "frame"), formatDuration(v.video()),
		v.latencies[len(v.latencies)-1].Milliseconds())
}

func (v *liveViewer) drawDone() {
	if v.drawn {
		fmt.Fprintln(v.m.Stderr)
	}
}

// latencySummary is the median and worst latency behind the hub's
// capture time.
func (v *liveViewer) latencySummary() string {
	if len(v.latencies) == 0 {
		return "unknown"
	}
	l := slices.Clone(v.latencies)
	slices.Sort(l)
	return fmt.Sprintf("p50 %d ms, max %d ms", l[len(l)/2].Milliseconds(), l[len(l)-1].Milliseconds())
}

// liveClosed explains why the service closed a live view.
func liveClosed(err error) error {
	code, reason := apiclient.LiveClose(err)
	switch code {
	case api.LiveClosedSessionEnded:
		return errors.New("your session ended: sign in again (`porchlight login`)")
	case api.LiveClosedHubUnreachable:
		return errors.New("the camera's hub did not answer within 10 s: check that it is running and online")
	case api.LiveClosedCameraOffline:
		return fmt.Errorf("the camera went offline (%s)", clean(reason))
	case api.LiveClosedTooSlow:
		return errors.New("this device fell more than 2 s behind the live stream: check the network and try again")
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return fmt.Errorf("the service ended the live view (%s): try again", clean(reason))
	case -1:
		return fmt.Errorf("the live view broke off: %w", err)
	}
	return fmt.Errorf("the service closed the live view: %s (code %d)", clean(reason), int(code))
}

// fragmentSamples counts the samples of a moof+mdat (the sample_count of
// each trun); 1 if it cannot tell.
func fragmentSamples(b []byte) int {
	n := 0
	var walk func(b []byte)
	walk = func(b []byte) {
		for len(b) >= 8 {
			size := int(binary.BigEndian.Uint32(b))
			typ := string(b[4:8])
			if size < 8 || size > len(b) {
				return
			}
			body := b[8:size]
			switch typ {
			case "moof", "traf":
				walk(body)
			case "trun":
				if len(body) >= 8 {
					n += int(binary.BigEndian.Uint32(body[4:8]))
				}
			}
			b = b[size:]
		}
	}
	walk(b)
	return max(n, 1)
}

// liveSink is where the video goes: a temporary file renamed at the end,
// standard output, or nowhere.
type liveSink struct {
	path string
	f    *os.File
	w    *bufio.Writer
	cw   *countWriter
}

func newLiveSink(m *Main, out string) (*liveSink, error) {
	s := &liveSink{path: out}
	switch out {
	case "":
		s.cw = &countWriter{w: io.Discard}
	case "-":
		s.cw = &countWriter{w: m.Stdout}
	default:
		f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.part")
		if err != nil {
			return nil, fmt.Errorf("create the output file: %w", err)
		}
		s.f, s.cw = f, &countWriter{w: f}
	}
	s.w = bufio.NewWriterSize(s.cw, 1<<20)
	return s, nil
}

func (s *liveSink) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write the video: %w", err)
	}
	if s.path == "-" {
		return s.w.Flush() // a player reads as it comes
	}
	return nil
}

// commit completes the output and says where it went (", 3.1 MB to
// FILE"; "" without output).
func (s *liveSink) commit() (string, error) {
	if err := s.w.Flush(); err != nil {
		return "", fmt.Errorf("write the video: %w", err)
	}
	switch s.path {
	case "":
		return "", nil
	case "-":
		return fmt.Sprintf(", %s to standard output", formatBytes(s.cw.n)), nil
	}
	if err := s.f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := s.f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := os.Rename(s.f.Name(), s.path); err != nil {
		return "", fmt.Errorf("write %s: %w", s.path, err)
	}
	s.f = nil
	return fmt.Sprintf(", %s to %s", formatBytes(s.cw.n), s.path), nil
}

// abort removes an uncommitted file.
func (s *liveSink) abort() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}
