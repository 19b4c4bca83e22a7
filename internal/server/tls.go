package server

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// certCheckEvery is how often, at most, the certificate files are checked
// for changes (on a new TLS connection).
const certCheckEvery = time.Minute

// certFiles serves the certificate pair in two PEM files and reloads it
// when either file changes: on a handshake at least certCheckEvery after
// the last check, it compares both files' size and modification time
// (after symlinks, so a swapped Kubernetes secret counts) with those of
// the loaded pair. A pair that fails to load (say, the certificate is
// replaced but the key not yet) is logged and the old one kept.
type certFiles struct {
	certPath, keyPath string
	now               func() time.Time
	log               *slog.Logger

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	stamp   string    // size and mtime of both files when last looked at
	checked time.Time // when the files were last stat'ed
}

// loadCertFiles loads the pair for the first time.
func loadCertFiles(certPath, keyPath string, now func() time.Time, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{certPath: certPath, keyPath: keyPath, now: now, log: log}
	stamp, err := c.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.stamp, c.checked = cert, stamp, now()
	return c, nil
}

func (c *certFiles) fileStamp() (string, error) {
	var b strings.Builder
	for _, p := range []string{c.certPath, c.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		fmt.Fprintf(&b, "%d@%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (c *certFiles) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return nil, fmt.Errorf("tls_cert/tls_key: load %s and %s: %w (want PEM files: the certificate chain, leaf first, and the private key that matches it)",
			c.certPath, c.keyPath, err)
	}
	if leaf := cert.Leaf; leaf != nil && c.now().After(leaf.NotAfter) {
		c.log.Warn("the TLS certificate has expired; clients will refuse it", "file", c.certPath, "not_after", leaf.NotAfter)
	}
	return &cert, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if now.Sub(c.checked) < certCheckEvery && !now.Before(c.checked) {
		return c.cert, nil
	}
	c.checked = now
	stamp, err := c.fileStamp()
	if err != nil {
		c.log.Error("cannot check the TLS certificate files; serving the loaded certificate", "err", err)
		return c.cert, nil
	}
	if stamp == c.stamp {
		return c.cert, nil
	}
	c.stamp = stamp
	cert, err := c.load()
	if err != nil {
		c.log.Error("the TLS certificate files changed but do not load; serving the previous certificate", "err", err)
		return c.cert, nil
	}
	c.cert = cert
	c.log.Info("reloaded the TLS certificate", "file", c.certPath, "not_after", cert.Leaf.NotAfter)
	return c.cert, nil
}

// leaf returns the loaded certificate.
func (c *certFiles) leaf() *x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert.Leaf
}

// tlsSetup is what serving HTTPS needs: the listener's TLS configuration
// and, with ACME, the certificate manager.
type tlsSetup struct {
	config *tls.Config
	files  *certFiles        // with tls_cert
	acme   *autocert.Manager // with acme_domains
}

// setupTLS prepares HTTPS, or returns nil for plain HTTP.
func (m *Main) setupTLS() (*tlsSetup, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	switch {
	case m.TLSCert != "":
		files, err := loadCertFiles(m.TLSCert, m.TLSKey, m.Now, m.Logger)
		if err != nil {
			return nil, err
		}
		cfg.GetCertificate = files.GetCertificate
		return &tlsSetup{config: cfg, files: files}, nil
	case len(m.ACMEDomains) > 0:
		dir := m.acmeCacheDir()
		if err := privateDir(dir, m.ACMECacheDir == "", m.Logger); err != nil {
			return nil, fmt.Errorf("acme_cache_dir: %w", err)
		}
		mgr := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(dir),
			HostPolicy: autocert.HostWhitelist(m.ACMEDomains...),
			Email:      m.ACMEEmail,
			Client: &acme.Client{
				DirectoryURL: m.ACMEDirectoryURL,
				HTTPClient:   m.ACMEHTTPClient,
				UserAgent:    "porchlightd",
			},
		}
		cfg.GetCertificate = mgr.GetCertificate
		// TLS-ALPN-01: the CA connects to Listen asking for this protocol.
		cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto)
		return &tlsSetup{config: cfg, acme: mgr}, nil
	}
	return nil, nil
}

func (m *Main) acmeCacheDir() string {
	return cmp.Or(m.ACMECacheDir, filepath.Join(m.DataDir, "acme"))
}

// privateDir creates dir with mode 0700. An existing one open to other
// users is made private if tighten (porchlightd's own directories), else
// refused: it may be shared, like /tmp.
func privateDir(dir string, tighten bool, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if !tighten {
			return fmt.Errorf("%s is open to other users (mode %v): use a directory only porchlightd's user can enter (chmod 700 %s)", dir, perm, dir)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private (mode 0700): %w", dir, err)
		}
		log.Warn("made a directory private (it was open to other users)", "dir", dir, "was", perm.String())
	}
	return nil
}

// publicOrigin is the origin clients use: PublicURL if set, else derived
// from the ACME name, the certificate or Listen's host, and the port
// served (addr). It returns "" when there is nothing to derive it from
// (plain HTTP on every interface behind a proxy: set public_url).
func (m *Main) publicOrigin(addr string, t *tlsSetup) string {
	if m.PublicURL != "" {
		return strings.TrimSuffix(m.PublicURL, "/")
	}
	host, _, _ := net.SplitHostPort(m.Listen)
	_, port, _ := net.SplitHostPort(addr)
	scheme, defaultPort := "http", "80"
	if t != nil {
		scheme, defaultPort = "https", "443"
		if t.acme != nil {
			host = m.ACMEDomains[0]
		} else if name := certName(t.files.leaf()); name != "" {
			host = name
		}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return ""
	}
	if port == defaultPort {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// certName is the first non-wildcard DNS name of a certificate, else its
// first IP address, else "".
func certName(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	for _, n := range c.DNSNames {
		if !strings.HasPrefix(n, "*") {
			return n
		}
	}
	if len(c.IPAddresses) > 0 {
		return c.IPAddresses[0].String()
	}
	return ""
}

// redirectToHTTPS sends GET and HEAD requests to the same path at origin
// (never to the request's Host, so it is no open redirect) and refuses
// anything else: a request body sent over plain HTTP is already exposed.
func redirectToHTTPS(origin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if origin == "" || r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "porchlightd serves HTTPS only: use https://", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, origin+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}
