package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	ownerEmail    = "owner-e2e@example.com"
	ownerPassword = "correct horse battery staple 42"
)

// stack is porchlightd + a fault-injecting proxy + camsim + a claimed hub +
// an owner's CLI state, all on loopback.
type stack struct {
	t       *testing.T
	dir     string
	svcData string
	svcAddr string // host:port porchlightd listens on (kept across restarts)
	svc     *proc
	proxy   *faultProxy
	cam     *proc
	camURL  string
	camCtl  string
	hub     *proc
	cliEnv  []string
	camName string
}

func newStack(t *testing.T, camName string, camArgs ...string) *stack {
	t.Helper()
	return newStackHub(t, camName, nil, camArgs...)
}

// newStackHub is newStack with extra porchlight-hub arguments.
func newStackHub(t *testing.T, camName string, hubArgs []string, camArgs ...string) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir(), camName: camName}
	s.svcData = filepath.Join(s.dir, "service")
	s.startService("127.0.0.1:0")

	s.proxy = newFaultProxy(t, "http://"+s.svcAddr)

	s.cam = start(t, nil, "porchlight-camsim", append([]string{"--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"}, camArgs...)...)
	s.camURL = s.cam.waitFor(`(rtsp://\S+)`, 60*time.Second)[1]
	s.camCtl = s.cam.waitFor(`control.*?(http://[0-9.:]+)`, 10*time.Second)[1]

	s.cliEnv = []string{
		"PORCHLIGHT_HOME=" + filepath.Join(s.dir, "cli"),
		"PORCHLIGHT_PASSWORD=" + ownerPassword,
		"PORCHLIGHT_SERVER=http://" + s.svcAddr,
		"HOME=" + s.dir,
		"TZ=UTC",
	}
	mustRun(t, s.cliEnv, "porchlight", "signup", "--email", ownerEmail)

	claim := start(t, s.cliEnv, "porchlight", "hub", "claim", "--yes")
	code := claim.waitFor(`\b([A-Z0-9]{4}(?:-[A-Z0-9]{4})+)\b`, 30*time.Second)[1]
	s.hub = start(t, nil, "porchlight-hub", append([]string{
		"--server", s.proxy.URL(), "--data", filepath.Join(s.dir, "hub"), "--claim", code,
		"--name", "e2e hub", "--camera", camName + "=" + s.camURL}, hubArgs...)...)
	fpHub := s.hub.waitFor(`fingerprint\D*(\d{3} \d{3} \d{4})`, 60*time.Second)[1]
	fpOwner := claim.waitFor(`(\d{3} \d{3} \d{4})`, 60*time.Second)[1]
	if fpHub != fpOwner {
		t.Fatalf("hub shows fingerprint %q, owner %q", fpHub, fpOwner)
	}
	if err := claim.wait(60 * time.Second); err != nil {
		t.Fatalf("hub claim: %v\n%s", err, claim.output())
	}
	return s
}

func (s *stack) startService(listen string) {
	s.t.Helper()
	s.svc = start(s.t, nil, "porchlightd", "--listen", listen, "--data", s.svcData)
	s.svcAddr = s.svc.waitFor(`listening on http://(\S+)`, 30*time.Second)[1]
}

// restartService starts porchlightd again on the same address and data.
func (s *stack) restartService() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The old socket may linger for a moment after SIGKILL.
		l, err := net.Listen("tcp", s.svcAddr)
		if err == nil {
			l.Close()
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("address %s not free again: %v", s.svcAddr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.startService(s.svcAddr)
}

func (s *stack) cli(args ...string) string {
	s.t.Helper()
	return mustRun(s.t, s.cliEnv, "porchlight", args...)
}

// dropCamera asks camsim to drop every client and refuse new ones for d.
func (s *stack) dropCamera(d time.Duration) {
	s.t.Helper()
	resp, err := http.Post(s.camCtl+"/drop?for="+d.String(), "text/plain", nil)
	if err != nil {
		s.t.Fatalf("drop camera: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("drop camera: %s", resp.Status)
	}
}

// recordingRanges returns the ranges `porchlight recordings` shows.
func (s *stack) recordingRanges(from string) []span {
	return parseRanges(s.cli("recordings", "--camera", s.camName, "--from", from, "--to", "now"))
}

// waitRecorded polls `porchlight recordings` until cond holds.
func (s *stack) waitRecorded(what string, timeout time.Duration, cond func(out string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var out string
	for time.Now().Before(deadline) {
		so, _, err := run(s.t, s.cliEnv, "porchlight", "recordings", "--camera", s.camName, "--from", "-1h", "--to", "now")
		out = so
		if err == nil && cond(out) {
			return out
		}
		time.Sleep(2 * time.Second)
	}
	s.t.Fatalf("waiting for %s: not after %v; last recordings:\n%s\nhub:\n%s", what, timeout, out, s.hub.output())
	return ""
}

// faultProxy sits between the hub and porchlightd and can corrupt or
// truncate object uploads: the network is outside the product.
type faultProxy struct {
	srv      *http.Server
	l        net.Listener
	corrupt  atomic.Int32 // next N object uploads get one byte flipped
	truncate atomic.Int32 // next N object uploads lose their second half
	mu       sync.Mutex
	statuses map[int]int // upstream status counts of object uploads
	injected atomic.Int32
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	u, _ := url.Parse(upstream)
	p := &faultProxy{statuses: map[int]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodPut && strings.Contains(r.Request.URL.Path, "/hub/objects/") {
			p.mu.Lock()
			p.statuses[r.StatusCode]++
			p.mu.Unlock()
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/hub/objects/") {
			body, err := io.ReadAll(r.Body)
			if err == nil && len(body) > 1000 {
				switch {
				case p.corrupt.Load() > 0 && p.corrupt.Add(-1) >= 0:
					body[len(body)-100] ^= 0x5a
					p.injected.Add(1)
				case p.truncate.Load() > 0 && p.truncate.Add(-1) >= 0:
					body = body[:len(body)/2]
					p.injected.Add(1)
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		rp.ServeHTTP(w, r)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.l = l
	go p.srv.Serve(l)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *faultProxy) URL() string { return "http://" + p.l.Addr().String() }

func (p *faultProxy) count(status int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statuses[status]
}
