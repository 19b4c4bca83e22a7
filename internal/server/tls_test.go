package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/server"
	"github.com/porchlight/porchlight/internal/testutil"
)

// testCA is a self-signed certificate authority for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "porchlight test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a leaf certificate for names (DNS names or IP addresses)
// and its key as PEM files into dir, returning their paths.
func (ca *testCA) issue(t *testing.T, dir, serial string, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := new(big.Int).SetString(serial, 10)
	tmpl := &x509.Certificate{
		SerialNumber: n,
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, name := range names {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return certFile, keyFile
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// peerSerial connects to addr with a fresh TLS connection and returns the
// serial number of the certificate served.
func peerSerial(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestHTTPSWithCertFiles: porchlightd serves HTTPS from PEM files; a
// client trusting the CA gets /healthz, plain HTTP and TLS 1.1 do not, and
// the derived public origin is https with the certificate's name.
func TestHTTPSWithCertFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, dir, "1001", "localhost", "127.0.0.1")
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	var out bytes.Buffer
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), TLSCert: certFile, TLSKey: keyFile,
		Stdout: &out, Logger: quietLogger(io.Discard)}
	addr, err := m.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, want := out.String(), "porchlightd: listening on https://"+addr+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	_, port, _ := net.SplitHostPort(addr)
	if got, want := m.PublicOrigin(), "https://localhost:"+port; got != want {
		t.Errorf("PublicOrigin = %q, want %q", got, want)
	}

	// The CLI's and hub's client with --ca.
	hc, err := apiclient.NewHTTPClient(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c := apiclient.New("https://"+addr, "")
	c.HTTP = hc
	if err := c.Healthz(t.Context()); err != nil {
		t.Errorf("healthz over HTTPS: %v", err)
	}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("GET /healthz: %d, TLS %+v", resp.StatusCode, resp.TLS)
	}

	// Plain HTTP to the TLS port gets no answer from the API.
	if err := apiclient.New("http://"+addr, "").Healthz(t.Context()); err == nil {
		t.Error("plain HTTP to the HTTPS port succeeded")
	}
	// Nor does a client that does not trust the CA.
	if err := apiclient.New("https://"+addr, "").Healthz(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("healthz without the CA: %v, want a certificate error", err)
	}
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool(), MaxVersion: tls.VersionTLS11, ServerName: "localhost"}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

// TestCertReload: replacing the certificate files takes effect on a new
// connection once the check interval (a minute) has passed, and files that
// do not load keep the previous certificate.
func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, dir, "2001", "127.0.0.1")
	clk := &clock{t: time.Now()}
	logs := &testutil.SyncBuffer{}
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), TLSCert: certFile, TLSKey: keyFile,
		Stdout: io.Discard, Logger: quietLogger(logs), Now: clk.Now}
	addr, err := m.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := peerSerial(t, addr, ca.pool()); got != "2001" {
		t.Fatalf("serial %s, want 2001", got)
	}

	ca.issue(t, dir, "2002", "127.0.0.1")
	if got := peerSerial(t, addr, ca.pool()); got != "2001" {
		t.Errorf("within the minute: serial %s, want the old 2001", got)
	}
	clk.Add(61 * time.Second)
	if got := peerSerial(t, addr, ca.pool()); got != "2002" {
		t.Errorf("after a minute: serial %s, want the new 2002", got)
	}
	if !strings.Contains(logs.String(), "reloaded the TLS certificate") {
		t.Errorf("reload not logged:\n%s", logs)
	}

	// A broken certificate file: the old pair stays, an error is logged.
	writeFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
	clk.Add(61 * time.Second)
	if got := peerSerial(t, addr, ca.pool()); got != "2002" {
		t.Errorf("after a broken file: serial %s, want the previous 2002", got)
	}
	if !strings.Contains(logs.String(), "do not load; serving the previous certificate") {
		t.Errorf("bad reload not logged:\n%s", logs)
	}
}

// TestStartRefusesBadTLSFiles: each way the files can be wrong stops
// Start with a message naming the setting.
func TestStartRefusesBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, dir, "3001", "127.0.0.1")
	other := t.TempDir()
	_, otherKey := ca.issue(t, other, "3002", "127.0.0.1")
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("hello"))
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "nope.pem"), keyFile, "tls_cert/tls_key: stat " + filepath.Join(dir, "nope.pem")},
		{"missing key", certFile, filepath.Join(dir, "nope.pem"), "tls_cert/tls_key: stat"},
		{"not PEM", garbage, keyFile, "want PEM files: the certificate chain, leaf first, and the private key that matches it"},
		{"key of another cert", certFile, otherKey, "tls_cert/tls_key: load " + certFile + " and " + otherKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &server.Main{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), TLSCert: tc.cert, TLSKey: tc.key,
				Stdout: io.Discard, Logger: quietLogger(io.Discard)}
			if _, err := m.Start(t.Context()); err == nil || !strings.Contains(err.Error(), tc.want) {
				m.Close()
				t.Errorf("Start: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPublicOrigin: the origin handed to the API, configured or derived.
func TestPublicOrigin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*server.Main)
		want   string // with PORT for the port served
	}{
		{"loopback", func(*server.Main) {}, "http://127.0.0.1:PORT"},
		{"localhost", func(m *server.Main) { m.Listen = "localhost:0" }, "http://localhost:PORT"},
		{"configured", func(m *server.Main) { m.PublicURL = "https://cams.example.org/" }, "https://cams.example.org"},
		{"every interface behind a proxy", func(m *server.Main) { m.Listen, m.AllowPlainHTTP = "0.0.0.0:0", true }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &server.Main{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Stdout: io.Discard, Logger: quietLogger(io.Discard)}
			tc.change(m)
			addr, err := m.Start(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			_, port, _ := net.SplitHostPort(addr)
			if got, want := m.PublicOrigin(), strings.ReplaceAll(tc.want, "PORT", port); got != want {
				t.Errorf("PublicOrigin = %q, want %q", got, want)
			}
		})
	}
}
