// Package decode turns the hub's own camera stream into low-rate frames for
// analysis (motion, object detection), without a second camera connection.
//
// The recorder hands every access unit to a Decoder next to the segment
// cutter. The Decoder copies it into a bounded queue and returns at once;
// one goroutine per camera decodes the queue with libavcodec (in process,
// through cgo), keeps about Config.FPS frames a second, and scales those
// with swscale. It is not meant for playback or export: frames are dropped
// whenever analysis falls behind.
//
// # Frame times
//
// Each access unit goes into the decoder with its sequence number as the
// packet's timestamp, and each picture comes out with the number of the
// access unit it was decoded from, so Frame.Time is exactly the anchor+PTS
// of that access unit, whatever the reordering (B-frames), dropped input or
// decoding errors. Frames are kept on a schedule of 1/FPS in capture time:
// a picture is kept once it is within half an input interval of being
// due, so frames come about 1/FPS apart, give or take one input interval;
// streams slower than FPS give every picture. Times are strictly
// increasing.
//
// # Latency and cost
//
// The decoder runs with one thread and low delay: a picture comes out as
// soon as its access unit is decoded, so a kept frame reaches the consumer
// a millisecond or two after its access unit was written
// (BenchmarkLatency720p). Every picture must be decoded (the next ones
// refer to it), but only kept ones are scaled and converted: in YUV first,
// then to RGB unscaled, about a third of the cost of swscale's scaled RGB
// output. Access units whose pictures will not be kept wait and are
// decoded in one go with the next one that will, which keeps the caches
// warm: about a fifth less CPU than decoding each as it arrives, and no
// later for the kept frame (with B-frames a kept picture may come out one
// batch later). The deblocking filter is skipped (AVDISCARD_ALL): analysis
// at 640 px does not need it. BenchmarkCPU720p: about 3 % of a core per
// 720p 25 fps H.264 camera here.
//
// # Failures
//
// A new picture size (an SPS declaring another size) reopens the decoder
// at the IDR that carries it. Decoding errors are counted (Stats.Errors,
// from libavcodec's error messages and failed calls) and the decoder carries
// on; libavcodec's own log is kept off stderr. WriteAccessUnit never
// blocks: when the queue is full the access unit is dropped and the decoder
// skips to the next IDR; when the consumer is slower than the frame rate,
// only the newest frame waits for it, and decoding goes on meanwhile, so
// the consumer always gets a fresh frame.
package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porchlight/porchlight/internal/frame"
	"golang.org/x/sys/unix"
)

