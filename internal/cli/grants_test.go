package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/server"
	"github.com/porchlight/porchlight/internal/testutil"
)

// grantEnv is a porchlightd with an owner (household, hub, camera "front
// door" with recordings) and a support account, each with its own state
// directory.
type grantEnv struct {
	t           *testing.T
	dir         string // the service's data directory
	server      string
	clk         *clock
	owner       cliEnv
	ownerSecret []byte // the owner's authenticator, once added
	support     cliEnv
	supSecret   []byte
	hub         *testHub
	camera      string
	epoch       *testEpoch
}

const staffTestPassword = "a support agent's long passphrase"

// newGrantEnv starts the service, signs up the owner and claims a hub with
// one camera. withFactor adds an authenticator to the owner's account.
func newGrantEnv(t *testing.T, withFactor bool) *grantEnv {
	t.Helper()
	dir := t.TempDir()
	e := &grantEnv{t: t, dir: filepath.Join(dir, "service"), clk: &clock{}}
	var err error
	if e.server, err = startServerClock(e.dir, t.Cleanup, e.clk.now); err != nil {
		t.Fatal(err)
	}
	e.owner = userEnv(filepath.Join(dir, "owner"), e.server)
	e.support = cliEnv{EnvHome: filepath.Join(dir, "support"), EnvServer: e.server, EnvPassword: staffTestPassword, "TZ": "UTC"}
	mustCLI(t, e.owner, "signup", "--email", "owner@example.com")
	if withFactor {
		e.addOwnerFactor()
	}
	e.hub, _ = claimTestHub(t, e.owner, e.server)
	e.camera = e.hub.addCamera("front door")
	e.epoch = e.hub.newEpoch(e.camera)
	e.addSupport()
	return e
}

