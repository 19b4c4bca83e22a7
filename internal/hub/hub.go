// Package hub is porchlight-hub, the program that runs in the home: it
// pulls RTSP from the cameras (internal/ingest), seals every segment to its
// camera's epoch key, signs manifests over batches of segments, keeps
// everything in a durable spool (internal/spool) and uploads it to
// porchlightd through internal/apiclient. It is the only place plaintext
// video exists; what leaves it is ciphertext, public keys and signatures.
//
// Main is the configuration and the program (Run); cmd/porchlight-hub is a
// thin wrapper. The hub never imports the service's stores or handlers (a
// dependency test checks it).
//
// # Data directory
//
//	hub.key      the hub's key pair (0600)
//	state.json   claim, hub token, pinned household key, per-camera ids,
//	             sequences, current epoch and open batch (0600, atomic)
//	roster.json  the last verified roster chain (a later one must extend it)
//	spool/       items waiting to be uploaded (see internal/spool)
//	quarantine/  items the service refused for good, kept for inspection
//
// # Goroutines
//
// Per camera: the ingest source (which calls the recorder and the camera's
// live stream) and a ticker that closes batches on time. Hub-wide: the
// uploader, the roster loop, the outbox flusher and the live-request loop
// (with one goroutine per live viewer, see live.go). Hub.mu guards roster;
// each recorder has its own mutex, and so has each camera's live stream;
// the state store and the outbox have theirs (lock order: recorder, then
// store or outbox; never two recorders; the live stream's is taken alone).
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/ingest"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/spool"
)

// service is everything the hub asks of porchlightd (*apiclient.Client).
type service interface {
	claimer
	rosterSource
	uploadAPI
}

// sourceFunc runs one camera until ctx is done, calling onSegment with
// every segment, onState on connection changes and onAU (if not nil) with
// every access unit, for analysis.
type sourceFunc func(ctx context.Context, m *Main, cam Camera, onSegment func(segment.Segment), onState func(bool, error), onAU auFunc) error

// auFunc receives an access unit (see ingest.Source.OnAccessUnit).
type auFunc func(codec string, params [][]byte, anchor time.Time, pts time.Duration, au [][]byte)

// ingestSource is the real camera source.
func ingestSource(ctx context.Context, m *Main, cam Camera, onSegment func(segment.Segment), onState func(bool, error), onAU auFunc) error {
	s := &ingest.Source{
		Name: cam.Name, URL: cam.URL, Transport: cam.Transport,
		MinSegment: m.MinSegment, MaxSegment: m.MaxSegment, Logger: m.Logger,
		OnSegment: onSegment, OnState: onState, OnAccessUnit: onAU,
	}
	return s.Run(ctx)
}

// ShutdownGrace is how long the hub keeps uploading after its context is
// cancelled and the last batches are closed, if the spool is not empty.
var ShutdownGrace = 3 * time.Second

// Stats are the hub's counters.
type Stats struct {
	Spooled      int   // items in the spool now
	SpoolBytes   int64 // bytes of the spool now
	Pending      int   // items held in memory because the spool refused them
	Segments     int64 // segments sealed and queued
	Manifests    int64 // manifests sealed and queued
	Events       int64 // events sealed and queued
	Uploaded     int64 // items uploaded
	Retries      int64 // failed upload attempts that were retried
	Evicted      int64 // spool items evicted (cap or full disk)
	EvictedSegs  int64 // segments among them
	EvictedBytes int64
	Quarantined  int64 // items moved to quarantine
}

// Hub is a running hub, made by Main.Start.
type Hub struct {
	m   Main
	log *slog.Logger
	key *keys.Pair
	st  *store
	sp  *spool.Spool
	out *outbox

	mu     sync.Mutex
	roster *seal.Roster

	recs  []*recorder
	stats struct {
		segments, manifests, uploaded, retries, events atomic.Int64
	}

	doorbellAddr string          // the doorbell endpoint's address, "" if off
	det          *sharedDetector // nil: no object detection
	live         *liveHub        // nil: the service offers no live view

	done chan struct{}
	err  error
}

// DoorbellAddr returns the address of the local doorbell endpoint, or ""
// when doorbell_listen is not set.
func (h *Hub) DoorbellAddr() string { return h.doorbellAddr }

