package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/store"
)

// testPushSubscriptions: subscriptions are listed per account, replaced by
// endpoint, deleted only by their account, and end with their session —
// whether it is deleted, its device leaves the roster or its account is
// disabled.
func testPushSubscriptions(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	other, _ := household(t, s)
	session := func(a store.Account, device string) store.Session {
		se := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, DeviceName: "browser", DeviceID: device,
			Created: t0, LastUsed: t0, AuthAt: t0, Expires: t0.Add(time.Hour)}
		must(t, s.CreateSession(ctx(t), se), "create session")
		return se
	}
	sub := func(se store.Session, endpoint string, at time.Time) store.PushSubscription {
		p := store.PushSubscription{ID: id("push"), AccountID: se.AccountID, SessionID: se.ID, DeviceID: se.DeviceID,
			Endpoint: endpoint, P256DH: []byte{4, 1, 2, 3}, Auth: []byte("0123456789abcdef"), Created: at}
		must(t, s.PutPushSubscription(ctx(t), p), "put push subscription")
		return p
	}
	list := func(a store.Account) []store.PushSubscription {
		ps, err := s.PushSubscriptions(ctx(t), a.ID)
		must(t, err, "push subscriptions")
		return ps
	}

	if got := list(owner); len(got) != 0 {
		t.Errorf("PushSubscriptions before any = %v, want none", got)
	}
	s1, s2 := session(owner, "dev1"), session(owner, "dev2")
	p1 := sub(s1, "https://push.example/a", t0.Add(time.Second))
	p2 := sub(s2, "https://push.example/b", t0.Add(2*time.Second))
	if diff := cmp.Diff([]store.PushSubscription{p1, p2}, list(owner)); diff != "" {
		t.Errorf("PushSubscriptions (-want +got):\n%s", diff)
	}

	// Registering the same endpoint again replaces the old record.
	p1b := sub(s1, p1.Endpoint, t0.Add(3*time.Second))
	if diff := cmp.Diff([]store.PushSubscription{p2, p1b}, list(owner)); diff != "" {
		t.Errorf("after re-registering an endpoint (-want +got):\n%s", diff)
	}
	dup := p2
	dup.Endpoint = "https://push.example/dup"
	wantErr(t, s.PutPushSubscription(ctx(t), dup), store.ErrConflict, "put with a taken id")
	bad := store.PushSubscription{ID: id("push"), AccountID: owner.ID, SessionID: "nosuchsession", Endpoint: "https://push.example/x", P256DH: []byte{4}, Auth: []byte{1}, Created: t0}
	wantErr(t, s.PutPushSubscription(ctx(t), bad), store.ErrNotFound, "put with an unknown session")

	// Only the account deletes its own.
	wantErr(t, s.DeletePushSubscription(ctx(t), other.ID, p2.ID), store.ErrNotFound, "delete another account's subscription")
	must(t, s.DeletePushSubscription(ctx(t), owner.ID, p2.ID), "delete subscription")
	wantErr(t, s.DeletePushSubscription(ctx(t), owner.ID, p2.ID), store.ErrNotFound, "delete again")

	// Ending the session ends its subscriptions.
	must(t, s.DeleteSession(ctx(t), s1.ID), "delete session")
	if got := list(owner); len(got) != 0 {
		t.Errorf("after the session ended: %v, want none", got)
	}

	// So does the device leaving the roster, and disabling the account.
	s3, s4 := session(owner, "dev3"), session(owner, "dev4")
	sub(s3, "https://push.example/c", t0)
	p4 := sub(s4, "https://push.example/d", t0)
	_, err := s.RemoveDevice(ctx(t), h.ID, "dev3")
	must(t, err, "remove device")
	if diff := cmp.Diff([]store.PushSubscription{p4}, list(owner)); diff != "" {
		t.Errorf("after removing dev3 (-want +got):\n%s", diff)
	}
	po := sub(session(other, "dev9"), "https://push.example/o", t0)
	_, err = s.SetDisabled(ctx(t), owner.ID, true)
	must(t, err, "disable")
	if got := list(owner); len(got) != 0 {
		t.Errorf("after disabling the account: %v, want none", got)
	}
	if diff := cmp.Diff([]store.PushSubscription{po}, list(other)); diff != "" {
		t.Errorf("another account's subscriptions changed (-want +got):\n%s", diff)
	}
}
