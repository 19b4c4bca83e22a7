// Package decode turns the hub's own camera stream into low-rate frames for
// analysis (motion, object detection), without a second camera connection.
//
// The recorder hands every access unit to a Decoder next to the segment
// cutter. The Decoder copies it into a bounded queue and returns at once;
// one ffmpeg subprocess per camera decodes the queue (Annex-B on stdin),
// keeps about Config.FPS frames a second, scales them and writes raw pixels
// on stdout. It is not meant for playback or export: frames are dropped
// whenever analysis falls behind.
//
// # Frame times
//
// Raw Annex-B carries no timestamps, so ffmpeg numbers frames on a
// synthetic clock and its filters pick among them. To know exactly which
// input picture each output frame is, the Decoder puts a small SEI
// (user_data_unregistered, UUID "porchlight-time1") carrying a sequence
// number in front of each picture it feeds. ffmpeg's H.264 and H.265
// decoders attach it to the decoded frame, the select (or fps) and scale
// filters keep it, and the showinfo filter prints it on stderr just before the frame is
// written to stdout. Frame.Time is then the exact anchor+PTS of the input
// access unit the frame was decoded from: the error is zero, whatever the
// reordering (B-frames), dropped input or decoding errors. Only the choice of
// which frames to keep is approximate: the synthetic clock runs at the input
// rate estimated from the PTS of the first access units (and re-estimated,
// with a restart at the next IDR, when it drifts by more than 25 %), so
// frames come about 1/FPS apart, give or take one input frame interval.
// Duplicates from the fps filter are dropped: times are strictly increasing.
//
// # Latency and cost
//
// A frame reaches the consumer about 45 ms after its access unit was
// written (720p, 25 fps in, 5 fps out, measured by BenchmarkLatency720p).
// ffmpeg 5.1 holds each selected frame until the next one follows it, so
// a kept frame alone would wait a whole output interval (200 ms at 5 fps).
// Frames are therefore picked by a select expression that also lets
// through the one or two pictures right after each kept one (release
// frames, read and discarded; see pickWithRelease), for inputs of at least
// twice the output rate; slower inputs use the fps filter. Each access unit is
// followed by an access unit delimiter so that ffmpeg's parser need not
// wait for the next one. Scaling happens in YUV and the RGB conversion is a
// separate unscaled step, about a third of the cost of a scaled RGB output.
// ffmpeg decodes with one thread (no frame-threading delay, least CPU per
// camera): about 4 % of a core per 720p H.264 camera here, 5.5 % for H.265
// (BenchmarkCPU720p).
//
// # Failures
//
// A new picture size (an SPS declaring another size) restarts ffmpeg at the
// IDR that carries it. Decoding errors are counted (Stats.Errors) and the
// decoder carries on; if ffmpeg exits, it is started again with backoff at
// the next IDR. WriteAccessUnit never blocks: when the queue is full the
// access unit is dropped and the decoder skips to the next IDR; when the
// consumer is slower than the frame rate, only the newest frame waits for it.
// ffmpeg keeps decoding meanwhile, so the consumer always gets a fresh frame.
package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porchlight/porchlight/internal/frame"
)

// ErrNoFFmpeg means the ffmpeg binary was not found. Install it with
// `bash scripts/setup`.
var ErrNoFFmpeg = errors.New("decode: ffmpeg not found; install it with bash scripts/setup")

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
	// FFmpeg is the ffmpeg binary. It defaults to "ffmpeg" on the PATH.
	FFmpeg string
	// Queue is how many access units may wait for ffmpeg before new ones
	// are dropped. It defaults to 100 (4 s at 25 fps).
	Queue int
	// Logger receives restarts and ffmpeg errors. It defaults to slog.Default().
	Logger *slog.Logger
}

// Stats are a Decoder's counters since New.
type Stats struct {
	In            uint64        // access units queued for decoding
	Out           uint64        // frames handed to the consumer
	Dropped       uint64        // DroppedAUs + DroppedFrames
	DroppedAUs    uint64        // access units dropped: queue full, or ffmpeg down
	DroppedFrames uint64        // decoded frames replaced by a newer one before the consumer took them
	Errors        uint64        // error lines from ffmpeg, failed starts and lost sync
	Restarts      uint64        // ffmpeg starts after the first
	Queued        int           // access units waiting now
	LastError     error         // the most recent error, or nil
	CPU           time.Duration // CPU time used by ffmpeg so far (Linux; 0 elsewhere)
}