// Run starts the hub and waits until ctx is done and it has shut down.
func (m Main) Run(ctx context.Context) error {
	h, err := m.Start(ctx)
	if err != nil {
		return err
	}
	return h.Wait()
}

// Start prepares the hub (key, claim — which waits for the owner's
// confirmation —, roster, cameras, batches a crash left open) and starts
// recording and uploading in the background. Cancel ctx to stop it, then
// Wait.
func (m Main) Start(ctx context.Context) (*Hub, error) {
	m.setDefaults()
	m.runtimeDefaults()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	h := &Hub{m: m, log: m.Logger, done: make(chan struct{})}
	key, created, err := keys.LoadOrGenerate(filepath.Join(m.DataDir, "hub.key"), m.Name)
	if err != nil {
		return nil, err
	}
	h.key = key
	if created {
		h.log.Info("created the hub key", "hub", key.ID)
	}
	if h.st, err = loadState(filepath.Join(m.DataDir, "state.json")); err != nil {
		return nil, err
	}

	svc := m.service
	client := apiclient.New(m.Server, "")
	client.UserAgent = "porchlight-hub"
	if m.CAFile != "" {
		if client.HTTP, err = apiclient.NewHTTPClient(m.CAFile); err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
	}
	if svc == nil {
		svc = client
	}
	if err := h.claim(ctx, svc); err != nil {
		return nil, err
	}
	h.st.view(func(s *state) {
		client.Token = s.Token
		if s.Server != "" && s.Server != m.Server {
			h.log.Warn("the hub was claimed through another server URL; using the configured one", "claimed", s.Server, "server", m.Server)
		}
	})

	if h.sp, err = spool.Open(filepath.Join(m.DataDir, "spool"), spool.Options{
		Max: int64(m.SpoolMax), QuarantineDir: filepath.Join(m.DataDir, "quarantine"), Logger: h.log,
	}); err != nil {
		return nil, err
	}
	h.out = &outbox{sp: h.sp, log: h.log, sum: summary{log: h.log, every: time.Minute}}

	if err := h.initialRoster(ctx, svc); err != nil {
		return nil, err
	}
	if err := h.initCameras(); err != nil {
		return nil, err
	}
	if err := h.recoverBatches(); err != nil {
		return nil, err
	}
	if _, ok := svc.(liveService); ok {
		h.live = newLiveHub(h)
	}
	if len(m.Cameras) == 0 {
		h.log.Warn("no cameras configured: add [[camera]] to the config file or pass --camera NAME=rtsp://…")
	}
	if h.det, err = h.m.openDetector(); err != nil {
		return nil, err
	}
	if h.doorbellAddr, err = h.startDoorbell(ctx); err != nil {
		return nil, err
	}
	h.startMQTT(ctx)
	go h.run(ctx, svc)
	return h, nil
}

// initialRoster adopts the cached roster and tries the service for a newer
// one; with no cached roster it waits for the service (no epoch can be
// made without knowing who may see it).
func (h *Hub) initialRoster(ctx context.Context, c rosterSource) error {
	if err := h.loadCachedRoster(); err != nil {
		return err
	}
	if h.currentRoster() != nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := h.refreshRoster(fctx, c); err != nil {
			if errors.Is(err, ErrRosterFork) || errors.Is(err, seal.ErrRosterChain) {
				h.log.Error("REFUSING the roster served by the service; using the last verified one", "err", err)
			} else {
				h.log.Warn("cannot fetch the roster; recording with the last verified one", "err", err, "roster", h.currentRoster().Version)
			}
		}
		return nil
	}
	return retry(ctx, h.log, "fetch the roster", func() error {
		_, err := h.refreshRoster(ctx, c)
		return err
	})
}

// initCameras gives every configured camera a stable random id, makes its
// recorder and queues its descriptor if the roster changed since the last.
func (h *Hub) initCameras() error {
	now := h.m.Now().UTC()
	err := h.st.update(func(s *state) {
		if s.Cameras == nil {
			s.Cameras = map[string]*camState{}
		}
		for _, c := range h.m.Cameras {
			if s.Cameras[c.Name] == nil {
				s.Cameras[c.Name] = &camState{ID: seal.NewID(), Created: now}
			}
		}
	})
	if err != nil {
		return err
	}
	ro := h.currentRoster()
	for _, c := range h.m.Cameras {
		var cs camState
		h.st.view(func(s *state) { cs = *s.Cameras[c.Name] })
		r, err := newRecorder(h, c, &cs)
		if err != nil {
			return err
		}
		h.recs = append(h.recs, r)
		if err := h.queueDescriptor(c.Name, ro); err != nil {
			return fmt.Errorf("camera %s: descriptor: %w", c.Name, err)
		}
	}
	return nil
}

