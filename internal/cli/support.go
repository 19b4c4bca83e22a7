package cli

// Support access, the support account's side: a request for one camera's
// recordings in a time window, with a key made for it on this device; and,
// once an owner approves, an export with the keys the owner released to that
// key (export --grant). The request key never leaves this device; the
// service and the owner see only its public half.

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// grantsDir is the directory of request keys under the state directory:
// grants/<grant id>.key, each mode 0600.
const grantsDir = "grants"

// grantKeyVersion is the version of a request key file.
const grantKeyVersion = 1

// grantKeyFile is a request key: JSON, mode 0600.
type grantKeyFile struct {
	V        int       `json:"v"`
	Grant    string    `json:"grant"` // "" until the service gave the request its id
	Server   string    `json:"server"`
	Identity string    `json:"identity"` // AGE-SECRET-KEY-PQ-1…
	Created  time.Time `json:"created"`
}

// parseExpires reads --expires of a support request: a duration up to
// api.GrantMaxDuration ("1h", "90m", "1d").
func parseExpires(s string) (time.Duration, error) {
	d, err := parseAgo(strings.TrimPrefix(s, "+"))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: give how long the access lasts once approved, such as 30m, 1h or 24h", s)
	}
	if d > api.GrantMaxDuration {
		return 0, fmt.Errorf("--expires %s: support access lasts at most %d hours; ask for less (file a new request if more time is needed)", s, int(api.GrantMaxDuration/time.Hour))
	}
	if d < time.Minute {
		return 0, fmt.Errorf("--expires %s: ask for at least a minute", s)
	}
	return d.Truncate(time.Second), nil
}

func cmdSupportRequest(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "support request", synopsis: "--owner EMAIL --reason TEXT --ticket ID --camera NAME --from T [--to T] [--video] [--expires 1h]", about: `
Asks the owner with account EMAIL for access to one of their cameras (NAME as
the customer calls it) in [--from, --to] (support accounts). A key is made
for this request on this device and kept in the state directory; only its
public half is sent. The owner sees the reason and ticket and approves or
denies; an approval releases the keys of exactly that camera and window to
this request's key, for --expires once approved (default 1h, at most 24h).
Without --video the request is for metadata only and no key is released.
Export with ` + "`porchlight export --grant ID`" + `; see the state of your
requests with ` + "`porchlight support requests`." + `

` + timeHelp}
	fs := m.flags(spec.name)
	owner := fs.String("owner", "", "the owner's account `EMAIL`")
	reason := fs.String("reason", "", "why access is needed, shown to the owner (`TEXT`)")
	ticket := fs.String("ticket", "", "the support ticket `ID`")
	camName := fs.String("camera", "", "the camera's `NAME`, as the owner calls it")
	fromS := fs.String("from", "", "start `T` of the recordings asked for (required)")
	toS := fs.String("to", "", "end `T` (default: now)")
	video := fs.Bool("video", false, "ask for video (without it: times and sizes only; no key is released)")
	expires := fs.String("expires", "1h", "how long the access lasts once approved (`DURATION`, at most 24h)")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*owner) == "":
		return usagef(spec.name, "--owner EMAIL is required: the account of the customer whose camera it is")
	case strings.TrimSpace(*reason) == "":
		return usagef(spec.name, "--reason is required: the owner decides on it")
	case strings.TrimSpace(*ticket) == "":
		return usagef(spec.name, "--ticket is required: the support ticket this access is for")
	case strings.TrimSpace(*camName) == "":
		return usagef(spec.name, "--camera NAME is required: the camera's name as the owner calls it")
	case *fromS == "":
		return usagef(spec.name, "--from is required: %s", timeSyntax)
	}
	dur, err := parseExpires(*expires)
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	from, to, err := parseRange(*fromS, *toS, m.Now(), m.loc, 0)
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.Role != api.RoleSupport {
		return fmt.Errorf("%s is not a support account: support requests are filed by support staff (owners share cameras with `porchlight members invite`)", sess.Email)
	}

	// The request key, saved before the request is filed: a request whose
	// key is lost is useless.
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return fmt.Errorf("make the request key: %w", err)
	}
	tmp, err := m.saveGrantKey(fmt.Sprintf(".request-%s.key", seal.NewID()), grantKeyFile{Server: c.server, Identity: id.String(), Created: m.Now().UTC()})
	if err != nil {
		return err
	}
	g, err := c.c.CreateSupportRequest(ctx, api.SupportRequest{
		OwnerEmail: strings.TrimSpace(*owner), Reason: *reason, Ticket: *ticket, Camera: *camName,
		From: from.UTC(), To: to.UTC(), Video: *video, DurationS: int64(dur / time.Second), Recipient: id.Recipient().String(),
	})
	if err != nil {
		os.Remove(tmp)
		return c.explain("file the support request", err)
	}
	if !seal.ValidID(g.ID) || g.Recipient != id.Recipient().String() {
		os.Remove(tmp)
		return fmt.Errorf("the service answered the request with a malformed id or another key (%q): ask the operator", clean(g.ID))
	}
	if _, err := m.saveGrantKey(g.ID+".key", grantKeyFile{Grant: g.ID, Server: c.server, Identity: id.String(), Created: m.Now().UTC()}); err != nil {
		return fmt.Errorf("request %s was filed, but its key was not saved (%w): deny it as the owner or let it lapse, and file a new one", g.ID, err)
	}
	os.Remove(tmp)
	what := "metadata only"
	if g.Video {
		what = "video"
	}
	fmt.Fprintf(m.Stdout, "Request %s filed: %s of camera %q, %s, for %s once approved (ticket %s).\n",
		g.ID, what, clean(g.Camera), formatSpan(g.From, g.To, m.loc), formatDuration(time.Duration(g.DurationS)*time.Second), clean(g.Ticket))
	fmt.Fprintf(m.Stdout, "Now waiting for the owner's approval: see `porchlight support requests`; once approved, `porchlight export --grant %s -o FILE`.\n", g.ID)
	return nil
}

