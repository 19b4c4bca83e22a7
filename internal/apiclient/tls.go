package apiclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// CheckBaseURL applies the transport rule of the hub and the CLI to a
// service URL: https:// is always fine; http:// only to this machine (a
// loopback address, 127.0.0.0/8 or ::1, or the name localhost) unless
// allowInsecureHTTP says the network in between is trusted. Session and hub
// tokens travel in every request, so plain HTTP across a network hands them
// to anyone on the path. The error tells the user what to do.
func CheckBaseURL(raw string, allowInsecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("server URL %q: want https://host[:port] (or http:// to this machine)", raw)
	}
	if u.Scheme == "https" || allowInsecureHTTP || IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("server URL %q uses plain HTTP to %s, which is not this machine: "+
		"your password and tokens would cross the network readable; use https:// "+
		"(pass --ca FILE if the service has a private CA), or pass --insecure-http "+
		"only if that network is trusted", raw, u.Hostname())
}

// IsLoopbackHost reports whether host (a name or an address, without port
// or brackets) is this machine: localhost, 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// NewHTTPClient returns an HTTP client with the same timeouts as the default
// one and TLS 1.2 at least. If caFile is not empty, the PEM certificates in
// it are trusted in addition to the system's roots (for a service with a
// private or self-signed CA).
func NewHTTPClient(caFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCAFile(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return &http.Client{
		Timeout: 10 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       cfg,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
			ForceAttemptHTTP2:     true,
		},
	}, nil
}

// loadCAFile returns the system roots plus the certificates in path.
func loadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s: %w", path, errNoPEMCerts)
	}
	return pool, nil
}

var errNoPEMCerts = errors.New("no PEM certificate found (want one or more -----BEGIN CERTIFICATE----- blocks)")
