// Package ingest pulls H.264/H.265 video from an RTSP camera, cuts it into
// fMP4 segments with package segment, and keeps reconnecting (with backoff)
// for as long as it runs.
//
// It runs in the hub, the only place camera credentials and plaintext video
// exist. It does not decode, detect, seal or store anything: it hands each
// segment to a callback. Do not use it for audio or for publishing (RECORD).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/porchlight/porchlight/internal/segment"
)

// Errors reported through OnState (wrapped) and the logs. Source.Run keeps
// retrying after all of them: the camera may be fixed or reconfigured.
var (
	// ErrUnauthorized means the camera refused the credentials in the URL
	// (RTSP 401). Ask the owner to correct the user/password.
	ErrUnauthorized = errors.New("camera refused the credentials (RTSP 401): check the user and password in the camera URL")
	// ErrNoVideo means the camera offers no H.264 or H.265 video stream.
	// Ask the owner to change the camera's codec settings.
	ErrNoVideo = errors.New("camera offers no H.264 or H.265 video stream")
	// ErrNotFound means the camera has no stream at the URL's path (RTSP 404).
	ErrNotFound = errors.New("camera has no stream at this path (RTSP 404): check the URL")
)

// Backoff bounds between connection attempts.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Source is one camera. Set the fields, then call Run once.
type Source struct {
	// Name identifies the camera in logs only.
	Name string
	// URL is rtsp://[user:pass@]host[:port]/path. Credentials are used for
	// digest/basic auth and never logged.
	URL string
	// Transport is "tcp", "udp" or "auto" (UDP, falling back to TCP).
	// It defaults to "tcp".
	Transport string
	// MinSegment and MaxSegment bound segment durations (see segment.Cutter).
	// They default to 2 s and 6 s.
	MinSegment, MaxSegment time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// OnSegment receives every segment, in order, from a single goroutine
	// owned by Run. It may block briefly (about 10 s of video is queued
	// behind it); a consumer slower than real time stalls the camera.
	OnSegment func(segment.Segment)
	// OnState is called with true when a connection starts delivering video,
	// and with false and the cause when it is lost, or when the first attempt
	// (or the first after having been online) fails; repeated failures are
	// not reported again. It is not called when Run returns because ctx is
	// done. Calls are never concurrent.
	OnState func(online bool, err error)
	// OnAccessUnit, if set, receives every access unit after the segment
	// cutter has taken it, from the same goroutine, with the stream's codec
	// and current parameter sets (for a decoder: cameras often send them
	// only in the SDP). It must not block or keep au: the slices are
	// reused.
	OnAccessUnit func(codec string, params [][]byte, anchor time.Time, pts time.Duration, au [][]byte)

	segments     atomic.Uint64
	bytes        atomic.Uint64
	frames       atomic.Uint64
	reconnects   atomic.Uint64
	decodeErrors atomic.Uint64
	online       atomic.Bool
}

// Stats are counters since Run started.
type Stats struct {
	Segments     uint64 // segments emitted
	Bytes        uint64 // bytes of segments emitted
	Frames       uint64 // frames in segments emitted
	Reconnects   uint64 // connection attempts after the first
	DecodeErrors uint64 // RTP packets or frames that could not be used
	Online       bool   // a connection is delivering video
}

// Stats returns the counters; it is safe to call concurrently with Run.
func (s *Source) Stats() Stats {
	return Stats{
		Segments:     s.segments.Load(),
		Bytes:        s.bytes.Load(),
		Frames:       s.frames.Load(),
		Reconnects:   s.reconnects.Load(),
		DecodeErrors: s.decodeErrors.Load(),
		Online:       s.online.Load(),
	}
}

// job is work for the segment goroutine: an access unit, or a flush.
type job struct {
	cutter *segment.Cutter
	anchor time.Time
	pts    time.Duration
	au     [][]byte
	flush  bool
	done   chan struct{} // closed after a flush
}