const (
	defaultFPS    = 5.0
	defaultWidth  = 640
	defaultQueue  = 100
	maxQueueBytes = 32 << 20
	ringSize      = 4096 // tags in flight; far more than queue + ffmpeg's delay
	gatherN       = 10   // access units used to estimate the input rate
	gatherWait    = 500 * time.Millisecond
	rateWindow    = 50
	rateTolerance = 0.25
	minBackoff    = 250 * time.Millisecond
	maxBackoff    = 30 * time.Second
	stopTimeout   = 5 * time.Second
	closeTimeout  = 10 * time.Second
	defaultRate   = 25.0
	maxLogLine    = 4096 // longer stderr lines are skipped
)

// item is one access unit ready for ffmpeg.
type item struct {
	data    []byte // Annex-B, tagged
	t       time.Time
	idr     bool
	restart bool // the first IDR of a new picture size
}

type ringEntry struct {
	seq uint64
	t   time.Time
	ok  bool
}

// Decoder decodes one camera's stream. WriteAccessUnit may be called from
// one goroutine (the recorder's) concurrently with Stats and Close.
type Decoder struct {
	cfg    Config
	ffmpeg string
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
	seq     uint64    // next tag

	ringMu sync.Mutex
	ring   [ringSize]ringEntry // tag → capture time; guarded by ringMu

	statMu   sync.Mutex    // guards the three fields below; taken after mu, never before
	lastErr  error         // the most recent error
	cur      *proc         // the running process
	cpuSpent time.Duration // by processes that have exited

	lastT time.Time // of the last frame delivered; only readFrames uses it, one process at a time

	in, outN, droppedAUs, droppedFrames, errs, restarts atomic.Uint64
}

// New checks cfg and the ffmpeg binary and starts the decoder; ffmpeg itself
// starts at the first IDR. out receives frames in time order from one
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
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	path, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoFFmpeg, err)
	}
	if out == nil {
		out = func(*frame.Frame) {}
	}
	d := &Decoder{
		cfg: cfg, ffmpeg: path, out: out, log: cfg.Logger,
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
	it := item{data: annexB(codec, pre, au, tagSEI(codec, seq), idr), t: anchor.Add(pts), idr: idr, restart: idr && d.resize}
	if d.queuedBytes.Load()+int64(len(it.data)) > maxQueueBytes {
		d.dropLocked()
		return
	}
	d.ringMu.Lock()
	d.ring[seq%ringSize] = ringEntry{seq: seq, t: it.t, ok: true}
	d.ringMu.Unlock()
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
	d.statMu.Lock()
	s.LastError, s.CPU = d.lastErr, d.cpuSpent
	if d.cur != nil {
		s.CPU += procCPU(d.cur.cmd.Process.Pid)
	}
	d.statMu.Unlock()
	return s
}

// Close decodes what is queued, delivers the last frames and stops ffmpeg.
// It waits at most about 10 s (and for the consumer's current call), then
// kills ffmpeg. Access units written after Close are ignored.
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
		d.log.Warn("decode: ffmpeg did not finish in time; killed", "timeout", closeTimeout)
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