func cmdSupportRequests(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "support requests", about: `
Lists the support requests this account filed, newest first, with their
state (pending, approved, denied, revoked, expired, forged) and whether this
device holds the request's key.`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.Role != api.RoleSupport {
		return fmt.Errorf("%s is not a support account: it files no support requests (owners see theirs with `porchlight grants`)", sess.Email)
	}
	list, err := c.c.SupportRequests(ctx)
	if err != nil {
		return c.explain("list your support requests", err)
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "No support requests: file one with `porchlight support request`.")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tCAMERA\tWINDOW\tVIDEO\tENDS\tTICKET\tKEY HERE")
	for _, g := range list {
		key := "no"
		if seal.ValidID(g.ID) {
			if _, err := m.loadGrantKey(g.ID); err == nil {
				key = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(g.ID), clean(g.State), clean(g.Camera), formatSpan(g.From, g.To, m.loc),
			yesNo(g.Video), m.grantEnds(g), orDash(clean(g.Ticket)), key)
	}
	return tw.Flush()
}

// grantEnds says when a grant's state ends: a pending request lapses, an
// approved grant expires.
func (m *Main) grantEnds(g api.Grant) string {
	switch g.State {
	case api.GrantPending:
		if g.ExpiresAt.IsZero() {
			return "lasts " + formatDuration(time.Duration(g.DurationS)*time.Second)
		}
		return "lapses " + m.when(g.ExpiresAt)
	case api.GrantApproved:
		if !m.Now().Before(g.ExpiresAt) {
			return "ended " + m.when(g.ExpiresAt)
		}
		return "until " + m.when(g.ExpiresAt)
	}
	if g.DecidedAt.IsZero() {
		return "-"
	}
	return "ended " + m.when(g.DecidedAt)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// saveGrantKey writes a request key file atomically with mode 0600 and
// returns its path.
func (m *Main) saveGrantKey(name string, k grantKeyFile) (string, error) {
	p, err := m.statePath(filepath.Join(grantsDir, name))
	if err != nil {
		return "", err
	}
	k.V = grantKeyVersion
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return "", err
	}
	if err := keys.WriteFileAtomic(p, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("save the request key %s: %w", p, err)
	}
	return p, nil
}

// errNoGrantKey means this device does not hold a grant's request key.
var errNoGrantKey = errors.New("no request key on this device")

// loadGrantKey reads the request key of a grant.
func (m *Main) loadGrantKey(grantID string) (*age.HybridIdentity, error) {
	p, err := m.statePath(filepath.Join(grantsDir, grantID+".key"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s): export on the device that filed request %s", errNoGrantKey, p, grantID)
	}
	if err != nil {
		return nil, fmt.Errorf("read the request key: %w", err)
	}
	var k grantKeyFile
	if err := json.Unmarshal(b, &k); err != nil || k.V != grantKeyVersion || k.Grant != grantID {
		return nil, fmt.Errorf("the request key %s is damaged or of another request", p)
	}
	id, err := age.ParseHybridIdentity(k.Identity)
	if err != nil {
		return nil, fmt.Errorf("the request key %s is damaged: %w", p, err)
	}
	return id, nil
}

// exportGrant is `export --grant ID`: it verifies the signed grant against
// the request key on this device, unwraps the released epoch keys, lists
// and verifies the grant camera's manifests with the hub keys the owner
// signed into the grant, and exports like an owner's export.
func (m *Main) exportGrant(ctx context.Context, cmd, grantID, fromS, toS, out string, progress bool) error {
	if !seal.ValidID(grantID) {
		return usagef(cmd, "%q is not a grant id (see `porchlight support requests`)", clean(grantID))
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.Role != api.RoleSupport {
		return fmt.Errorf("%s is not a support account: --grant exports what an owner granted to a support request (owners export with --camera)", sess.Email)
	}
	reqKey, err := m.loadGrantKey(grantID)
	if err != nil {
		return err
	}
	g, err := c.c.Grant(ctx, grantID)
	if err != nil {
		return c.explain("fetch grant "+grantID, err)
	}
	if g.State != api.GrantApproved {
		return fmt.Errorf("grant %s is %s, not approved: nothing to export (see `porchlight support requests`)", grantID, clean(g.State))
	}
	sg, err := verifyGrant(g, grantID, sess.AccountID, reqKey)
	if err != nil {
		return err
	}
	if !sg.Video {
		return fmt.Errorf("grant %s is for metadata only: the owner released no video keys (file a request with --video)", grantID)
	}
	from, to := sg.From, sg.To
	if fromS != "" || toS != "" {
		if fromS == "" {
			fromS = sg.From.Format(time.RFC3339Nano)
		}
		if toS == "" {
			toS = sg.To.Format(time.RFC3339Nano)
		}
		if from, to, err = parseRange(fromS, toS, m.Now(), m.loc, 0); err != nil {
			return usagef(cmd, "%v", err)
		}
		if !from.Before(sg.To) || !to.After(sg.From) {
			return fmt.Errorf("%s is outside grant %s, which covers %s only", formatSpan(from, to, m.loc), grantID, formatSpan(sg.From, sg.To, m.loc))
		}
		if from.Before(sg.From) || to.After(sg.To) {
			from, to = maxTime(from, sg.From), minTime(to, sg.To)
			fmt.Fprintf(m.Stderr, "porchlight: the grant covers %s only: exporting %s\n", formatSpan(sg.From, sg.To, m.loc), formatSpan(from, to, m.loc))
		}
	}
	src := &grantSource{m: m, c: c, g: sg, reqKey: reqKey, hubs: map[string]ed25519.PublicKey{}}
	for _, h := range sg.Hubs {
		src.hubs[seal.KeyID(h)] = ed25519.PublicKey(h)
	}
	if err := src.loadKeys(ctx); err != nil {
		return err
	}
	segs, err := src.segments(ctx, from, to)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("camera %q of grant %s", clean(g.Camera), grantID)
	if len(segs) == 0 {
		return fmt.Errorf("no recordings of %s between %s and %s", name, m.when(from), m.when(to))
	}
	return m.writeExport(ctx, src.source(), name, segs, from, to, out, progress)
}

// verifyGrant checks an approved grant as its grantee: the owner device's
// signature (against the key the service names; the grantee has no roster),
// and that the signed grant is this request's: its id, this account and
// this device's request key.
func verifyGrant(g *api.Grant, grantID, accountID string, reqKey *age.HybridIdentity) (*seal.Grant, error) {
	if len(g.Signed) == 0 || len(g.SignerSign) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("grant %s is approved but the service sent no signed grant or signer key: refusing it", grantID)
	}
	sg, err := seal.VerifyGrantFrom(g.Signed, ed25519.PublicKey(g.SignerSign))
	if err != nil {
		return nil, fmt.Errorf("grant %s: the signed grant does not verify (%v): refusing it", grantID, err)
	}
	switch {
	case sg.ID != grantID:
		return nil, fmt.Errorf("grant %s: the signed grant is for request %s: refusing it", grantID, clean(sg.ID))
	case sg.Recipient != reqKey.Recipient().String():
		return nil, fmt.Errorf("grant %s: the signed grant names another request key than the one this device made: refusing it", grantID)
	case sg.Requester != accountID:
		return nil, fmt.Errorf("grant %s: the signed grant is for another support account: refusing it", grantID)
	case len(sg.Hubs) == 0:
		return nil, fmt.Errorf("grant %s: the signed grant names no hub whose recordings to accept: ask the owner to approve again", grantID)
	}
	return sg, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// grantSource reads a camera's recordings under a verified grant.
type grantSource struct {
	m      *Main
	c      *conn
	g      *seal.Grant
	reqKey *age.HybridIdentity
	hubs   map[string]ed25519.PublicKey // key id → hub signing key, from the grant
	keys   map[string]*age.HybridIdentity
}

func (s *grantSource) signers(id string) ed25519.PublicKey { return s.hubs[id] }

// loadKeys fetches the key release and unwraps every epoch key with the
// request key, each checked against its hub-signed announcement.
func (s *grantSource) loadKeys(ctx context.Context) error {
	eps, err := s.c.c.GrantEpochs(ctx, s.g.ID)
	if err != nil {
		return s.c.explain("fetch the keys released to grant "+s.g.ID, err)
	}
	grantee := &keys.Pair{KEM: s.reqKey}
	s.keys = map[string]*age.HybridIdentity{}
	for _, e := range eps {
		ann, err := seal.VerifyEpochFrom(e.Announcement, s.signers)
		if err == nil && (ann.Household != s.g.Household || ann.Camera != s.g.Camera || ann.Epoch != e.ID) {
			err = fmt.Errorf("%w: announcement is for another household, camera or epoch", seal.ErrMalformed)
		}
		if err != nil {
			return fmt.Errorf("epoch %s: its announcement does not verify with the hub keys of the grant: %w", clean(e.ID), err)
		}
		if len(e.Wrap) == 0 {
			continue
		}
		k, err := grantee.OpenEpochKey(e.Wrap, ann)
		if err != nil {
			return fmt.Errorf("epoch %s: the key released to this request does not open or match: %w", e.ID, err)
		}
		s.keys[e.ID] = k
	}
	return nil
}

// segments lists the grant camera's segments overlapping [from, to), each
// listed by a manifest that opened with a released key and verified with
// a hub key of the grant, ordered by sequence.
func (s *grantSource) segments(ctx context.Context, from, to time.Time) ([]segRef, error) {
	list, err := s.c.c.GrantManifests(ctx, s.g.ID, from.Add(-time.Minute), to, true)
	if err != nil {
		return nil, s.c.explain("list the recordings of grant "+s.g.ID, err)
	}
	bySeq := map[uint64]segRef{}
	noKey := 0
	for _, oi := range list {
		if oi.Kind != api.ObjectManifest {
			continue
		}
		if !seal.ValidID(oi.ID) || !seal.ValidID(oi.EpochID) || len(oi.Data) == 0 {
			return nil, fmt.Errorf("the service listed a malformed manifest %q (epoch %q) or one without data", clean(oi.ID), clean(oi.EpochID))
		}
		key, ok := s.keys[oi.EpochID]
		if !ok {
			noKey++
			continue
		}
		pt, err := keys.Decrypt(oi.Data, key)
		var man *seal.Manifest
		if err == nil {
			man, err = seal.VerifyManifestFrom(pt, s.signers, s.g.Household, s.g.Camera, oi.EpochID)
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s (epoch %s) does not open or verify with the grant's hub keys: %w", oi.ID, oi.EpochID, err)
		}
		for _, o := range man.Objects {
			if o.Kind != api.ObjectSegment {
				continue
			}
			if !seal.ValidID(o.ID) || len(o.SHA256) != 64 || o.Size <= 0 || o.Size > apiclient.MaxObject || o.DurationMS < 0 {
				return nil, fmt.Errorf("manifest %s lists a malformed segment entry (id %q, seq %d)", oi.ID, clean(o.ID), o.Seq)
			}
			// The service serves recordings by their start's minute: one
			// that began before the window's first minute is out of scope.
			if !o.Start.Before(to) || !o.End().After(from) || o.Start.Before(s.g.From.Truncate(time.Minute)) || o.Start.After(s.g.To) {
				continue
			}
			if _, dup := bySeq[o.Seq]; !dup {
				bySeq[o.Seq] = segRef{ManifestObject: o, Epoch: oi.EpochID, Manifest: oi.ID}
			}
		}
	}
	if noKey > 0 {
		fmt.Fprintf(s.m.Stderr, "porchlight: warning: skipped %d manifest(s) of epochs whose keys the owner did not release to this grant\n", noKey)
	}
	return bySeqOrder(bySeq), nil
}

// source is the segSource of the grant.
func (s *grantSource) source() segSource {
	return segSource{
		conn:      s.c,
		household: s.g.Household,
		camera:    s.g.Camera,
		key: func(_ context.Context, epoch string) (*age.HybridIdentity, error) {
			if k, ok := s.keys[epoch]; ok {
				return k, nil
			}
			return nil, fmt.Errorf("epoch %s: the owner released no key of it to this grant", epoch)
		},
		open: func(ctx context.Context, id string) (io.ReadCloser, error) {
			rc, _, err := s.c.c.GrantObjectReader(ctx, s.g.ID, id)
			return rc, err
		},
	}
}
