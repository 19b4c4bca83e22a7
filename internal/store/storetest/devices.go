package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/store"
)

// testRemoveDevice: removing a device deletes its wraps in that household
// only and ends its sessions of the owner and members, nobody else's.
func testRemoveDevice(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	member, _ := household(t, s)
	stranger, h2 := household(t, s)
	c := camera(t, s, hub(t, s, owner, h))
	c2 := camera(t, s, hub(t, s, stranger, h2))
	must(t, s.PutMembership(ctx(t), store.Membership{HouseholdID: h.ID, AccountID: member.ID, Cameras: []string{c.ID}, Created: t0}), "put membership")

	e := store.Epoch{ID: id("ep"), CameraID: c.ID, Announcement: []byte("a1"), Created: t0}
	must(t, s.PutEpoch(ctx(t), e, []store.Wrap{{DeviceID: "gone", Data: []byte("g1")}, {DeviceID: "kept", Data: []byte("k1")}}), "put epoch")
	other := store.Epoch{ID: id("ep"), CameraID: c2.ID, Announcement: []byte("a2"), Created: t0}
	must(t, s.PutEpoch(ctx(t), other, []store.Wrap{{DeviceID: "gone", Data: []byte("g2")}}), "put other household's epoch")

	session := func(a store.Account, device string) store.Session {
		se := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, DeviceName: "d", DeviceID: device,
			Created: t0, LastUsed: t0, AuthAt: t0, Expires: t0.Add(time.Hour)}
		must(t, s.CreateSession(ctx(t), se), "create session")
		return se
	}
	ownerGone, memberGone := session(owner, "gone"), session(member, "gone")
	ownerKept, ownerNone, strangerGone := session(owner, "kept"), session(owner, ""), session(stranger, "gone")

	ended, err := s.RemoveDevice(ctx(t), h.ID, "gone")
	must(t, err, "remove device")
	want := []string{ownerGone.ID, memberGone.ID}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, ended); diff != "" {
		t.Errorf("ended (-want +got):\n%s", diff)
	}
	for _, se := range []store.Session{ownerGone, memberGone} {
		_, err := s.SessionByID(ctx(t), se.ID)
		wantErr(t, err, store.ErrNotFound, "removed device's session")
	}
	for _, se := range []store.Session{ownerKept, ownerNone, strangerGone} {
		_, err := s.SessionByID(ctx(t), se.ID)
		must(t, err, "other session")
	}

	wrapOf := func(cameraID, device string) string {
		es, err := s.Epochs(ctx(t), cameraID, device)
		must(t, err, "epochs")
		if len(es) != 1 {
			t.Fatalf("Epochs(%s) = %d epochs, want 1", cameraID, len(es))
		}
		return string(es[0].Wrap)
	}
	if got := wrapOf(c.ID, "gone"); got != "" {
		t.Errorf("removed device's wrap = %q, want none", got)
	}
	if got := wrapOf(c.ID, "kept"); got != "k1" {
		t.Errorf("other device's wrap = %q, want k1", got)
	}
	if got := wrapOf(c2.ID, "gone"); got != "g2" {
		t.Errorf("other household's wrap = %q, want g2", got)
	}

	// Again, and for a device never seen: nothing to do, no error.
	ended, err = s.RemoveDevice(ctx(t), h.ID, "gone")
	must(t, err, "remove device again")
	if len(ended) != 0 {
		t.Errorf("second removal ended %v", ended)
	}
	_, err = s.RemoveDevice(ctx(t), h.ID, "")
	must(t, err, "remove empty device id")
	if _, err := s.SessionByID(ctx(t), ownerNone.ID); err != nil {
		t.Errorf("removing device \"\" ended a session without a device: %v", err)
	}
}