// Config configures a Decoder. The zero value of every field but Codec works.
type Config struct {
	// Codec is "h264" or "h265" (required).
	Codec string
	// FPS is the analysis rate, in frames per second. It defaults to 5.
	// Streams slower than FPS give every frame.
	FPS float64
	// Width is the width of output frames. It defaults to 640, rounded up to
	// even. The height keeps the aspect ratio and is even.
	Width int
	// Color also produces RGB (Frame.RGB); Gray is then derived from it.
	Color bool
	// Queue is how many access units may wait for the decoder before new
	// ones are dropped. It defaults to 100 (4 s at 25 fps).
	Queue int
	// Logger receives reopenings and decoding errors. It defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Stats are a Decoder's counters since New.
type Stats struct {
	In            uint64        // access units queued for decoding
	Out           uint64        // frames handed to the consumer
	Dropped       uint64        // DroppedAUs + DroppedFrames
	DroppedAUs    uint64        // access units dropped: queue full, or no decoder
	DroppedFrames uint64        // decoded frames replaced by a newer one before the consumer took them
	Errors        uint64        // libavcodec's error messages, failed calls and failed opens
	Restarts      uint64        // decoder openings after the first (a new picture size)
	Queued        int           // access units waiting now
	LastError     error         // the most recent error, or nil
	CPU           time.Duration // CPU time spent decoding and scaling so far (the decoding thread's)
}

const (
	defaultFPS    = 5.0
	defaultWidth  = 640
	defaultQueue  = 100
	maxQueueBytes = 32 << 20
	ringSize      = 1024 // access units in the decoder at once; far more than its delay
	maxHeld       = 50   // access units waiting to be decoded with the next kept one
	minBackoff    = 250 * time.Millisecond
	maxBackoff    = 30 * time.Second
	closeTimeout  = 10 * time.Second
	defaultTol    = 20 * time.Millisecond // half an input interval at 25 fps
)

// item is one access unit ready for the decoder.
type item struct {
	data    []byte // Annex-B
	seq     uint64
	t       time.Time
	idr     bool
	restart bool // the first IDR of a new picture size
}

// Decoder decodes one camera's stream. WriteAccessUnit may be called from
// one goroutine (the recorder's) concurrently with Stats and Close.
type Decoder struct {
	cfg    Config
	out    func(*frame.Frame)
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	queue       chan item
	queuedBytes atomic.Int64
	frames      chan *frame.Frame // capacity 1: the newest frame waiting for out
	runDone     chan struct{}
	deliverDone chan struct{}

	// mu guards the writer side: the fields from closed to seq. It is
	// never held while waiting for anything.
	mu      sync.Mutex
	closed  bool
	vps     []byte
	sps     []byte
	pps     []byte
	pending paramSets // seen since the last picture, not yet at an IDR
	w, h    int       // picture size declared by sps, 0 if unknown
	resize  bool      // the next IDR starts a new picture size
	waitIDR bool      // drop access units until an IDR
	behind  bool      // waitIDR because an access unit was dropped
	anchor  time.Time // of the last access unit
	seq     uint64    // of the next access unit

	statMu  sync.Mutex // guards lastErr; taken after mu, never before
	lastErr error      // the most recent error

	in, outN, droppedAUs, droppedFrames, errs, restarts atomic.Uint64
	cpu                                                 atomic.Int64 // ns of the decoding thread
}

// New checks cfg and starts the decoder; libavcodec's decoder opens at the
// first IDR. out receives frames in time order from one
// goroutine; while it runs, newer frames replace each other (see Stats).
// Cancelling ctx stops decoding at once; Close stops it cleanly.
func New(ctx context.Context, cfg Config, out func(*frame.Frame)) (*Decoder, error) {
	if cfg.Codec != H264 && cfg.Codec != H265 {
		return nil, fmt.Errorf("decode: unknown codec %q: want %q or %q", cfg.Codec, H264, H265)
	}
	if cfg.FPS <= 0 {
		cfg.FPS = defaultFPS
	}
	if cfg.Width <= 0 {
		cfg.Width = defaultWidth
	}
	cfg.Width += cfg.Width % 2
	if cfg.Queue <= 0 {
		cfg.Queue = defaultQueue
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if out == nil {
		out = func(*frame.Frame) {}
	}
	d := &Decoder{
		cfg: cfg, out: out, log: cfg.Logger,
		queue:       make(chan item, cfg.Queue),
		frames:      make(chan *frame.Frame, 1),
		runDone:     make(chan struct{}),
		deliverDone: make(chan struct{}),
		waitIDR:     true,
	}
	d.ctx, d.cancel = context.WithCancel(ctx)
	go d.run()
	go d.deliverLoop()
	return d, nil
}

// WriteAccessUnit queues one access unit (NAL units without start codes;
// copied, the caller may reuse them). pts is its presentation time relative
// to anchor, the wall clock of the stream start, as for segment.Cutter; a
// new anchor means a new stream, decoded from its first IDR.
//
// It never blocks: it drops the access unit, and those up to the next IDR,
// when the queue is full. Parameter sets are taken at IDRs (with those
// arriving alone just before) and put in front of later IDRs that lack
// them; elsewhere they are ignored, so a corrupt one cannot replace a good
// one. Nothing is decoded before the first IDR with known parameter sets.
func (d *Decoder) WriteAccessUnit(anchor time.Time, pts time.Duration, au [][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	codec := d.cfg.Codec
	var vcl, idr bool
	var own paramSets // this access unit's
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if isVCL(codec, n) {
			vcl = true
			idr = idr || isIDRNALU(codec, n)
			continue
		}
		switch paramKind(codec, n) {
		case 'v':
			own.vps = n
		case 's':
			own.sps = n
		case 'p':
			own.pps = n
		}
	}
	// Parameter sets take effect at an IDR: those in other access units
	// are more likely corruption than a change, and must not replace good
	// ones. Parameter sets arriving alone wait for the next access unit.
	d.pending.merge(own)
	if !vcl {
		return
	}
	if idr {
		d.commitLocked(d.pending)
	}
	d.pending = paramSets{}
	hasVPS, hasSPS, hasPPS := own.vps != nil, own.sps != nil, own.pps != nil
	if !anchor.Equal(d.anchor) {
		d.anchor = anchor
		d.waitIDR = true
	}
	if !idr && d.waitIDR {
		if d.behind {
			d.droppedAUs.Add(1) // undecodable after a dropped one
		}
		return
	}
	var pre [][]byte
	if idr {
		if d.sps == nil || d.pps == nil || (codec == H265 && d.vps == nil) {
			return // undecodable until the parameter sets are known
		}
		if codec == H265 && !hasVPS {
			pre = append(pre, d.vps)
		}
		if !hasSPS {
			pre = append(pre, d.sps)
		}
		if !hasPPS {
			pre = append(pre, d.pps)
		}
	}
	seq := d.seq
	d.seq++
	it := item{data: annexB(codec, pre, au, idr), seq: seq, t: anchor.Add(pts), idr: idr, restart: idr && d.resize}
	if d.queuedBytes.Load()+int64(len(it.data)) > maxQueueBytes {
		d.dropLocked()
		return
	}
	select {
	case d.queue <- it:
		d.queuedBytes.Add(int64(len(it.data)))
		d.in.Add(1)
		if idr {
			d.waitIDR, d.resize, d.behind = false, false, false
		}
	default:
		d.dropLocked()
	}
}

// dropLocked counts a dropped access unit; what follows it cannot be
// decoded until the next IDR. The caller holds mu.
func (d *Decoder) dropLocked() {
	d.droppedAUs.Add(1)
	d.waitIDR, d.behind = true, true
}

// paramSets are parameter-set NAL units.
type paramSets struct{ vps, sps, pps []byte }

// merge takes copies of the sets o has.
func (p *paramSets) merge(o paramSets) {
	if o.vps != nil {
		p.vps = bytes.Clone(o.vps)
	}
	if o.sps != nil {
		p.sps = bytes.Clone(o.sps)
	}
	if o.pps != nil {
		p.pps = bytes.Clone(o.pps)
	}
}

// commitLocked makes p the parameter sets of the stream. The caller holds mu.
func (d *Decoder) commitLocked(p paramSets) {
	if p.vps != nil && d.cfg.Codec == H265 && !bytes.Equal(d.vps, p.vps) {
		d.vps = bytes.Clone(p.vps)
	}
	if p.sps != nil {
		d.learnSPS(p.sps)
	}
	if p.pps != nil && !bytes.Equal(d.pps, p.pps) {
		d.pps = bytes.Clone(p.pps)
	}
}

// learnSPS remembers an SPS and notes a change of picture size. An
// SPS that does not parse is only taken when none is known: a corrupt one
// must not replace a good one. The caller holds mu.
func (d *Decoder) learnSPS(n []byte) {
	if bytes.Equal(d.sps, n) {
		return
	}
	w, h, ok := spsSize(d.cfg.Codec, n)
	if !ok {
		if d.sps == nil {
			d.sps = bytes.Clone(n)
		}
		return
	}
	d.sps = bytes.Clone(n)
	if d.w != 0 && (w != d.w || h != d.h) {
		d.resize = true
	}
	d.w, d.h = w, h
}

// SetParameterSets sets parameter sets known out of band (the SDP's
// sprop-parameter-sets); vps is ignored for H.264, nil leaves a value
// unchanged. In-band parameter sets replace them.
func (d *Decoder) SetParameterSets(vps, sps, pps []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.commitLocked(paramSets{vps, sps, pps})
}

// Stats returns the decoder's counters.
func (d *Decoder) Stats() Stats {
	s := Stats{
		In: d.in.Load(), Out: d.outN.Load(), DroppedAUs: d.droppedAUs.Load(), DroppedFrames: d.droppedFrames.Load(),
		Errors: d.errs.Load(), Restarts: d.restarts.Load(), Queued: len(d.queue),
	}
	s.Dropped = s.DroppedAUs + s.DroppedFrames
	s.CPU = time.Duration(d.cpu.Load())
	d.statMu.Lock()
	s.LastError = d.lastErr
	d.statMu.Unlock()
	return s
}

// Close decodes what is queued, delivers the last frames and closes the
// decoder. It waits at most about 10 s (and for the consumer's current
// call), then drops what is left. Access units written after Close are
// ignored.
func (d *Decoder) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.deliverDone
		return nil
	}
	d.closed = true
	close(d.queue)
	d.mu.Unlock()

	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-d.runDone:
	case <-t.C:
		d.log.Warn("decode: the queue was not decoded in time; the rest is dropped", "timeout", closeTimeout)
		d.cancel()
	}
	<-d.deliverDone
	d.cancel()
	return nil
}