// Run connects and records until ctx is done, then returns nil. It reconnects
// after any failure with exponential backoff (0.5 s doubling to 30 s, ±20 %
// jitter), reset once a connection delivers video. It returns an error only
// for an invalid configuration.
func (s *Source) Run(ctx context.Context) error {
	u, err := base.ParseURL(s.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, credentials included
		}
		return fmt.Errorf("ingest: camera %s: invalid URL: %w", s.Name, err)
	}
	proto, err := protocol(s.Transport)
	if err != nil {
		return fmt.Errorf("ingest: camera %s: %w", s.Name, err)
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("camera", s.Name, "url", redactURL(u))

	jobs := make(chan job, 256)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.cutLoop(jobs)
	}()
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	r := &run{s: s, u: u, proto: proto, log: log, jobs: jobs,
		errs: &errorSummary{log: log, name: s.Name, window: time.Minute}}
	backoff := minBackoff
	reportedOffline := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.reconnects.Add(1)
		}
		gotVideo, err := r.connect(ctx)
		s.online.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if gotVideo {
			backoff = minBackoff
			reportedOffline = false
		}
		err = s.redact(err)
		if !reportedOffline {
			reportedOffline = true
			r.errs.seen(err)
			log.Warn("camera offline", "err", err)
			if s.OnState != nil {
				s.OnState(false, err)
			}
		} else {
			r.errs.report(err)
		}

		d := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		backoff = min(2*backoff, maxBackoff)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// cutLoop owns the segment callback: every segment is emitted from here.
func (s *Source) cutLoop(jobs <-chan job) {
	for j := range jobs {
		if j.flush {
			j.cutter.Flush()
			close(j.done)
			continue
		}
		if err := j.cutter.WriteAccessUnit(j.anchor, j.pts, j.au); err != nil {
			s.decodeErrors.Add(1)
			j.cutter.Logger.Debug("access unit dropped", "err", err)
			continue
		}
		if s.OnAccessUnit != nil {
			s.OnAccessUnit(j.cutter.Codec, j.cutter.ParameterSets(), j.anchor, j.pts, j.au)
		}
	}
}

func (s *Source) emit(seg segment.Segment) {
	s.segments.Add(1)
	s.bytes.Add(uint64(len(seg.Data)))
	s.frames.Add(uint64(seg.Frames))
	if s.OnSegment != nil {
		s.OnSegment(seg)
	}
}

// run is the state of one Source.Run.
type run struct {
	s     *Source
	u     *base.URL
	proto *gortsplib.Protocol
	log   *slog.Logger
	jobs  chan<- job
	errs  *errorSummary
}