// run starts ffmpeg at an IDR and feeds it until the queue closes, starting
// a new process for a new picture size or rate, or after a failure.
func (d *Decoder) run() {
	defer close(d.runDone)
	defer close(d.frames)
	backoff := minBackoff
	var first *item
	starts := 0
	for {
		if first == nil {
			it, ok := d.next()
			if !ok {
				return
			}
			if !it.idr {
				d.droppedAUs.Add(1) // after a failure: wait for an IDR
				continue
			}
			first = &it
		}
		batch, restartAt, closed := d.gather(*first)
		first = nil
		rate := estimateRate(batch)
		if starts > 0 {
			d.restarts.Add(1)
		}
		starts++
		p, err := d.start(rate)
		if err != nil {
			if d.ctx.Err() != nil {
				return
			}
			d.noteError(err)
			d.log.Warn("decode: ffmpeg did not start; retrying at a later IDR", "err", err, "backoff", backoff)
			d.droppedAUs.Add(uint64(len(batch)))
			if closed || !d.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		var died bool
		if restartAt == nil && !closed {
			restartAt, closed, died = d.feed(p, batch)
		} else {
			died = !d.write(p, batch...)
		}
		d.stop(p, died)
		if p.frames.Load() > 0 {
			backoff = minBackoff
		}
		if died && d.ctx.Err() == nil {
			d.noteError(errors.New("decode: ffmpeg stopped unexpectedly"))
			d.log.Warn("decode: ffmpeg stopped; restarting at a later IDR", "backoff", backoff)
			if !d.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			restartAt = nil
		}
		if closed || d.ctx.Err() != nil {
			return
		}
		first = restartAt
	}
}

// gather collects the first access units of a process, to estimate the
// input rate before starting it. It stops early at an IDR that needs a new
// process (returned as restartAt) or when the queue closes.
func (d *Decoder) gather(first item) (batch []item, restartAt *item, closed bool) {
	batch = []item{first}
	t := time.NewTimer(gatherWait)
	defer t.Stop()
	for len(batch) < gatherN {
		select {
		case it, ok := <-d.queue:
			if !ok {
				return batch, nil, true
			}
			d.queuedBytes.Add(-int64(len(it.data)))
			if it.restart {
				return batch, &it, false
			}
			batch = append(batch, it)
		case <-t.C:
			return batch, nil, false
		case <-d.ctx.Done():
			return batch, nil, true
		}
	}
	return batch, nil, false
}

// estimateRate returns the frame rate of a run of access units (in decode
// order; reordering only blurs it a little), or defaultRate.
func estimateRate(batch []item) float64 {
	if len(batch) < 3 {
		return defaultRate
	}
	lo, hi := batch[0].t, batch[0].t
	for _, it := range batch[1:] {
		if it.t.Before(lo) {
			lo = it.t
		}
		if it.t.After(hi) {
			hi = it.t
		}
	}
	span := hi.Sub(lo).Seconds()
	if span <= 0 {
		return defaultRate
	}
	return min(max(float64(len(batch)-1)/span, 1), 120)
}

// feed writes batch, then queued access units, to p. It returns at an IDR
// that needs a new process (a new picture size, or an input rate off by
// more than rateTolerance), when the queue closes, or when p dies.
func (d *Decoder) feed(p *proc, batch []item) (restartAt *item, closed, died bool) {
	recent := make([]item, 0, rateWindow)
	note := func(it item) {
		if len(recent) == rateWindow {
			recent = append(recent[:0], recent[1:]...)
		}
		recent = append(recent, it)
	}
	for _, it := range batch {
		note(it)
	}
	if !d.write(p, batch...) {
		return nil, false, true
	}
	for {
		select {
		case it, ok := <-d.queue:
			if !ok {
				return nil, true, false
			}
			d.queuedBytes.Add(-int64(len(it.data)))
			if it.idr && it.restart {
				d.log.Info("decode: new picture size; restarting ffmpeg")
				return &it, false, false
			}
			if it.idr && len(recent) == rateWindow {
				if r := estimateRate(recent); r/p.rate > 1+rateTolerance || r/p.rate < 1-rateTolerance {
					d.log.Info("decode: input rate changed; restarting ffmpeg", "was", p.rate, "now", r)
					return &it, false, false
				}
			}
			if !d.write(p, it) {
				return nil, false, true
			}
			note(it)
		case <-p.readerDone:
			return nil, false, true
		case <-d.ctx.Done():
			return nil, true, true
		}
	}
}

// write writes access units to p's stdin and reports success.
func (d *Decoder) write(p *proc, its ...item) bool {
	for _, it := range its {
		if _, err := p.stdin.Write(it.data); err != nil {
			return false
		}
	}
	return true
}

// sleep waits for d, or returns false when ctx is done. Access units that
// arrive meanwhile are dropped: decoding resumes at a fresh IDR.
func (d *Decoder) sleep(dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-d.ctx.Done():
			return false
		case it, ok := <-d.queue:
			if !ok {
				return false
			}
			d.queuedBytes.Add(-int64(len(it.data)))
			d.droppedAUs.Add(1)
		}
	}
}
