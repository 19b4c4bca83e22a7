package hub

import (
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/testutil"
)

// Integration tests of roster changes against the real porchlightd: the
// hub, recording from a simulated camera, must follow a rotated owner KEM,
// a member device's scope, its removal and its expiry, in the wraps it
// uploads with each new epoch.

// next signs and appends the roster version after the latest one with the
// owner's (unchanged) signing key, its entries changed by edit, and returns
// its version number.
func (o *owner) next(t *testing.T, edit func([]seal.RosterEntry) []seal.RosterEntry) uint64 {
	t.Helper()
	rs, err := o.c.Roster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	latest, err := seal.VerifyRosterChain(rs.Versions, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := seal.SignRoster(o.dev.Sign, seal.Roster{
		Household: o.hh, Version: latest.Version + 1, Prev: seal.RosterHash(rs.Versions[len(rs.Versions)-1]),
		Created: time.Now().UTC(), Entries: edit(slices.Clone(latest.Entries)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.c.AppendRoster(t.Context(), signed); err != nil {
		t.Fatal(err)
	}
	o.ver = latest.Version + 1
	return o.ver
}

// servedEpoch is one epoch as the service lists it for a device, its
// announcement verified with the hub's key.
type servedEpoch struct {
	id      string
	ann     *seal.EpochAnnouncement
	wrap    []byte // the device's wrap; nil if it has none
	created time.Time
}

// epochsFor lists a camera's epochs with the wraps the service holds for
// device, oldest first, asking as the owner.
func (o *owner) epochsFor(t *testing.T, camID, device string) []servedEpoch {
	t.Helper()
	eps, err := o.c.Epochs(t.Context(), camID, device)
	if err != nil {
		t.Fatal(err)
	}
	var out []servedEpoch
	for _, e := range eps {
		ann, err := seal.VerifyEpoch(e.Announcement, o.hub)
		if err != nil {
			t.Fatal(err)
		}
		if ann.Camera != camID || ann.Epoch != e.ID || ann.Household != o.hh {
			t.Fatalf("epoch %s: announcement %+v names another camera, epoch or household", e.ID, ann)
		}
		out = append(out, servedEpoch{id: e.ID, ann: ann, wrap: e.Wrap, created: e.CreatedAt})
	}
	slices.SortStableFunc(out, func(a, b servedEpoch) int { return a.created.Compare(b.created) })
	return out
}

// epochsOfRoster returns the epochs started under roster version v.
func epochsOfRoster(eps []servedEpoch, v uint64) []servedEpoch {
	return slices.DeleteFunc(slices.Clone(eps), func(e servedEpoch) bool { return e.ann.Roster != v })
}

// openManifests opens every manifest of one epoch with its key and returns
// how many there are.
func (o *owner) openManifests(t *testing.T, camID, epochID string, key age.Identity) int {
	t.Helper()
	objs, err := o.c.Manifests(t.Context(), camID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), true)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, obj := range objs {
		if obj.EpochID != epochID {
			continue
		}
		if _, err := keys.OpenManifest(obj.Data, key, o.hub, o.hh, camID, epochID); err != nil {
			t.Fatalf("manifest %s of epoch %s: %v", obj.ID, epochID, err)
		}
		n++
	}
	return n
}

// descriptor returns the sealed descriptor the service holds for a camera.
func (o *owner) descriptor(t *testing.T, camID string) []byte {
	t.Helper()
	cams, err := o.c.Cameras(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cams {
		if c.ID == camID {
			return c.Descriptor
		}
	}
	t.Fatalf("camera %s not listed", camID)
	return nil
}

// recordingHub claims a hub recording the named cameras (all from one
// simulated camera) and the offline ones (whose address nobody listens on)
// against a fresh porchlightd, with a one-second roster interval, and waits
// until every recording camera has uploaded a manifest.
func recordingHub(t *testing.T, names []string, offline ...string) (*owner, *Hub, *testutil.SyncBuffer) {
	t.Helper()
	cam := startCamsim(t)
	_, addr := startServer(t, "127.0.0.1:0", t.TempDir())
	o := newOwner(t, "http://"+addr)
	logs, out := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	var cams []Camera
	for _, n := range names {
		cams = append(cams, Camera{Name: n, URL: cam.URL(), Transport: "tcp"})
	}
	for _, n := range offline {
		cams = append(cams, Camera{Name: n, URL: deadURL(t), Transport: "tcp"})
	}
	m := Main{
		Server: "http://" + addr, DataDir: t.TempDir(), Name: "house hub", Cameras: cams,
		MinSegment: time.Second, MaxSegment: 2 * time.Second, ManifestInterval: 2 * time.Second, RosterInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Out: out,
	}
	h, _ := o.claim(t, m, out)
	waitUntil(t, 30*time.Second, "a manifest of every camera", logs, func() bool {
		st := h.Stats()
		return st.Manifests >= int64(len(names)) && st.Spooled == 0
	})
	return o, h, logs
}

// deadURL returns an RTSP address on loopback that nobody listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "rtsp://" + addr + "/offline"
}

// waitEpoch waits until the service lists an epoch of camera under roster
// version v and returns the first, with its wrap for device (if any).
func (o *owner) waitEpoch(t *testing.T, logs *testutil.SyncBuffer, camID, device string, v uint64, what string) servedEpoch {
	t.Helper()
	var got servedEpoch
	waitUntil(t, 20*time.Second, what, logs, func() bool {
		eps := epochsOfRoster(o.epochsFor(t, camID, device), v)
		if len(eps) == 0 {
			return false
		}
		got = eps[0]
		return true
	})
	return got
}

// TestRotatedOwnerKEM: a roster version that keeps an owner device's id and
// signing key but replaces its KEM (what `porchlight device rotate-key` and
// `delete --shred` publish) makes the real hub start a new epoch at once,
// wrapped to the new KEM only — the old identity cannot open it — and
// re-seal the camera descriptor so the new KEM opens it. "At once" is
// shown by an offline camera: it records no segment, yet gets an epoch of
// the new version.
func TestRotatedOwnerKEM(t *testing.T) {
	o, h, logs := recordingHub(t, []string{"porch"}, "attic")
	camID, attic := h.CameraID("porch"), h.CameraID("attic")
	old := o.dev
	fresh, err := keys.Generate(old.Name)
	if err != nil {
		t.Fatal(err)
	}
	rotated := &keys.Pair{ID: old.ID, Name: old.Name, KEM: fresh.KEM, Sign: old.Sign}
	if before := epochsOfRoster(o.epochsFor(t, camID, old.ID), 2); len(before) == 0 {
		t.Fatal("no epoch under roster version 2 before the rotation")
	}

	v := o.next(t, func(es []seal.RosterEntry) []seal.RosterEntry {
		for i := range es {
			if es[i].ID == old.ID {
				es[i].KEM = rotated.Recipient()
			}
		}
		return es
	})
	waitUntil(t, 10*time.Second, "the hub to adopt the rotated roster", logs, func() bool {
		return h.currentRoster().Version == v
	})
	ep := o.waitEpoch(t, logs, camID, old.ID, v, "an epoch of the rotated roster at the service")
	// The offline camera never got a segment, so its epoch of the new
	// version can only come from the roster change itself.
	ae := o.waitEpoch(t, logs, attic, old.ID, v, "an epoch of the rotated roster for the offline camera")
	if n := len(o.epochsFor(t, attic, old.ID)); n != 1 {
		t.Errorf("the offline camera has %d epochs, want only the one of the roster change", n)
	}
	for _, e := range []servedEpoch{ep, ae} {
		if len(e.wrap) == 0 {
			t.Fatalf("epoch %s of roster version %d has no wrap for the owner device", e.id, v)
		}
		if _, err := old.OpenEpochKey(e.wrap, e.ann); err == nil {
			t.Fatalf("the old KEM opens epoch %s, wrapped after the rotation", e.id)
		}
		if _, err := rotated.OpenEpochKey(e.wrap, e.ann); err != nil {
			t.Fatalf("the rotated KEM cannot open epoch %s: %v", e.id, err)
		}
	}
	key, err := rotated.OpenEpochKey(ep.wrap, ep.ann)
	if err != nil {
		t.Fatalf("the rotated KEM cannot open epoch %s: %v", ep.id, err)
	}
	// The hub never wraps anything to the old KEM again: every epoch of the
	// new roster opens with the new key and not with the old one.
	waitUntil(t, 20*time.Second, "a manifest of the new epoch", logs, func() bool {
		return h.Stats().Spooled == 0 && o.openManifests(t, camID, ep.id, key) >= 1
	})
	for _, e := range epochsOfRoster(o.epochsFor(t, camID, old.ID), v) {
		if _, err := old.OpenEpochKey(e.wrap, e.ann); err == nil {
			t.Errorf("epoch %s of roster version %d opens with the old KEM", e.id, v)
		}
		if _, err := rotated.OpenEpochKey(e.wrap, e.ann); err != nil {
			t.Errorf("epoch %s of roster version %d: %v", e.id, v, err)
		}
	}

	// The descriptor is re-sealed for the new KEM.
	var desc []byte
	waitUntil(t, 20*time.Second, "the descriptor re-sealed to the rotated KEM", logs, func() bool {
		desc = o.descriptor(t, camID)
		_, err := rotated.OpenCamera(desc, o.hub)
		return err == nil
	})
	d, _ := rotated.OpenCamera(desc, o.hub)
	if d.Name != "porch" || d.Camera != camID {
		t.Fatalf("descriptor %+v", d)
	}
	if _, err := old.OpenCamera(desc, o.hub); err == nil {
		t.Fatal("the old KEM opens the re-sealed descriptor")
	}
}

// TestMemberScopeRemovalExpiry: with two cameras recording through the real
// hub and porchlightd,
//   - a member device scoped to "front" (with a NotAfter) gets wraps of new
//     front epochs and of no garage epoch, and can open front's manifests
//     and descriptor but not garage's descriptor;
//   - once its NotAfter passes the hub starts a new front epoch without a
//     wrap for it, with no roster change;
//   - a member device that a later version removes has no wrap in the
//     epochs started by that version, and the service drops the wraps it
//     had.
func TestMemberScopeRemovalExpiry(t *testing.T) {
	o, h, logs := recordingHub(t, []string{"front", "garage"})
	front, garage := h.CameraID("front"), h.CameraID("garage")
	gen := func(name string) *keys.Pair {
		p, err := keys.Generate(name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	member := func(p *keys.Pair, until *time.Time) seal.RosterEntry {
		e := entry(p, seal.KindDevice, seal.RoleMember)
		e.Cameras, e.NotAfter = []string{front}, until
		return e
	}
	// The neighbour's phone gets a short NotAfter (long enough for the hub
	// to adopt the version and start new epochs); the sitter's a week.
	neighbour, sitter := gen("neighbour phone"), gen("sitter phone")
	expires := time.Now().Add(8 * time.Second).UTC()
	week := time.Now().Add(7 * 24 * time.Hour).UTC()

	vAdd := o.next(t, func(es []seal.RosterEntry) []seal.RosterEntry {
		return append(es, member(neighbour, &expires), member(sitter, &week))
	})
	waitUntil(t, 10*time.Second, "the hub to adopt the members", logs, func() bool {
		return h.currentRoster().Version == vAdd
	})
	// In scope: the first front epoch of the new version is wrapped to both
	// members, and its manifests open with the neighbour's key.
	fe := o.waitEpoch(t, logs, front, neighbour.ID, vAdd, "a front epoch of the members' roster")
	if len(fe.wrap) == 0 {
		t.Fatalf("front epoch %s of roster version %d has no wrap for the in-scope member", fe.id, vAdd)
	}
	if !time.Now().Before(expires) {
		t.Fatal("the roster change took longer than the member's NotAfter: raise it")
	}
	key, err := neighbour.OpenEpochKey(fe.wrap, fe.ann)
	if err != nil {
		t.Fatalf("the member cannot open its wrap of front epoch %s: %v", fe.id, err)
	}
	waitUntil(t, 20*time.Second, "a manifest of the member's front epoch", logs, func() bool {
		return h.Stats().Spooled == 0 && o.openManifests(t, front, fe.id, key) >= 1
	})
	if ep := epochsOfRoster(o.epochsFor(t, front, sitter.ID), vAdd); len(ep) == 0 || len(ep[0].wrap) == 0 {
		t.Fatalf("front epochs of roster version %d: no wrap for the second member", vAdd)
	}
	var desc []byte
	waitUntil(t, 20*time.Second, "front's descriptor sealed to the member", logs, func() bool {
		desc = o.descriptor(t, front)
		_, err := neighbour.OpenCamera(desc, o.hub)
		return err == nil
	})
	if _, err := neighbour.OpenCamera(o.descriptor(t, garage), o.hub); err == nil {
		t.Error("the member opens the descriptor of garage, outside its scope")
	}

	// Expiry: with no roster change, the hub starts a new front epoch
	// once the NotAfter passes, and wraps it to the sitter only.
	waitUntil(t, 30*time.Second, "a front epoch after the neighbour's access expired", logs, func() bool {
		for _, e := range epochsOfRoster(o.epochsFor(t, front, neighbour.ID), vAdd) {
			if len(e.wrap) == 0 {
				return true
			}
		}
		return false
	})
	if !strings.Contains(logs.String(), "a viewer's access expired") {
		t.Errorf("the new epoch does not say the member's access expired:\n%s", logs)
	}
	// Let a few more epochs' worth of segments pass, then check every
	// front epoch: wrapped to the neighbour before its NotAfter only.
	before := h.Stats().Manifests
	waitUntil(t, 20*time.Second, "recording to go on after the expiry", logs, func() bool {
		st := h.Stats()
		return st.Manifests >= before+2 && st.Spooled == 0
	})
	expired := false
	for _, e := range epochsOfRoster(o.epochsFor(t, front, neighbour.ID), vAdd) {
		switch {
		case len(e.wrap) == 0:
			expired = true
		case expired:
			t.Errorf("front epoch %s, started after an epoch without the expired member, is wrapped to it", e.id)
		case e.created.After(expires.Add(2 * time.Second)):
			t.Errorf("front epoch %s, created %s, is wrapped to a member whose access ended %s", e.id, e.created, expires)
		}
	}
	if !expired {
		t.Fatal("no front epoch without the expired member")
	}
	sitterEps := epochsOfRoster(o.epochsFor(t, front, sitter.ID), vAdd)
	if last := sitterEps[len(sitterEps)-1]; len(last.wrap) == 0 {
		t.Errorf("the latest front epoch %s is not wrapped to the member whose access lasts", last.id)
	}

	// Out of scope, from start to now: no garage epoch for either member.
	for _, m := range []*keys.Pair{neighbour, sitter} {
		eps := o.epochsFor(t, garage, m.ID)
		if len(epochsOfRoster(eps, vAdd)) == 0 {
			t.Fatalf("no garage epoch of roster version %d", vAdd)
		}
		for _, e := range eps {
			if len(e.wrap) != 0 {
				t.Errorf("garage epoch %s (roster %d) is wrapped to %s, a member scoped to front", e.id, e.ann.Roster, m.Name)
			}
		}
	}

	// Removal: the next version drops the sitter.
	vRemove := o.next(t, func(es []seal.RosterEntry) []seal.RosterEntry {
		return slices.DeleteFunc(es, func(e seal.RosterEntry) bool { return e.ID == sitter.ID })
	})
	waitUntil(t, 10*time.Second, "the hub to adopt the removal", logs, func() bool {
		return h.currentRoster().Version == vRemove
	})
	o.waitEpoch(t, logs, front, sitter.ID, vRemove, "a front epoch of the removal's roster")
	before = h.Stats().Manifests
	waitUntil(t, 20*time.Second, "recording to go on after the removal", logs, func() bool {
		st := h.Stats()
		return st.Manifests >= before+2 && st.Spooled == 0
	})
	for _, cam := range []string{front, garage} {
		for _, e := range o.epochsFor(t, cam, sitter.ID) {
			if len(e.wrap) != 0 {
				t.Errorf("epoch %s (roster %d) still holds a wrap for the removed member", e.id, e.ann.Roster)
			}
		}
	}
	if n := len(epochsOfRoster(o.epochsFor(t, front, o.dev.ID), vRemove)); n == 0 {
		t.Fatalf("no front epoch of roster version %d", vRemove)
	}
	// The owner still opens what was recorded after the removal.
	for _, e := range epochsOfRoster(o.epochsFor(t, front, o.dev.ID), vRemove) {
		if _, err := o.dev.OpenEpochKey(e.wrap, e.ann); err != nil {
			t.Errorf("owner: front epoch %s: %v", e.id, err)
		}
	}
}