// addOwnerFactor adds an authenticator app to the owner's account.
func (e *grantEnv) addOwnerFactor() {
	t := e.t
	var out, errb testutil.SyncBuffer
	code := Main{Args: []string{"totp", "add", "--no-qr"}, Stdin: &codeReader{stdout: &out}, Stdout: &out, Stderr: &errb, Env: e.owner.get}.Run(t.Context())
	if code != 0 {
		t.Fatalf("totp add: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	secret, err := secretOfURI(secretRE.FindString(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	e.ownerSecret = secret
}

// addSupport creates a support account over the admin socket and logs it
// in on its own state directory.
func (e *grantEnv) addSupport() {
	t := e.t
	var out, errb strings.Builder
	env := map[string]string{"PORCHLIGHT_PASSWORD": staffTestPassword}
	code := server.Admin(t.Context(), []string{"--data", e.dir, "staff", "add", "--email", "agent@example.com", "--role", "support",
		"--org", "Acme Support", "--country", "DE"}, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	if code != 0 {
		t.Fatalf("staff add: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	secret, err := secretOfURI(regexp.MustCompile(`otpauth://\S+`).FindString(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	e.supSecret = secret
	e.support[EnvTOTP] = e.nextCode(secret)
	mustCLI(t, e.support, "login", "--email", "agent@example.com")
}

// nextCode returns an authenticator code of a time step not used before:
// it moves the service's clock on by one step.
func (e *grantEnv) nextCode(secret []byte) string {
	e.clk.advance(auth.TOTPPeriod)
	return auth.TOTPCode(secret, auth.TOTPStep(e.clk.now()))
}

// record uploads segments starting at at and returns an RFC 3339 window
// around them.
func (e *grantEnv) record(at time.Time, segs []segment.Segment) (string, string) {
	return e.hub.record(e.epoch, at, segs)
}

var requestIDRE = regexp.MustCompile(`Request ([a-z2-7]{20,32}) filed`)

// request files a support request and returns its id.
func (e *grantEnv) request(args ...string) string {
	e.t.Helper()
	r := mustCLI(e.t, e.support, append([]string{"support", "request", "--owner", "owner@example.com", "--reason", "camera drops offline at night",
		"--ticket", "T-1234", "--camera", "front door"}, args...)...)
	m := requestIDRE.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "waiting for the owner's approval") {
		e.t.Fatalf("support request printed no id or no word of waiting:\n%s", r.stdout)
	}
	return m[1]
}

// supportClient is an API client with the support account's session.
func (e *grantEnv) supportClient() *apiclient.Client {
	e.t.Helper()
	var s session
	b, err := os.ReadFile(filepath.Join(e.support[EnvHome], sessionFile))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		e.t.Fatal(err)
	}
	return apiclient.New(e.server, s.Token)
}

// joined is what an export of segs must write.
func joined(t *testing.T, segs []segment.Segment) []byte {
	t.Helper()
	var media [][]byte
	for _, s := range segs {
		media = append(media, s.Data)
	}
	var b bytes.Buffer
	if err := segment.Concat(&b, media); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSupportGrant runs the whole support flow against a real porchlightd:
// request, the owner's listing and approval, the support export (equal to
// the recorded segments), the owner's decrypted and verified audit log,
// revocation (the service then refuses), and a tampered log tile that
// `audit verify` must alarm on.
func TestSupportGrant(t *testing.T) {
	segs := synthSegments(t, 4)
	e := newGrantEnv(t, true)
	base := time.Now().UTC().Add(-20 * time.Minute).Truncate(time.Second)
	from, to := e.record(base, segs)
	// Recordings outside the window the request asks for.
	e.record(base.Add(-10*time.Minute), segs[:2])

	id := e.request("--from", from, "--to", to, "--video", "--expires", "2h")
	key := filepath.Join(e.support[EnvHome], "grants", id+".key")
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("request key %s: %v (want a file with mode 0600)", key, err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.support[EnvHome], "grants", ".*")); len(left) > 0 {
		t.Errorf("temporary key files left behind: %v", left)
	}

	r := mustCLI(t, e.support, "support", "requests")
	if !regexp.MustCompile(id + `\s+pending\s+front door\s+.*\s+yes\s+lapses .*T-1234\s+yes`).MatchString(r.stdout) {
		t.Errorf("support requests:\n%s", r.stdout)
	}

	// A second, pending request is listed first.
	other := e.request("--from", from, "--to", to)
	r = mustCLI(t, e.owner, "grants")
	for _, want := range []string{
		id + "  PENDING  agent@example.com (Acme Support, DE)",
		`camera:  "front door"`, "video:   yes", "lasts:   2h0m0s once approved",
		"reason:  camera drops offline at night", "ticket:  T-1234",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("grants does not show %q:\n%s", want, r.stdout)
		}
	}

	// The owner's sign-in is recent but predates its authenticator: the
	// approval asks for the password and a code first.
	e.owner[EnvTOTP] = e.nextCode(e.ownerSecret)
	r = mustCLI(t, e.owner, "grants", "approve", "--yes", id)
	if !strings.Contains(r.stderr, "This needs a recent sign-in") {
		t.Errorf("approve on a password-only sign-in did not ask for the second factor:\n%s", r.stderr)
	}
	for _, want := range []string{"Approved request " + id, "1 epoch key released", "releases the keys of 1 epoch"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("grants approve does not say %q:\n%s", want, r.stdout)
		}
	}
	r = mustCLI(t, e.owner, "grants")
	if strings.Index(r.stdout, other+"  PENDING") > strings.Index(r.stdout, id+"  APPROVED") || !strings.Contains(r.stdout, id+"  APPROVED") {
		t.Errorf("grants after approval: want the pending request first, then the approved one:\n%s", r.stdout)
	}

	out := filepath.Join(t.TempDir(), "support.mp4")
	r = mustCLI(t, e.support, "export", "--grant", id, "-o", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := joined(t, segs); !bytes.Equal(got, want) {
		t.Errorf("the support export is %d bytes, not the %d bytes of the recorded segments", len(got), len(want))
	}
	if !strings.Contains(r.stderr, "Exported camera \"front door\" of grant "+id+": 4 segments") {
		t.Errorf("export --grant stderr:\n%s", r.stderr)
	}
	if r := mustCLI(t, e.support, "support", "requests"); !regexp.MustCompile(id + `\s+approved\s`).MatchString(r.stdout) {
		t.Errorf("support requests after approval:\n%s", r.stdout)
	}

	// The owner's log: every step, decrypted, attributed and verified.
	r = waitAudit(t, e.owner, "fetch", "audit")
	for _, want := range []string{
		`grant\s+support agent@example.com \(Acme Support, DE\)\s+grant_requested\s+grant:` + id + `\s+pending\s+✓`,
		`grant\s+owner device \S+\s+grant_approved\s+grant:` + id + `\s+approved\s+✓`,
		`key_release\s+support agent@example.com \(Acme Support, DE\)\s+key_release\s+camera:` + e.camera + `\s+allowed\s+✓`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("audit does not list %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "✗") || strings.Contains(r.stdout, "sealed to other devices") {
		t.Errorf("audit shows an unverified or unopened entry:\n%s", r.stdout)
	}
	for _, want := range []string{"key_release", "fetch", "list_manifests"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit does not list %s:\n%s", want, r.stdout)
		}
	}
	// One fetch entry per segment, each published in its own time.
	r = waitAuditFunc(t, e.owner, func(out string) bool { return strings.Count(out, "\n") >= len(segs) },
		"audit", "--actor", "support", "--action", "fetch", "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(segs) {
		t.Errorf("audit --action fetch --json: %d lines, want one per segment fetched (%d):\n%s", len(lines), len(segs), r.stdout)
	}
	for _, l := range lines {
		var j auditJSON
		if err := json.Unmarshal([]byte(l), &j); err != nil || !j.Verified || j.Body == nil || j.Body.Actor.Email != "agent@example.com" || j.Body.Grant != id {
			t.Errorf("audit --json line %q (%v): want a verified fetch by the agent under grant %s", l, err, id)
		}
	}

	r = mustCLI(t, e.owner, "audit", "verify")
	if !regexp.MustCompile(`^audit log verified: \d+ entries of your household, checkpoint size \d+\n`).MatchString(r.stdout) {
		t.Errorf("audit verify:\n%s", r.stdout)
	}

	// Revoked: the CLI refuses, and so does the service.
	r = mustCLI(t, e.owner, "grants", "revoke", id)
	if !strings.Contains(r.stdout, "Revoked grant "+id) {
		t.Errorf("grants revoke:\n%s", r.stdout)
	}
	r = runCLI(t, e.support, "", "export", "--grant", id, "-o", filepath.Join(t.TempDir(), "after.mp4"))
	if r.code != 1 || !strings.Contains(r.stderr, "is revoked, not approved") {
		t.Errorf("export after revocation: exit %d\n%s", r.code, r.stderr)
	}
	sc := e.supportClient()
	if _, err := sc.GrantEpochs(t.Context(), id); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("the key release after revocation: %v, want 403", err)
	}
	if _, err := sc.GrantManifests(t.Context(), id, base, base.Add(time.Minute), false); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("the manifests after revocation: %v, want 403", err)
	}
	if r := runCLI(t, e.owner, "", "grants", "revoke", id); r.code != 1 || !strings.Contains(r.stderr, "it is revoked") {
		t.Errorf("revoking twice: exit %d\n%s", r.code, r.stderr)
	}
	r = waitAudit(t, e.owner, "grant:"+id, "audit", "--action", "grant_revoked")
	if strings.Contains(r.stdout, "✗") {
		t.Errorf("audit --action grant_revoked:\n%s", r.stdout)
	}
}