func (h *Hub) household() string {
	var hh string
	h.st.view(func(s *state) { hh = s.Household })
	return hh
}

// run is the hub's life after Start.
func (h *Hub) run(ctx context.Context, svc service) {
	defer close(h.done)
	upCtx, upCancel := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { h.uploadLoop(upCtx, svc) })
	bg.Go(func() { h.rosterLoop(ctx, svc) })
	if ss, ok := svc.(settingsSource); ok {
		bg.Go(func() { h.settingsLoop(ctx, ss) })
	}
	if ls, ok := svc.(liveService); ok && h.live != nil {
		bg.Go(func() { h.liveLoop(ctx, ls) })
	}
	if rs, ok := svc.(redactionService); ok {
		bg.Go(func() { h.redactionLoop(ctx, rs) })
	}
	bg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h.out.flush()
			}
		}
	})

	run := h.m.runSource
	if run == nil {
		run = ingestSource
	}
	var cams sync.WaitGroup
	for _, r := range h.recs {
		cams.Go(func() {
			var onAU auFunc
			detect := h.m.Detection != DetectionOff
			var lc *liveCam
			if h.live != nil {
				lc = h.live.cams[r.id]
			}
			if detect || lc != nil {
				onAU = func(codec string, params [][]byte, anchor time.Time, pts time.Duration, au [][]byte) {
					if lc != nil {
						lc.accessUnit(codec, params, anchor, pts, au)
					}
					if detect {
						r.onAccessUnit(ctx, codec, params, anchor, pts, au)
					}
				}
			}
			onState := r.onState
			if lc != nil {
				onState = func(online bool, err error) {
					r.onState(online, err)
					if !online {
						lc.offline(liveReasonOffline)
					}
				}
			}
			if err := run(ctx, &h.m, r.cam, r.onSegment, onState, onAU); err != nil {
				r.log.Error("camera stopped", "err", err)
			}
		})
		cams.Go(func() {
			t := time.NewTicker(min(time.Second, h.m.ManifestInterval/4))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					r.tick()
				}
			}
		})
	}
	<-ctx.Done()
	// Sources flush their open segment before returning; then the last
	// batches close. A source that hangs is not waited for long.
	camsDone := make(chan struct{})
	go func() { cams.Wait(); close(camsDone) }()
	select {
	case <-camsDone:
	case <-time.After(5 * time.Second):
		h.log.Warn("a camera source did not stop within 5s; closing batches without its last segment")
	}
	for _, r := range h.recs {
		r.close()
	}
	h.out.flush()
	deadline := time.Now().Add(ShutdownGrace)
	for h.sp.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	upCancel()
	bg.Wait()
	if h.det != nil {
		if err := h.det.det.Close(); err != nil {
			h.log.Warn("closing the detector", "err", err)
		}
	}
	if n := h.sp.Len(); n > 0 {
		h.log.Info("hub stopped; uploads resume at the next start", "waiting", n)
	} else {
		h.log.Info("hub stopped")
	}
}

// Wait waits until the hub has stopped (after its context is cancelled).
func (h *Hub) Wait() error {
	<-h.done
	return h.err
}

// ID returns the hub's id (seal.KeyID of its signing key).
func (h *Hub) ID() string { return h.key.ID }

// CameraID returns the id of the configured camera called name, or "".
func (h *Hub) CameraID(name string) string {
	var id string
	h.st.view(func(s *state) {
		if cs := s.Cameras[name]; cs != nil {
			id = cs.ID
		}
	})
	return id
}

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	ss := h.sp.Stats()
	return Stats{
		Spooled: ss.Items, SpoolBytes: ss.Bytes, Pending: h.out.len(),
		Segments: h.stats.segments.Load(), Manifests: h.stats.manifests.Load(), Events: h.stats.events.Load(),
		Uploaded: h.stats.uploaded.Load(), Retries: h.stats.retries.Load(),
		Evicted: ss.Evicted, EvictedSegs: ss.EvictedSegments, EvictedBytes: ss.EvictedBytes, Quarantined: ss.Quarantined,
	}
}
