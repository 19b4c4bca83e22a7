// Package server wires porchlightd together: configuration (defaults, then
// a TOML file, then PORCHLIGHT_* environment variables, then Validate), the
// data directory (porchlight.db + blobs/), HTTPS (certificate files or
// ACME; plain HTTP only on loopback unless allowed), the HTTP API of
// internal/httpapi, the local admin socket and its client (`porchlightd
// admin`, the staff bootstrap), the retention loop, and graceful shutdown.
// Main is the whole program as a type: cmd/porchlightd runs it, tests Start
// it on 127.0.0.1:0 in-process.
//
// The service handles ciphertext only; this package must never import
// internal/keys.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/blob"
	diskblob "github.com/porchlight/porchlight/internal/blob/disk"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/seal"
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

	// PublicURL is the origin clients reach the service at,
	// "https://host[:port]" with no path: cookie sessions must send it as
	// their Origin and passkeys are bound to it. It defaults to "": derived
	// from the first of AcmeDomains, else the certificate's first name,
	// else Listen's host, with https when TLS is on (see PublicOrigin).
	PublicURL string `toml:"public_url"`
	// TLSCert and TLSKey name PEM files: the certificate chain and its
	// private key. When set, Listen serves HTTPS (TLS 1.2 at least) and the
	// pair is reloaded when either file changes (checked at most once a
	// minute, on a new connection). They default to "".
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// ACMEDomains, when set, make Listen serve HTTPS with certificates for
	// these names obtained and renewed with ACME (TLS-ALPN-01 on Listen,
	// which the CA must reach on port 443). It defaults to none.
	ACMEDomains []string `toml:"acme_domains"`
	// ACMEEmail is the contact address given to the ACME CA (expiry
	// notices). It defaults to "" (none).
	ACMEEmail string `toml:"acme_email"`
	// ACMECacheDir holds the ACME account key and the certificates. It
	// defaults to "" for DataDir/acme, created with mode 0700.
	ACMECacheDir string `toml:"acme_cache_dir"`
	// ACMEDirectoryURL is the ACME CA's directory. It defaults to Let's
	// Encrypt's production directory.
	ACMEDirectoryURL string `toml:"acme_directory_url"`
	// ACMEHTTPListen, e.g. ":80", serves ACME HTTP-01 challenges and
	// redirects every other request to HTTPS. It defaults to "" (off).
	ACMEHTTPListen string `toml:"acme_http_listen"`
	// AllowPlainHTTP allows plain HTTP on a Listen address other than
	// loopback (behind a TLS-terminating proxy on a trusted network). It
	// defaults to false.
	AllowPlainHTTP bool `toml:"allow_plain_http"`
	// TrustedProxies lists the addresses or CIDR prefixes of reverse
	// proxies whose X-Forwarded-For is believed (for rate limits and the
	// session list). It defaults to none.
	TrustedProxies []string `toml:"trusted_proxies"`
	// SessionIdle ends a session unused for this long; SessionAbsolute
	// ends it this long after sign-in. They default to 168h and 720h.
	SessionIdle     time.Duration `toml:"session_idle"`
	SessionAbsolute time.Duration `toml:"session_absolute"`
	// WebAuthnRPID is the passkey relying-party id. It defaults to "" for
	// PublicURL's host.
	WebAuthnRPID string `toml:"webauthn_rp_id"`
	// AdminSocket is the Unix socket of `porchlightd admin`. It defaults to
	// "" for DataDir/admin.sock; its directory is made 0700, the socket
	// 0600, and only root and porchlightd's own user may connect.
	AdminSocket string `toml:"admin_socket"`
	// LoginLimits is the sign-in rate-limit policy ([login_limits] table).
	// Each field defaults to auth.Limits' default.
	LoginLimits LoginLimits `toml:"login_limits"`

	// ACMEHTTPClient, if set, is the HTTP client used to reach the ACME
	// CA (a private CA with its own roots; tests). It defaults to
	// http.DefaultClient's behaviour.
	ACMEHTTPClient *http.Client `toml:"-"`
	// Logger, if set, replaces the logger built from LogLevel and
	// LogFormat (on stderr).
	Logger *slog.Logger `toml:"-"`
	// Stdout receives the "listening on" line. It defaults to os.Stdout.
	Stdout io.Writer `toml:"-"`
	// Now is the clock. It defaults to time.Now.
	Now func() time.Time `toml:"-"`
	// Web is the browser app served at / (client.go). It defaults to the
	// build embedded in the binary (web.FS()).
	Web fs.FS `toml:"-"`

	// run is the running state; mu guards it.
	mu  sync.Mutex
	run *running
}