// connect runs one connection until it fails or ctx is done, and reports
// whether video arrived. The current segment is flushed before it returns.
func (r *run) connect(ctx context.Context) (gotVideo bool, err error) {
	c := &gortsplib.Client{
		Scheme:   r.u.Scheme,
		Host:     r.u.Host,
		Protocol: r.proto,
	}
	var decodeErrs atomic.Uint64
	c.OnDecodeError = func(error) { decodeErrs.Add(1) }
	c.OnPacketsLost = func(n uint64) { decodeErrs.Add(n) }
	if err := c.Start(); err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	// Flush after the client is closed, so no packet can follow the flush.
	var cutter *segment.Cutter
	defer func() {
		if cutter != nil {
			done := make(chan struct{})
			r.jobs <- job{cutter: cutter, flush: true, done: done}
			<-done
		}
	}()
	defer c.Close()

	desc, _, err := c.Describe(r.u)
	if err != nil {
		return false, describeErr(err)
	}

	cutter = &segment.Cutter{
		Min:       r.s.MinSegment,
		Max:       r.s.MaxSegment,
		OnSegment: r.s.emit,
		Logger:    r.log,
	}
	var decode func(*rtp.Packet) ([][]byte, error)
	var h264f *format.H264
	var h265f *format.H265
	medi := desc.FindFormat(&h265f)
	var forma format.Format
	if medi != nil {
		cutter.Codec = segment.H265
		cutter.SetParameterSets(h265f.VPS, h265f.SPS, h265f.PPS)
		dec, err := h265f.CreateDecoder()
		if err != nil {
			return false, err
		}
		decode, forma = dec.Decode, h265f
	} else if medi = desc.FindFormat(&h264f); medi != nil {
		cutter.Codec = segment.H264
		cutter.SetParameterSets(nil, h264f.SPS, h264f.PPS)
		dec, err := h264f.CreateDecoder()
		if err != nil {
			return false, err
		}
		decode, forma = dec.Decode, h264f
	} else {
		return false, ErrNoVideo
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return false, describeErr(err)
	}

	var (
		anchor     time.Time
		pts0       int64
		gotFirst   bool
		video      = make(chan struct{})
		firstVideo sync.Once
	)
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(medi, pkt)
		if !ok {
			return // waiting for a packet that fixes the timeline
		}
		if !gotFirst {
			gotFirst = true
			anchor, pts0 = time.Now(), pts
		}
		au, err := decode(pkt)
		if err != nil {
			if !errors.Is(err, rtph264.ErrMorePacketsNeeded) && !errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) &&
				!errors.Is(err, rtph265.ErrMorePacketsNeeded) && !errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) {
				decodeErrs.Add(1)
			}
			return
		}
		firstVideo.Do(func() { close(video) })
		r.jobs <- job{cutter: cutter, anchor: anchor, pts: ticksToDuration(pts - pts0), au: au}
	})

	if _, err := c.Play(nil); err != nil {
		return false, describeErr(err)
	}

	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	select {
	case <-video:
		gotVideo = true
		r.errs.clear()
		r.s.online.Store(true)
		r.log.Info("camera online", "codec", cutter.Codec, "transport", transportName(c))
		if r.s.OnState != nil {
			r.s.OnState(true, nil)
		}
		err = <-waitErr
	case err = <-waitErr:
	}
	r.s.decodeErrors.Add(decodeErrs.Load())
	if ctx.Err() != nil {
		return gotVideo, ctx.Err()
	}
	return gotVideo, err
}

func transportName(c *gortsplib.Client) string {
	if t := c.Transport(); t != nil && t.Session != nil {
		return t.Session.Protocol.String()
	}
	return "?"
}

// describeErr turns RTSP status errors into the package's errors.
func describeErr(err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		switch bad.Code {
		case base.StatusUnauthorized:
			return ErrUnauthorized
		case base.StatusNotFound:
			return ErrNotFound
		}
	}
	return err
}

func protocol(t string) (*gortsplib.Protocol, error) {
	var p gortsplib.Protocol
	switch strings.ToLower(t) {
	case "", "tcp":
		p = gortsplib.ProtocolTCP
	case "udp":
		p = gortsplib.ProtocolUDP
	case "auto":
		return nil, nil
	default:
		return nil, fmt.Errorf("transport %q: want tcp, udp or auto", t)
	}
	return &p, nil
}

// redactURL returns the URL without user information, for logs.
func redactURL(u *base.URL) string {
	c := *(*url.URL)(u)
	c.User = nil
	return c.String()
}

// redact removes the URL's credentials from an error message, keeping the
// error chain for errors.Is.
func (s *Source) redact(err error) error {
	if err == nil {
		return nil
	}
	u, perr := url.Parse(s.URL)
	if perr != nil || u.User == nil {
		return err
	}
	msg := err.Error()
	clean := msg
	if ui := u.User.String(); ui != "" {
		clean = strings.ReplaceAll(clean, ui+"@", "")
	}
	if p, ok := u.User.Password(); ok && len(p) >= 4 {
		clean = strings.ReplaceAll(clean, p, "xxxxx")
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func ticksToDuration(t int64) time.Duration {
	return time.Duration(t/90000*int64(time.Second)) + time.Duration(t%90000*100000/9)
}
