package cli

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// household is an opened household: the session, this device's keys and the
// verified roster, with the cameras and epoch keys loaded on demand. It is
// what cameras, recordings, export and hub claim share; nothing it returns
// has escaped verification.
type household struct {
	m      *Main
	conn   *conn
	sess   *session
	dev    *keys.Pair
	pin    *pinnedRoster
	chain  [][]byte     // verified chain, oldest first
	roster *seal.Roster // its latest version

	// recovery, if set, is listed in roster version 1 when this device
	// founds the household (signup).
	recovery *seal.RosterEntry

	cams   []*camera                      // nil until loadCameras
	epochs map[string]map[string]*epoch   // camera id → epoch id → epoch
	keys   map[string]*age.HybridIdentity // epoch id → unwrapped key
}

// camera is a camera of the household with its verified descriptor.
type camera struct {
	api.Camera
	Name    string            // from the hub-signed descriptor; "" if err
	HubName string            // from the roster
	hub     ed25519.PublicKey // the hub's key, from the verified roster
	err     error             // why the descriptor did not open or verify
}

// epoch is an epoch listing entry with its verified announcement.
type epoch struct {
	api.Epoch
	ann *seal.EpochAnnouncement
	err error
}

// cameraSegments opens the household, finds the camera by name and lists
// its verified segments overlapping [from, to]: what recordings and export
// both start from.
func (m *Main) cameraSegments(ctx context.Context, name string, from, to time.Time) (*household, *camera, []segRef, error) {
	h, err := m.openHousehold(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := h.camera(ctx, name)
	if err != nil {
		// Not one of this household's: maybe a camera shared with this
		// account by another household (members.go).
		sh, sc, ok, serr := m.sharedCamera(ctx, h, name)
		if errors.Is(serr, errRosterAlarm) {
			return nil, nil, nil, serr
		}
		if serr != nil || !ok {
			return nil, nil, nil, err
		}
		h, c = sh, sc
	}
	segs, err := h.segments(ctx, c, from, to)
	if err != nil {
		return nil, nil, nil, err
	}
	return h, c, segs, nil
}

// openHousehold loads the session and device key and fetches and verifies
// the roster. Commands that read the household start here.
func (m *Main) openHousehold(ctx context.Context) (*household, error) {
	sess, c, err := m.openSession()
	if err != nil {
		return nil, err
	}
	return m.household(ctx, sess, c)
}

// household opens the household of a session.
func (m *Main) household(ctx context.Context, sess *session, c *conn) (*household, error) {
	if sess.HouseholdID == "" {
		return nil, fmt.Errorf("%s is a staff account: it has no household, cameras or recordings", sess.Email)
	}
	dev, err := m.loadDevice()
	if err != nil {
		return nil, err
	}
	h := &household{
		m: m, conn: c, sess: sess, dev: dev,
		epochs: map[string]map[string]*epoch{}, keys: map[string]*age.HybridIdentity{},
	}
	if err := h.refreshRoster(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// refreshRoster fetches the roster and verifies it against this device's
// pin, pinning it on first use, and founding it (version 1 signed by this
// device) if the household has none yet.
func (h *household) refreshRoster(ctx context.Context) error {
	r, err := h.conn.c.Roster(ctx)
	if err != nil {
		return h.conn.explain("fetch the household roster", err)
	}
	pin, err := h.m.loadPin()
	if err != nil {
		return err
	}
	if pin != nil && pin.Household != h.sess.HouseholdID {
		return fmt.Errorf("this device's state belongs to household %s, but you are logged in to household %s: use another %s for another household", pin.Household, h.sess.HouseholdID, EnvHome)
	}
	if pin == nil {
		if len(r.Versions) == 0 {
			return h.foundRoster(ctx)
		}
		root, latest, err := rosterSigner(r.Versions)
		if err != nil {
			return fmt.Errorf("%w: the household roster does not verify (%v); refusing it", errRosterAlarm, err)
		}
		if latest.Household != h.sess.HouseholdID {
			return fmt.Errorf("%w: the roster is of household %s, not yours (%s); refusing it", errRosterAlarm, latest.Household, h.sess.HouseholdID)
		}
		if h.sess.NeedsRoster && !root.Equal(h.dev.SignPub()) {
			// This device signed up the household: only its own version 1
			// can start the roster.
			return fmt.Errorf("%w: the household you just signed up for already has a roster, signed by key %s, not by this device; refusing it", errRosterAlarm, seal.KeyID(root))
		}
		pin = &pinnedRoster{Household: latest.Household, Root: root, Versions: r.Versions}
		if err := h.m.savePin(pin); err != nil {
			return err
		}
		if h.sess.NeedsRoster {
			h.sess.NeedsRoster = false
			if err := h.m.saveSession(h.sess); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(h.m.Stderr, "Pinned household key %s (the signer of roster version 1) on first use: this device will refuse any roster not rooted in it.\n", seal.KeyID(root))
		}
		h.pin, h.chain, h.roster = pin, r.Versions, latest
		return nil
	}
	latest, err := checkChain(pin, r.Versions)
	if err != nil {
		return err
	}
	seen := len(pin.Versions)
	if len(r.Versions) > seen {
		pin.Versions = r.Versions
		if err := h.m.savePin(pin); err != nil {
			return err
		}
	}
	h.pin, h.chain, h.roster = pin, r.Versions, latest
	h.reportRosterChanges(h.m.Stderr, seen, r.Versions)
	return nil
}

// foundRoster signs and uploads version 1 with this device as the first
// owner: the last step of signup, repeated if signup was interrupted.
func (h *household) foundRoster(ctx context.Context) error {
	var extra []seal.RosterEntry
	if h.recovery != nil {
		extra = append(extra, *h.recovery)
	}
	v1, err := firstRoster(h.dev, h.sess.HouseholdID, h.m.Now(), extra...)
	if err != nil {
		return err
	}
	if err := h.conn.c.AppendRoster(ctx, v1); err != nil {
		if apiclient.IsStatus(err, http.StatusConflict) {
			return errors.New("another device created the household roster at the same time: run the command again")
		}
		return h.conn.explain("upload the household roster", err)
	}
	latest, err := seal.VerifyRosterChain([][]byte{v1}, h.dev.SignPub())
	if err != nil {
		return err
	}
	pin := &pinnedRoster{Household: h.sess.HouseholdID, Root: h.dev.SignPub(), Versions: [][]byte{v1}}
	if err := h.m.savePin(pin); err != nil {
		return err
	}
	if h.sess.NeedsRoster {
		h.sess.NeedsRoster = false
		if err := h.m.saveSession(h.sess); err != nil {
			return err
		}
	}
	h.pin, h.chain, h.roster = pin, [][]byte{v1}, latest
	return nil
}

// self is this device's entry in the latest roster, or nil.
func (h *household) self() *seal.RosterEntry {
	e := h.roster.Entry(h.dev.ID)
	if e == nil || e.Kind != seal.KindDevice {
		return nil
	}
	return e
}

// requireViewer fails unless this device is in the roster.
func (h *household) requireViewer() error {
	if h.self() == nil {
		return fmt.Errorf("this device (%s) is not in your household's roster (version %d), so it holds no keys to your video: use a device that is, or have an owner add this one", h.dev.ID, h.roster.Version)
	}
	return nil
}

// hubKey returns the signing key of a hub listed in the latest roster.
func (h *household) hubKey(hubID string) (ed25519.PublicKey, string, error) {
	e := h.roster.Entry(hubID)
	if e == nil || e.Kind != seal.KindHub {
		return nil, "", fmt.Errorf("hub %s is not in your household's roster (version %d): its data cannot be trusted", hubID, h.roster.Version)
	}
	return ed25519.PublicKey(e.Sign), e.Name, nil
}

// trusted returns the signers whose manifests and epoch announcements
// this device accepts for a camera: its hub, and the owner devices of the
// latest verified roster (`porchlight rekey` re-seals history under an
// owner device's signature). The Hub field of what they sign names the
// signer, so it is checked by seal, not against the camera's hub.
func (h *household) trusted(hubID string, hub ed25519.PublicKey) seal.Signers {
	owners := map[string]ed25519.PublicKey{hubID: hub}
	for _, o := range h.roster.Owners() {
		owners[o.ID] = ed25519.PublicKey(o.Sign)
	}
	return func(id string) ed25519.PublicKey { return owners[id] }
}

// loadCameras lists the cameras and opens their descriptors, sorted by
// name. A camera whose descriptor fails keeps the reason in err.
func (h *household) loadCameras(ctx context.Context) ([]*camera, error) {
	if h.cams != nil {
		return h.cams, nil
	}
	list, err := h.conn.c.Cameras(ctx)
	if err != nil {
		return nil, h.conn.explain("list cameras", err)
	}
	cams := make([]*camera, 0, len(list))
	for _, a := range list {
		c := &camera{Camera: a}
		c.hub, c.HubName, c.err = h.hubKey(a.HubID)
		if c.err == nil {
			c.err = h.openDescriptor(c)
		}
		cams = append(cams, c)
	}
	sort.SliceStable(cams, func(i, j int) bool {
		if cams[i].Name != cams[j].Name {
			return cams[i].Name < cams[j].Name
		}
		return cams[i].ID < cams[j].ID
	})
	h.cams = cams
	return cams, nil
}

func (h *household) openDescriptor(c *camera) error {
	d, err := h.dev.OpenCamera(c.Descriptor, c.hub)
	if err != nil {
		return fmt.Errorf("camera %s: descriptor does not open or verify: %w", c.ID, err)
	}
	if d.Household != h.roster.Household || d.Camera != c.ID || d.Hub != c.HubID {
		return fmt.Errorf("camera %s: descriptor is signed for another household, camera or hub", c.ID)
	}
	c.Name = d.Name
	return nil
}

// camera finds a verified camera by name (or id).
func (h *household) camera(ctx context.Context, name string) (*camera, error) {
	if err := h.requireViewer(); err != nil {
		return nil, err
	}
	cams, err := h.loadCameras(ctx)
	if err != nil {
		return nil, err
	}
	var byName []*camera
	var names []string
	for _, c := range cams {
		if c.ID == name {
			if c.err != nil {
				return nil, c.err
			}
			return c, nil
		}
		if c.err == nil {
			names = append(names, clean(c.Name))
			if c.Name == name {
				byName = append(byName, c)
			}
		}
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		if len(names) == 0 {
			return nil, fmt.Errorf("no camera named %q: this household has no cameras yet (claim a hub with `porchlight hub claim`)", name)
		}
		return nil, fmt.Errorf("no camera named %q: your cameras are %s (see `porchlight cameras`)", name, strings.Join(names, ", "))
	default:
		var ids []string
		for _, c := range byName {
			ids = append(ids, c.ID)
		}
		return nil, fmt.Errorf("%d cameras are named %q: pass one of their ids instead (%s)", len(byName), name, strings.Join(ids, ", "))
	}
}

// errNoWrap means the service holds no key of an epoch for this device:
// the epoch predates the device, or the device was out of scope.
var errNoWrap = errors.New("no key for this device")

// epochKey returns the unwrapped key of a camera's epoch, checked against
// the hub-signed announcement.
func (h *household) epochKey(ctx context.Context, c *camera, epochID string) (*age.HybridIdentity, error) {
	if k, ok := h.keys[epochID]; ok {
		return k, nil
	}
	eps, ok := h.epochs[c.ID]
	if !ok {
		list, err := h.conn.c.Epochs(ctx, c.ID, h.dev.ID)
		if err != nil {
			return nil, h.conn.explain("list the epochs of camera "+clean(c.Name), err)
		}
		eps = map[string]*epoch{}
		for _, e := range list {
			ep := &epoch{Epoch: e}
			ep.ann, ep.err = seal.VerifyEpochFrom(e.Announcement, h.trusted(c.HubID, c.hub))
			if ep.err == nil && (ep.ann.Household != h.roster.Household || ep.ann.Camera != c.ID || ep.ann.Epoch != e.ID) {
				ep.err = fmt.Errorf("%w: announcement is for another household, camera, epoch or hub", seal.ErrMalformed)
			}
			eps[e.ID] = ep
		}
		h.epochs[c.ID] = eps
	}
	ep := eps[epochID]
	switch {
	case ep == nil:
		return nil, fmt.Errorf("epoch %s: the service lists no such epoch for camera %s, so the manifest is not this camera's: the service mixed up or altered its data; refusing it", epochID, c.ID)
	case ep.err != nil:
		return nil, fmt.Errorf("epoch %s: announcement does not verify with the key of the hub or an owner device: %w", epochID, ep.err)
	case len(ep.Wrap) == 0:
		return nil, fmt.Errorf("epoch %s: %w", epochID, errNoWrap)
	}
	k, err := h.dev.OpenEpochKey(ep.Wrap, ep.ann)
	if err != nil {
		return nil, fmt.Errorf("epoch %s: %w", epochID, err)
	}
	h.keys[epochID] = k
	return k, nil
}

// segRef is a segment listed by a verified manifest.
type segRef struct {
	seal.ManifestObject
	Epoch    string // epoch whose key sealed it
	Manifest string // id of the manifest that listed it
}

// segments returns the segments of camera c that overlap [from, to),
// ordered by sequence, each listed by a manifest that opened and verified.
// A verification failure is an error naming the manifest; manifests of
// epochs this device has no key for are skipped with a warning.
func (h *household) segments(ctx context.Context, c *camera, from, to time.Time) ([]segRef, error) {
	// Manifests are indexed by their first segment's start, to the minute;
	// a batch spans well under a minute, so one extra minute is enough.
	list, err := h.conn.c.Manifests(ctx, c.ID, from.Add(-time.Minute), to, true)
	if err != nil {
		return nil, h.conn.explain("list recordings of camera "+clean(c.Name), err)
	}
	bySeq := map[uint64]segRef{}
	noKey := map[string]int{}
	for _, oi := range list {
		if oi.Kind != api.ObjectManifest {
			continue
		}
		objs, err := h.openManifest(ctx, c, oi)
		if errors.Is(err, errNoWrap) {
			noKey[oi.EpochID]++
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if !o.Start.Before(to) || !o.End().After(from) {
				continue
			}
			ref := segRef{ManifestObject: o, Epoch: oi.EpochID, Manifest: oi.ID}
			if prev, dup := bySeq[o.Seq]; dup {
				if prev.ID != o.ID || prev.SHA256 != o.SHA256 {
					fmt.Fprintf(h.m.Stderr, "porchlight: warning: manifests %s and %s list different segments (%s, %s) as segment %d of camera %s; using the first\n",
						prev.Manifest, oi.ID, prev.ID, o.ID, o.Seq, clean(c.Name))
				}
				continue
			}
			bySeq[o.Seq] = ref
		}
	}
	for ep, n := range noKey {
		fmt.Fprintf(h.m.Stderr, "porchlight: warning: skipped %d manifest(s) of epoch %s: the hub wrapped no key of it to this device (%s)\n", n, ep, h.dev.ID)
	}
	return bySeqOrder(bySeq), nil
}

// openManifest decrypts and verifies one manifest and checks its entries.
func (h *household) openManifest(ctx context.Context, c *camera, oi api.ObjectInfo) ([]seal.ManifestObject, error) {
	if !seal.ValidID(oi.ID) || !seal.ValidID(oi.EpochID) {
		return nil, fmt.Errorf("the service listed a manifest with a malformed id %q (epoch %q)", oi.ID, oi.EpochID)
	}
	if len(oi.Data) == 0 {
		return nil, fmt.Errorf("manifest %s: the service sent it without its data", oi.ID)
	}
	key, err := h.epochKey(ctx, c, oi.EpochID)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", oi.ID, err)
	}
	pt, err := keys.Decrypt(oi.Data, key)
	var m *seal.Manifest
	if err == nil {
		m, err = seal.VerifyManifestFrom(pt, h.trusted(c.HubID, c.hub), h.roster.Household, c.ID, oi.EpochID)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest %s (camera %s, epoch %s) does not open or verify: %w", oi.ID, clean(c.Name), oi.EpochID, err)
	}
	objs := make([]seal.ManifestObject, 0, len(m.Objects))
	for _, o := range m.Objects {
		if o.Kind != api.ObjectSegment {
			continue
		}
		if !seal.ValidID(o.ID) || len(o.SHA256) != 64 || o.Size <= 0 || o.Size > apiclient.MaxObject || o.DurationMS < 0 {
			return nil, fmt.Errorf("manifest %s lists a malformed segment entry (id %q, seq %d)", oi.ID, o.ID, o.Seq)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// clean makes a string from the service or a descriptor safe to print:
// control characters (terminal escapes) become '?'.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// bySeqOrder returns the segments of a by-sequence map in sequence order.
func bySeqOrder(bySeq map[uint64]segRef) []segRef {
	out := slices.Collect(maps.Values(bySeq))
	slices.SortFunc(out, func(a, b segRef) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}