// running is what Start builds and Close tears down.
type running struct {
	store    store.Store
	blobs    blob.Store
	api      *httpapi.Server
	http     *http.Server
	acmeHTTP *http.Server // acme_http_listen; nil if off
	acmeAddr string       // its address
	admin    *http.Server // the admin socket
	audit    *auditlog.Log
	ln       net.Listener
	addr     string
	origin   string // the public origin
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	served   chan error // the Serve result of http
	closed   bool
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
		ACMEDirectoryURL:  autocert.DefaultACMEDirectory,
		SessionIdle:       auth.IdleTimeout,
		SessionAbsolute:   auth.AbsoluteTimeout,
		LoginLimits:       limitsConfig(auth.Limits{}.WithDefaults()),
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
	if m.ACMEDirectoryURL == "" {
		m.ACMEDirectoryURL = d.ACMEDirectoryURL
	}
	if m.SessionIdle == 0 {
		m.SessionIdle = d.SessionIdle
	}
	if m.SessionAbsolute == 0 {
		m.SessionAbsolute = d.SessionAbsolute
	}
	m.LoginLimits = m.LoginLimits.withDefaults()
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
	tlsSet, err := m.setupTLS()
	if err != nil {
		return "", err
	}
	st, err := m.openStore(ctx)
	if err != nil {
		return "", err
	}
	r := &running{store: st, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.abort()
		}
	}()
	if r.blobs, err = diskblob.Open(filepath.Join(m.DataDir, "blobs")); err != nil {
		return "", err
	}
	// Before serving, no upload is in flight: any blob without a metadata
	// row is a leftover of a crash between blob write and row insert (a
	// failed insert removes its own blob). Only an unclean stop can leave
	// one, so the walk over every blob runs only when the marker of a clean
	// stop is missing.
	marker := filepath.Join(m.DataDir, cleanStopMarker)
	if err := os.Remove(marker); errors.Is(err, os.ErrNotExist) {
		if n, err := sweepOrphans(ctx, st, r.blobs); err != nil {
			return "", fmt.Errorf("sweep orphan blobs: %w", err)
		} else if n > 0 {
			m.Logger.InfoContext(ctx, "removed orphan blobs left by an interrupted upload", "count", n)
		}
	} else if err != nil {
		return "", fmt.Errorf("remove the clean-stop marker: %w", err)
	}
	if r.audit, err = m.openAudit(ctx); err != nil {
		return "", err
	}
	adminLn, err := listenAdmin(m.adminSocketPath(), m.AdminSocket == "", m.Logger)
	if err != nil {
		return "", err
	}
	r.admin = &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: m.errorLog()}
	adminServe := func() { r.admin.Serve(adminLn) }
	defer func() {
		if err != nil {
			adminLn.Close()
		}
	}()
	if r.ln, err = net.Listen("tcp", m.Listen); err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	r.addr = r.ln.Addr().String()
	r.origin = m.publicOrigin(r.addr, tlsSet)
	if r.origin == "" {
		m.Logger.WarnContext(ctx, "set public_url to the address clients use (https://host): cookie and passkey sign-in need it behind a proxy")
	}
	push, err := m.openPush(r.origin)
	if err != nil {
		return "", err
	}
	r.api = &httpapi.Server{
		Store: st, Blobs: r.blobs, Logger: m.Logger, Now: m.Now, MaxUploads: m.MaxUploads,
		SessionIdle: m.SessionIdle, SessionAbsolute: m.SessionAbsolute,
		Limits: m.LoginLimits.Limits(), TrustedProxies: m.trustedProxies(),
		PublicOrigin: r.origin, RPID: m.WebAuthnRPID, Audit: r.audit, Web: m.webFS(),
		Push: push,
	}
	r.admin.Handler = r.api.AdminHandler()
	r.http = &http.Server{
		Handler:           r.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          m.errorLog(),
	}
	// Event streams never go idle; end them when shutdown starts so it does
	// not wait out its timeout (and the clean-stop marker gets written).
	r.http.RegisterOnShutdown(r.api.CloseStreams)
	var acmeServe func()
	if m.ACMEHTTPListen != "" {
		ln, err := net.Listen("tcp", m.ACMEHTTPListen)
		if err != nil {
			return "", fmt.Errorf("acme_http_listen: %w", err)
		}
		r.acmeAddr = ln.Addr().String()
		r.acmeHTTP = &http.Server{
			Handler:           tlsSet.acme.HTTPHandler(redirectToHTTPS(r.origin)),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          m.errorLog(),
		}
		acmeServe = func() { r.acmeHTTP.Serve(ln) }
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	m.run = r
	scheme := "http"
	if tlsSet != nil {
		scheme = "https"
		r.http.TLSConfig = tlsSet.config
		go func() { r.served <- r.http.ServeTLS(r.ln, "", "") }()
	} else {
		go func() { r.served <- r.http.Serve(r.ln) }()
	}
	go adminServe()
	if acmeServe != nil {
		go acmeServe()
	}
	r.wg.Go(func() { m.retentionLoop(bg) })
	r.wg.Go(func() { m.grantLoop(bg, r.api) })
	r.wg.Go(func() { m.recordClient(bg, r.api, st) })
	fmt.Fprintf(m.Stdout, "porchlightd: listening on %s://%s\n", scheme, r.addr)
	m.Logger.InfoContext(ctx, "porchlightd started", "addr", r.addr, "scheme", scheme, "public_url", r.origin,
		"data", m.DataDir, "admin_socket", m.adminSocketPath())
	return r.addr, nil
}