// noteError counts an error and keeps it as the last one.
func (d *Decoder) noteError(err error) {
	d.errs.Add(1)
	d.statMu.Lock()
	d.lastErr = err
	d.statMu.Unlock()
}

func (d *Decoder) deliverLoop() {
	defer close(d.deliverDone)
	for f := range d.frames {
		d.out(f)
		d.outN.Add(1)
	}
}

// deliver hands f to the consumer. When a frame is still waiting after one
// frame interval (the consumer is slower than FPS, not just catching up a
// burst), f replaces it.
func (d *Decoder) deliver(f *frame.Frame) {
	select {
	case d.frames <- f:
		return
	default:
	}
	t := time.NewTimer(time.Duration(float64(time.Second) / d.cfg.FPS))
	select {
	case d.frames <- f:
		t.Stop()
		return
	case <-t.C:
	case <-d.ctx.Done():
		t.Stop()
	}
	for {
		select {
		case d.frames <- f:
			return
		default:
		}
		select {
		case <-d.frames:
			d.droppedFrames.Add(1)
		default:
		}
	}
}

// next takes an access unit from the queue; ok is false when the queue is
// closed or ctx is done.
func (d *Decoder) next() (item, bool) {
	select {
	case it, ok := <-d.queue:
		if ok {
			d.queuedBytes.Add(-int64(len(it.data)))
		}
		return it, ok
	case <-d.ctx.Done():
		return item{}, false
	}
}