// waitAudit runs an audit command until its output shows want: entries
// logged in the background reach a published checkpoint shortly after.
func waitAudit(t *testing.T, env cliEnv, want string, args ...string) result {
	t.Helper()
	return waitAuditFunc(t, env, func(out string) bool { return strings.Contains(out, want) }, args...)
}

// waitAuditFunc runs an audit command until ok accepts its output.
func waitAuditFunc(t *testing.T, env cliEnv, ok func(stdout string) bool, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := mustCLI(t, env, args...)
		if ok(r.stdout) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("porchlight %s never showed what the test waits for:\n%s\n%s", strings.Join(args, " "), r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSupportGrantWithoutVideo: approving needs a second factor; a grant
// without video releases no key (the service refuses the key release and
// the CLI says why); a denied request cannot be approved.
func TestSupportGrantWithoutVideo(t *testing.T) {
	segs := synthSegments(t, 2)
	e := newGrantEnv(t, false)
	from, to := e.record(time.Now().UTC().Add(-5*time.Minute).Truncate(time.Second), segs)

	id := e.request("--from", from, "--to", to)
	r := runCLI(t, e.owner, "", "grants", "approve", "--yes", id)
	if r.code != 1 || !strings.Contains(r.stderr, "needs a second factor on your account") || !strings.Contains(r.stderr, "porchlight totp add") {
		t.Fatalf("approve without a second factor: exit %d\n%s", r.code, r.stderr)
	}
	e.addOwnerFactor()
	// Past the re-authentication window: approving asks for the password
	// and a code again, and then goes through.
	e.clk.advance(api.ReauthWindow + time.Minute)
	e.owner[EnvTOTP] = e.nextCode(e.ownerSecret)
	r = mustCLI(t, e.owner, "grants", "approve", "--yes", id)
	if !strings.Contains(r.stdout, "metadata only") || !strings.Contains(r.stdout, "0 epoch keys released") {
		t.Errorf("approve without video:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "This needs a recent sign-in") {
		t.Errorf("approve after the re-authentication window did not ask to sign in again:\n%s", r.stderr)
	}
	if _, err := e.supportClient().GrantEpochs(t.Context(), id); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("key release of a grant without video: %v, want 403", err)
	}
	r = runCLI(t, e.support, "", "export", "--grant", id, "-o", filepath.Join(t.TempDir(), "x.mp4"))
	if r.code != 1 || !strings.Contains(r.stderr, "metadata only") {
		t.Errorf("export of a grant without video: exit %d\n%s", r.code, r.stderr)
	}

	// A camera name that is not the owner's.
	wrong := e.request("--from", from, "--to", to, "--camera", "garage")
	r = runCLI(t, e.owner, "", "grants", "approve", "--yes", wrong)
	if r.code != 1 || !strings.Contains(r.stderr, `no camera named "garage": your cameras are front door`) {
		t.Errorf("approve a request for an unknown camera: exit %d\n%s", r.code, r.stderr)
	}

	// Denied.
	r = mustCLI(t, e.owner, "grants", "deny", wrong)
	if !strings.Contains(r.stdout, "Denied request "+wrong) {
		t.Errorf("grants deny:\n%s", r.stdout)
	}
	if r := mustCLI(t, e.owner, "grants"); !strings.Contains(r.stdout, wrong+"  DENIED") {
		t.Errorf("grants after deny:\n%s", r.stdout)
	}
	if r := runCLI(t, e.owner, "", "grants", "approve", "--yes", wrong); r.code != 1 || !strings.Contains(r.stderr, "is denied, not pending") {
		t.Errorf("approve a denied request: exit %d\n%s", r.code, r.stderr)
	}
	if r := mustCLI(t, e.support, "support", "requests"); !regexp.MustCompile(wrong + `\s+denied\s`).MatchString(r.stdout) {
		t.Errorf("support requests after deny:\n%s", r.stdout)
	}
	r = waitAudit(t, e.owner, "grant:"+wrong, "audit", "--action", "grant_denied")
	if strings.Contains(r.stdout, "✗") {
		t.Errorf("audit --action grant_denied:\n%s", r.stdout)
	}
}

// TestParseExpires pins what --expires of a support request accepts.
func TestParseExpires(t *testing.T) {
	for in, want := range map[string]time.Duration{"1h": time.Hour, "90m": 90 * time.Minute, "24h": 24 * time.Hour, "1d": 24 * time.Hour} {
		if got, err := parseExpires(in); err != nil || got != want {
			t.Errorf("parseExpires(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1h", "48h", "24h1s", "2d", "30s", "soon"} {
		if d, err := parseExpires(in); err == nil {
			t.Errorf("parseExpires(%q) = %v, want an error", in, d)
		}
	}
}

// synthSegments makes n one-second H.264 fMP4 segments as the hub's
// Cutter would (an init with a 16×16 baseline SPS and PPS, then one
// fragment of 25 samples starting with a sync sample), without ffmpeg:
// the export path joins them with segment.Concat and never decodes
// pictures. Each segment's sample bytes differ.
func synthSegments(t *testing.T, n int) []segment.Segment {
	t.Helper()
	// SPS: profile 66, level 1.0, one 16×16 macroblock, POC type 2, no VUI
	// (bits 1 1 011 010 0 1 1 1 1 0 0 + stop bit). PPS: CAVLC, one slice
	// group, deblocking control present (+ stop bit).
	sps := []byte{0x67, 0x42, 0xc0, 0x0a, 0xda, 0x79}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	var initBuf seekablebuffer.Buffer
	in := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: segment.Timescale, Codec: &codecs.H264{SPS: sps, PPS: pps}}}}
	if err := in.Marshal(&initBuf); err != nil {
		t.Fatal(err)
	}
	init := initBuf.Bytes()
	const frames = 25
	var out []segment.Segment
	for i := range n {
		var samples []*fmp4.Sample
		for f := range frames {
			nal := []byte{0x41, byte(i), byte(f), 0x80} // non-IDR slice
			if f == 0 {
				nal[0] = 0x65 // IDR slice
			}
			samples = append(samples, &fmp4.Sample{Duration: segment.Timescale / frames, IsNonSyncSample: f > 0,
				Payload: append([]byte{0, 0, 0, byte(len(nal))}, nal...)})
		}
		var frag seekablebuffer.Buffer
		p := fmp4.Part{SequenceNumber: uint32(i + 1), Tracks: []*fmp4.PartTrack{{ID: 1, Samples: samples}}}
		if err := p.Marshal(&frag); err != nil {
			t.Fatal(err)
		}
		data := append(bytes.Clone(init), frag.Bytes()...)
		out = append(out, segment.Segment{Duration: time.Second, Codec: segment.H264, Frames: frames, Init: data[:len(init)], Data: data})
	}
	return out
}
