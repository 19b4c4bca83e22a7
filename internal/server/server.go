// Package server wires porchlightd together: configuration (defaults, then
// a TOML file, then PORCHLIGHT_* environment variables, then Validate), the
// data directory (porchlight.db + blobs/), the HTTP API of internal/httpapi,
// the retention loop, and graceful shutdown. Main is the whole program as a
// type: cmd/porchlightd runs it, tests Start it on 127.0.0.1:0 in-process.
//
// The service handles ciphertext only; this package must never import
// internal/keys.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/blob"
	diskblob "github.com/porchlight/porchlight/internal/blob/disk"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/store"
	pgstore "github.com/porchlight/porchlight/internal/store/postgres"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
)

// Main is porchlightd. Configuration fields carry TOML keys; a zero field
// takes its default when the server starts. Do not change fields after
// Start.
type Main struct {
	// Listen is the TCP address to serve on. It defaults to
	// "127.0.0.1:8080"; use port 0 for a free port (tests).
	Listen string `toml:"listen"`
	// DataDir holds porchlight.db and blobs/. It defaults to
	// "./porchlight-data" and is created with mode 0700.
	DataDir string `toml:"data_dir"`
	// Database is where metadata lives. It defaults to "" for SQLite at
	// DataDir/porchlight.db; a "postgres://…" URL selects PostgreSQL (blobs
	// stay in DataDir/blobs).
	Database string `toml:"database"`
	// RetentionInterval is how often retention runs. It defaults to 1h.
	RetentionInterval time.Duration `toml:"retention_interval"`
	// MaxUploads bounds the upload bodies held in memory at once (each up
	// to 64 MiB). It defaults to 8.
	MaxUploads int `toml:"max_uploads"`
	// ShutdownTimeout bounds how long Close waits for requests in flight.
	// It defaults to 10s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error. It defaults to info.
	LogLevel string `toml:"log_level"`
	// LogFormat is text or json. It defaults to text.
	LogFormat string `toml:"log_format"`

	// Logger, if set, replaces the logger built from LogLevel and
	// LogFormat (on stderr).
	Logger *slog.Logger `toml:"-"`
	// Stdout receives the "listening on" line. It defaults to os.Stdout.
	Stdout io.Writer `toml:"-"`
	// Now is the clock. It defaults to time.Now.
	Now func() time.Time `toml:"-"`

	// run is the running state; mu guards it.
	mu  sync.Mutex
	run *running
}

// running is what Start builds and Close tears down.
type running struct {
	store  store.Store
	blobs  blob.Store
	api    *httpapi.Server
	http   *http.Server
	ln     net.Listener
	addr   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	served chan error // the Serve result
	closed bool
}

// Defaults returns a Main with every configuration field at its default.
// docs/porchlightd.sample.toml spells out the same values (a test checks).
func Defaults() Main {
	return Main{
		Listen:            "127.0.0.1:8080",
		DataDir:           "./porchlight-data",
		RetentionInterval: time.Hour,
		MaxUploads:        8,
		ShutdownTimeout:   10 * time.Second,
		LogLevel:          "info",
		LogFormat:         "text",
	}
}