// run decodes the queue until it closes: it opens the decoder at an IDR,
// reopens it for a new picture size, and hands kept frames to deliver.
func (d *Decoder) run() {
	defer close(d.runDone)
	defer close(d.frames)
	// The thread's CPU clock measures decoding (Stats.CPU).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := &runner{d: d, backoff: minBackoff}
	defer r.closeCodec()
	for {
		it, ok := d.next()
		if !ok {
			if d.ctx.Err() == nil { // closed: decode what is left
				r.flush()
				r.drain()
			}
			return
		}
		if r.c == nil || it.restart {
			if !it.idr {
				d.droppedAUs.Add(1) // waiting for an IDR to start from
				continue
			}
			if !r.open() {
				d.droppedAUs.Add(1)
				continue
			}
		}
		r.add(it)
	}
}

// runner is run's state: the decoder, the access units waiting for it and
// the schedule of kept frames.
type runner struct {
	d       *Decoder
	c       *codec
	opened  int
	retry   time.Time // no new decoder before this, after a failed open
	backoff time.Duration

	held  []item
	times [ringSize]struct {
		seq uint64
		t   time.Time
	}
	prevT time.Time     // of the latest access unit
	tol   time.Duration // half an input interval
	due   time.Time     // when the next frame is due
	lastT time.Time     // of the latest frame delivered
}

// open (re)opens the decoder at an IDR, after decoding what the old one
// holds; false when it cannot be opened now.
func (r *runner) open() bool {
	d := r.d
	if r.c != nil {
		r.flush()
		r.drain()
		r.closeCodec()
		d.log.Info("decode: new picture size; decoder reopened")
	}
	if time.Now().Before(r.retry) {
		return false
	}
	c, err := openCodec(d.cfg.Codec)
	if err != nil {
		d.noteError(err)
		d.log.Warn("decode: cannot open the decoder; retrying at a later IDR", "err", err, "backoff", r.backoff)
		r.retry = time.Now().Add(r.backoff)
		r.backoff = min(2*r.backoff, maxBackoff)
		return false
	}
	if r.opened > 0 {
		d.restarts.Add(1)
	}
	r.opened++
	r.c, r.backoff = c, minBackoff
	return true
}

func (r *runner) closeCodec() {
	if r.c != nil {
		r.c.close()
		r.c = nil
	}
}