// abort undoes a Start that failed half-way.
func (r *running) abort() {
	if r.ln != nil {
		r.ln.Close()
	}
	if r.audit != nil {
		r.audit.Close(context.Background())
	}
	r.store.Close()
}

func (m *Main) errorLog() *log.Logger {
	return slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)
}

// PublicOrigin returns the origin clients use (public_url, or the one
// derived from Listen and TLS), or "" before Start.
func (m *Main) PublicOrigin() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run == nil {
		return ""
	}
	return m.run.origin
}

// AdminSocketPath returns the path of the admin Unix socket.
func (m *Main) AdminSocketPath() string { return m.adminSocketPath() }

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
	for _, srv := range []*http.Server{r.acmeHTTP, r.admin} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
			_ = srv.Close()
		}
	}
	r.cancel()
	r.wg.Wait()
	r.api.WaitAudit()
	waitPushes(ctx, r.api.Push)
	if err := r.audit.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close audit log: %w", err))
	}
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

// sweepOrphans deletes object blobs that no object row names. Blobs of
// another shape are owned by their own rows and sweeps, and are left alone:
// public feed media ("p0" + id: a 0 is never in an object id), redaction results and the campaign copies
// made from them ("r" + job + id).
func sweepOrphans(ctx context.Context, st store.Store, blobs blob.Store) (int, error) {
	var orphans []string
	err := blobs.List(ctx, func(id string, _ int64) error {
		if !seal.ValidID(id) {
			return nil
		}
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

// Retain runs one retention pass now: for every camera with a retention
// limit, it deletes the objects that fall out of it (manifests older than
// the limit, the objects they list, and unlisted objects older than it):
// metadata first, then blobs, so a crash leaves at worst orphan blobs that
// the next start sweeps; an epoch left with no object loses every wrap of
// its key (shredding by expiry). It also drops expired sessions, claims and
// sign-in ceremonies and spent rate-limit state, and returns how many
// objects it deleted. Start must have been called.
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
		p, err := httpapi.Purge(ctx, r.store, r.blobs, m.Logger, func(limit int) ([]store.Object, error) {
			return r.store.ExpiredObjects(ctx, cam.ID, cutoff, limit)
		})
		deleted += p.Manifests + p.Segments
		if err != nil {
			return deleted, fmt.Errorf("retention of camera %s: %w", cam.ID, err)
		}
		// Shredding by expiry: an epoch with no object left loses every
		// wrap of its key, so a copy of the store from before cannot be
		// opened with the keys the service still holds.
		shredded, err := r.store.ShredEmptyEpochs(ctx, p.Epochs)
		if err != nil {
			return deleted, fmt.Errorf("retention of camera %s: shred expired epochs: %w", cam.ID, err)
		}
		if len(shredded) > 0 {
			m.Logger.InfoContext(ctx, "retention shredded epochs", "camera", cam.ID, "epochs", len(shredded))
		}
	}
	if _, err := r.store.DeleteSessionsBefore(ctx, now, now.Add(-m.SessionIdle)); err != nil {
		return deleted, fmt.Errorf("delete expired sessions: %w", err)
	}
	if _, err := r.store.DeleteClaimsBefore(ctx, now.Add(-time.Hour)); err != nil {
		return deleted, fmt.Errorf("delete expired claims: %w", err)
	}
	if _, err := r.store.DeleteCeremoniesBefore(ctx, now); err != nil {
		return deleted, fmt.Errorf("delete expired sign-in ceremonies: %w", err)
	}
	// A throttle key whose window started and whose block ended a whole
	// window ago counts nothing any more.
	if _, err := r.store.DeleteThrottlesBefore(ctx, now.Add(-m.LoginLimits.Window)); err != nil {
		return deleted, fmt.Errorf("delete old sign-in throttles: %w", err)
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