func (m *Main) setDefaults() {
	d := Defaults()
	if m.Listen == "" {
		m.Listen = d.Listen
	}
	if m.DataDir == "" {
		m.DataDir = d.DataDir
	}
	if m.RetentionInterval == 0 {
		m.RetentionInterval = d.RetentionInterval
	}
	if m.MaxUploads == 0 {
		m.MaxUploads = d.MaxUploads
	}
	if m.ShutdownTimeout == 0 {
		m.ShutdownTimeout = d.ShutdownTimeout
	}
	if m.LogLevel == "" {
		m.LogLevel = d.LogLevel
	}
	if m.LogFormat == "" {
		m.LogFormat = d.LogFormat
	}
	if m.Stdout == nil {
		m.Stdout = os.Stdout
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.Logger == nil {
		lvl := new(slog.LevelVar)
		_ = lvl.UnmarshalText([]byte(m.LogLevel))
		opts := &slog.HandlerOptions{Level: lvl}
		if m.LogFormat == "json" {
			m.Logger = slog.New(slog.NewJSONHandler(os.Stderr, opts))
		} else {
			m.Logger = slog.New(slog.NewTextHandler(os.Stderr, opts))
		}
	}
}

// Run starts the server and serves until ctx ends, then shuts down
// gracefully. It returns nil after a clean shutdown.
func (m *Main) Run(ctx context.Context) error {
	if _, err := m.Start(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	served := m.run.served
	m.mu.Unlock()
	select {
	case <-ctx.Done():
		return m.Close()
	case err := <-served:
		cerr := m.Close()
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return cerr
	}
}

// Start validates the configuration, opens the data directory, listens and
// serves in the background. It returns the address served ("127.0.0.1:NNNN"
// for a port-0 Listen). Call Close to stop.
func (m *Main) Start(ctx context.Context) (addr string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run != nil {
		return "", errors.New("porchlightd: already started")
	}
	m.setDefaults()
	if err := m.Validate(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(m.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	st, err := m.openStore(ctx)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	blobs, err := diskblob.Open(filepath.Join(m.DataDir, "blobs"))
	if err != nil {
		return "", err
	}
	// Before serving, no upload is in flight: any blob without a metadata
	// row is a leftover of a crash between blob write and row insert (a
	// failed insert removes its own blob). Only an unclean stop can leave
	// one, so the walk over every blob runs only when the marker of a clean
	// stop is missing.
	marker := filepath.Join(m.DataDir, cleanStopMarker)
	if err := os.Remove(marker); errors.Is(err, os.ErrNotExist) {
		if n, err := sweepOrphans(ctx, st, blobs); err != nil {
			return "", fmt.Errorf("sweep orphan blobs: %w", err)
		} else if n > 0 {
			m.Logger.InfoContext(ctx, "removed orphan blobs left by an interrupted upload", "count", n)
		}
	} else if err != nil {
		return "", fmt.Errorf("remove the clean-stop marker: %w", err)
	}
	ln, err := net.Listen("tcp", m.Listen)
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	r := &running{store: st, blobs: blobs, ln: ln, addr: ln.Addr().String(), served: make(chan error, 1)}
	r.api = &httpapi.Server{Store: st, Blobs: blobs, Logger: m.Logger, Now: m.Now, MaxUploads: m.MaxUploads}
	r.http = &http.Server{
		Handler:           r.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	m.run = r
	go func() { r.served <- r.http.Serve(ln) }()
	r.wg.Go(func() { m.retentionLoop(bg) })
	fmt.Fprintf(m.Stdout, "porchlightd: listening on http://%s\n", r.addr)
	m.Logger.InfoContext(ctx, "porchlightd started", "addr", r.addr, "data", m.DataDir)
	return r.addr, nil
}

// Addr returns the address served, or "" before Start.
func (m *Main) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run == nil {
		return ""
	}
	return m.run.addr
}

// Close shuts down gracefully: stops accepting, waits up to
// ShutdownTimeout for requests in flight, stops retention and closes the
// store. Calling it again does nothing.
func (m *Main) Close() error {
	m.mu.Lock()
	r := m.run
	if r == nil || r.closed {
		m.mu.Unlock()
		return nil
	}
	r.closed = true
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), m.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := r.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
		_ = r.http.Close()
	}
	r.cancel()
	r.wg.Wait()
	if err := r.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	if len(errs) == 0 {
		// Every upload finished or failed cleanly: the next start may skip
		// the orphan sweep.
		if err := os.WriteFile(filepath.Join(m.DataDir, cleanStopMarker), nil, 0o600); err != nil {
			errs = append(errs, fmt.Errorf("write the clean-stop marker: %w", err))
		}
	}
	m.Logger.Info("porchlightd stopped")
	return errors.Join(errs...)
}

// cleanStopMarker, in the data directory, records that the last stop was
// clean; Start removes it.
const cleanStopMarker = "clean-stop"

// sweepOrphans deletes blobs that no object row names.
func sweepOrphans(ctx context.Context, st store.Store, blobs blob.Store) (int, error) {
	var orphans []string
	err := blobs.List(ctx, func(id string, _ int64) error {
		_, err := st.Object(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			orphans = append(orphans, id)
			return nil
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, id := range orphans {
		if err := blobs.Delete(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(orphans), nil
}

func (m *Main) retentionLoop(ctx context.Context) {
	t := time.NewTicker(m.RetentionInterval)
	defer t.Stop()
	for {
		if n, err := m.Retain(ctx); err != nil && ctx.Err() == nil {
			m.Logger.ErrorContext(ctx, "retention pass failed", "err", err)
		} else if n > 0 {
			m.Logger.InfoContext(ctx, "retention deleted objects", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retentionBatch is how many objects one retention step deletes.
const retentionBatch = 500

// Retain runs one retention pass now: for every camera with a retention
// limit, it deletes the objects that fall out of it (manifests older than
// the limit, the objects they list, and unlisted objects older than it):
// metadata first, then blobs, so a crash leaves at worst orphan blobs that
// the next start sweeps. It also drops expired sessions and claims, and
// returns how many objects it deleted. Start must have been called.
func (m *Main) Retain(ctx context.Context) (int, error) {
	m.mu.Lock()
	r := m.run
	m.mu.Unlock()
	if r == nil {
		return 0, errors.New("porchlightd: not started")
	}
	now := m.Now().UTC()
	cams, err := r.store.CamerasWithRetention(ctx)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, cam := range cams {
		cutoff := now.Add(-time.Duration(cam.RetentionDays) * 24 * time.Hour)
		for {
			objs, err := r.store.ExpiredObjects(ctx, cam.ID, cutoff, retentionBatch)
			if err != nil {
				return deleted, err
			}
			if len(objs) == 0 {
				break
			}
			ids := make([]string, len(objs))
			for i, o := range objs {
				ids[i] = o.ID
			}
			if err := r.store.DeleteObjects(ctx, ids); err != nil {
				return deleted, err
			}
			for _, id := range ids {
				if err := r.blobs.Delete(ctx, id); err != nil {
					m.Logger.WarnContext(ctx, "retention: delete blob", "object", id, "err", err)
				}
			}
			deleted += len(ids)
		}
	}
	if _, err := r.store.DeleteSessionsBefore(ctx, now, now.Add(-auth.IdleTimeout)); err != nil {
		return deleted, err
	}
	if _, err := r.store.DeleteClaimsBefore(ctx, now.Add(-time.Hour)); err != nil {
		return deleted, err
	}
	return deleted, nil
}

// openStore opens the metadata store Database names.
func (m *Main) openStore(ctx context.Context) (store.Store, error) {
	if isPostgresURL(m.Database) {
		return pgstore.Open(ctx, m.Database)
	}
	return sqlitestore.Open(ctx, filepath.Join(m.DataDir, "porchlight.db"))
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}