// add takes an access unit. Those whose picture will not be kept wait, to
// be decoded in one go with the next one that will be.
func (r *runner) add(it item) {
	if dt := it.t.Sub(r.prevT); !r.prevT.IsZero() && dt > 0 && dt < time.Second {
		r.tol = dt / 2
	}
	r.prevT = it.t
	r.held = append(r.held, it)
	if r.wanted(it.t) || len(r.held) >= maxHeld {
		r.flush()
	}
}

// wanted reports whether a picture taken at t would be kept.
func (r *runner) wanted(t time.Time) bool {
	return r.due.IsZero() || !t.Before(r.due.Add(-r.tolerance()))
}

func (r *runner) tolerance() time.Duration {
	if r.tol <= 0 {
		return defaultTol
	}
	return r.tol
}

// keep decides whether the picture taken at t is kept, and moves the
// schedule on when it is. After a gap (or a new stream) the schedule
// restarts from the picture.
func (r *runner) keep(t time.Time) bool {
	if !t.After(r.lastT) {
		return false // out of order, or a repeat: times strictly increase
	}
	tol := r.tolerance()
	if !r.due.IsZero() && t.Before(r.due.Add(-tol)) {
		return false
	}
	if r.due.IsZero() || t.After(r.due.Add(tol)) {
		r.due = t
	}
	r.due = r.due.Add(time.Duration(float64(time.Second) / r.d.cfg.FPS))
	return true
}

// flush decodes the waiting access units and delivers the frames kept.
func (r *runner) flush() {
	if len(r.held) == 0 || r.c == nil {
		r.held = r.held[:0]
		return
	}
	start := threadCPU()
	for _, it := range r.held {
		e := &r.times[it.seq%ringSize]
		e.seq, e.t = it.seq, it.t
		if err := r.c.send(it.data, int64(it.seq)); err != nil {
			r.d.noteError(err)
		}
		r.receive()
	}
	r.held = r.held[:0]
	r.d.cpu.Add(int64(threadCPU() - start))
}

// drain takes the pictures the decoder still holds (B-frames) at the end.
func (r *runner) drain() {
	if r.c == nil {
		return
	}
	start := threadCPU()
	if err := r.c.send(nil, 0); err == nil {
		r.receive()
	}
	r.d.cpu.Add(int64(threadCPU() - start))
}

// receive takes every picture ready and delivers those kept.
func (r *runner) receive() {
	d := r.d
	for {
		pts, w, h, err := r.c.receive()
		if err != nil {
			if err != errNoPicture && err != errDrained {
				d.noteError(err)
			}
			break
		}
		e := r.times[uint64(pts)%ringSize]
		if pts < 0 || e.seq != uint64(pts) || e.t.IsZero() || !r.keep(e.t) {
			continue
		}
		f := &frame.Frame{W: d.cfg.Width, H: outHeight(d.cfg.Width, w, h), Time: e.t}
		bpp := 1
		if d.cfg.Color {
			bpp = 3
		}
		buf := make([]byte, f.W*f.H*bpp)
		if err := r.c.convert(buf, f.W, f.H, d.cfg.Color); err != nil {
			d.noteError(err)
			continue
		}
		if d.cfg.Color {
			f.RGB, f.Gray = buf, grayFromRGB(buf)
		} else {
			f.Gray = buf
		}
		r.lastT = e.t
		d.deliver(f)
	}
	if n, last := r.c.logged(); n > 0 {
		d.errs.Add(uint64(n) - 1)
		d.noteError(errors.New("decode: libavcodec: " + last))
		d.log.Debug("decode: libavcodec error", "count", n, "msg", last)
	}
}

// outHeight is the height of a frame w wide from a w0×h0 picture: the
// aspect ratio kept, rounded to even.
func outHeight(w, w0, h0 int) int {
	if w0 <= 0 || h0 <= 0 {
		return w
	}
	h := int(math.Round(float64(w)*float64(h0)/float64(w0)/2)) * 2
	return max(h, 2)
}

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// grayFromRGB computes BT.601 luma (full range) from packed RGB.
func grayFromRGB(rgb []byte) []byte {
	g := make([]byte, len(rgb)/3)
	for i := range g {
		r, gg, b := uint32(rgb[3*i]), uint32(rgb[3*i+1]), uint32(rgb[3*i+2])
		g[i] = byte((19595*r + 38470*gg + 7471*b + 1<<15) >> 16)
	}
	return g
}
