package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/porchlight/porchlight/internal/server"
	"github.com/porchlight/porchlight/internal/testutil"
)

// startDNS serves DNS over TCP on a free loopback port, answering every A
// question with 127.0.0.1 (and AAAA with nothing), so the ACME test CA
// finds porchlightd under any name.
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		reply := new(dns.Msg)
		reply.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				reply.Answer = append(reply.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(reply)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// pebble is an in-process Pebble ACME CA (github.com/letsencrypt/pebble).
type pebble struct {
	dirURL string
	ca     *ca.CAImpl
	client *http.Client // trusts the CA's API certificate
}

// startPebble starts Pebble's API on a free port. Its validation authority
// resolves names with dnsAddr and connects to tlsPort (TLS-ALPN-01) and
// httpPort (HTTP-01). tlsPort is only known once porchlightd listens, so
// the API's address comes first and start() runs the rest.
func newPebble(t *testing.T, apiCA *testCA) (p *pebble, start func(dnsAddr string, httpPort, tlsPort int)) {
	t.Helper()
	// Pebble reads these when its parts are made: no random validation
	// delay, no deliberately rejected nonces.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	certFile, keyFile := apiCA.issue(t, dir, "9001", "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	p = &pebble{
		dirURL: "https://" + srv.Listener.Addr().String() + wfe.DirectoryPath,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: apiCA.pool()}}},
	}
	logger := log.New(io.Discard, "pebble ", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.Lmicroseconds)
	}
	return p, func(dnsAddr string, httpPort, tlsPort int) {
		store := db.NewMemoryStore()
		p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
		v := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
		w := wfe.New(logger, store, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
		srv.Config.Handler = w.Handler()
		srv.StartTLS()
	}
}

// roots returns the pool of Pebble's issuing root.
func (p *pebble) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.GetRootCert(0).Cert)
	return pool
}

// TestACMEWithPebble: porchlightd configured with acme_domains obtains a
// certificate from a real ACME server (Pebble, in-process) through a
// TLS-ALPN-01 challenge on its own HTTPS listener, serves it, caches it in
// the 0700 cache directory, refuses names it was not configured for, and
// its acme_http_listen redirects plain HTTP to HTTPS.
func TestACMEWithPebble(t *testing.T) {
	const domain = "cams.porchlight.test"
	dnsAddr := startDNS(t)
	pebbleCA, start := newPebble(t, newTestCA(t))
	data := filepath.Join(t.TempDir(), "data")
	logs := &testutil.SyncBuffer{}
	m := &server.Main{
		Listen: "127.0.0.1:0", DataDir: data,
		ACMEDomains: []string{domain}, ACMEEmail: "ops@porchlight.test", ACMEDirectoryURL: pebbleCA.dirURL,
		ACMEHTTPListen: "127.0.0.1:0", ACMEHTTPClient: pebbleCA.client,
		Stdout: io.Discard, Logger: quietLogger(logs),
	}
	addr, err := m.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, port, _ := net.SplitHostPort(addr)
	tlsPort := mustAtoi(t, port)
	start(dnsAddr, 0, tlsPort)
	if got, want := m.PublicOrigin(), "https://"+domain+":"+port; got != want {
		t.Errorf("PublicOrigin = %q, want %q", got, want)
	}

	// The first handshake for the name makes porchlightd order the
	// certificate; Pebble validates through this same listener.
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pebbleCA.roots(), ServerName: domain},
	}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz with the ACME certificate: %v\nlogs:\n%s", err, logs)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", resp.StatusCode)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain {
		t.Errorf("certificate names %v, want [%s]", leaf.DNSNames, domain)
	}

	// The certificate and account key are cached privately.
	cache := filepath.Join(data, "acme")
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(cache, domain)); err != nil {
		t.Errorf("certificate not cached: %v", err)
	}

	// Another name is refused by the host policy: no certificate, no order.
	other := &tls.Config{RootCAs: pebbleCA.roots(), ServerName: "evil.porchlight.test"}
	if c, err := tls.Dial("tcp", addr, other); err == nil {
		c.Close()
		t.Error("a handshake for a name not in acme_domains succeeded")
	}

	// Plain HTTP on acme_http_listen: GET redirects to the HTTPS origin
	// (never to the request's Host), anything else is refused.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	httpAddr := m.ACMEHTTPAddr()
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/v1/me?x=1", nil)
	req.Host = "attacker.example"
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Location"), "https://"+domain+":"+port+"/v1/me?x=1"; resp.StatusCode != http.StatusMovedPermanently || got != want {
		t.Errorf("GET over plain HTTP: %d Location %q, want 301 %q", resp.StatusCode, got, want)
	}
	resp, err = noFollow.Post("http://"+httpAddr+"/v1/login", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST over plain HTTP: %d, want 400", resp.StatusCode)
	}
	// The challenge path goes to autocert: an unknown token for our name
	// is 404, any token for another name 403 (host policy).
	for host, want := range map[string]int{domain: http.StatusNotFound, "evil.porchlight.test": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/.well-known/acme-challenge/unknown-token", nil)
		req.Host = host
		resp, err = noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("HTTP-01 token for %s: %d, want %d from the challenge handler", host, resp.StatusCode, want)
		}
	}

	// A restart serves the cached certificate without asking the CA.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := &server.Main{
		Listen: "127.0.0.1:0", DataDir: data, ACMEDomains: []string{domain},
		ACMEDirectoryURL: "https://127.0.0.1:1/unreachable", Stdout: io.Discard, Logger: quietLogger(io.Discard),
	}
	addr2, err := m2.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	c, err := tls.Dial("tcp", addr2, &tls.Config{RootCAs: pebbleCA.roots(), ServerName: domain})
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if got := c.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart: serial %v, want the cached %v", got, leaf.SerialNumber)
	}
	c.Close()
}

// TestACMECacheDirMustBePrivate: a configured acme_cache_dir open to
// other users is refused (it holds the account key), not silently changed;
// the default one under data_dir is made private.
func TestACMECacheDirMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "shared")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), ACMEDomains: []string{"cams.example.org"},
		ACMECacheDir: open, Stdout: io.Discard, Logger: quietLogger(io.Discard)}
	if _, err := m.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "acme_cache_dir: "+open+" is open to other users (mode -rwxr-xr-x)") {
		m.Close()
		t.Errorf("Start: %v", err)
	}

	data := filepath.Join(dir, "data2")
	if err := os.MkdirAll(filepath.Join(data, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(data, "acme"), 0o755)
	m = &server.Main{Listen: "127.0.0.1:0", DataDir: data, ACMEDomains: []string{"cams.example.org"},
		Stdout: io.Discard, Logger: quietLogger(io.Discard)}
	if _, err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if fi, err := os.Stat(filepath.Join(data, "acme")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("default cache dir: %v %v, want 0700", err, fi.Mode().Perm())
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(r-'0')
	}
	return n
}
