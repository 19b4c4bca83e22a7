package httpapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestRosterLongPoll: a hub waiting for a newer roster hears of an append
// at once; without one it gets the roster when its wait runs out.
func TestRosterLongPoll(t *testing.T) {
	e := start(t)
	o := signup(t, e)
	hub := claimHub(t, e, o)
	ctx := t.Context()
	cur, err := hub.c.HubRoster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(len(cur.Versions))

	begin := time.Now()
	r, err := hub.c.HubRosterAfter(ctx, n, time.Second)
	if err != nil || uint64(len(r.Versions)) != n {
		t.Fatalf("no change: %d versions, %v", len(r.Versions), err)
	}
	if d := time.Since(begin); d < 900*time.Millisecond {
		t.Errorf("answered after %v without a change, want the 1s wait", d)
	}

	type answer struct {
		versions int
		after    time.Duration
		err      error
	}
	got := make(chan answer, 1)
	go func() {
		begin := time.Now()
		r, err := hub.c.HubRosterAfter(ctx, n, 25*time.Second)
		a := answer{err: err, after: time.Since(begin)}
		if r != nil {
			a.versions = len(r.Versions)
		}
		got <- a
	}()
	time.Sleep(200 * time.Millisecond)
	appended := time.Now()
	o.appendRoster(o.deviceEntry(), seal.RosterEntry{ID: hub.keys.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "garage hub",
		Sign: hub.keys.SignPub(), KEM: hub.keys.Recipient(), Cameras: []string{seal.AllCameras}})
	select {
	case a := <-got:
		if a.err != nil || uint64(a.versions) != n+1 {
			t.Fatalf("after an append: %d versions, %v", a.versions, a.err)
		}
		if d := time.Since(appended); d > time.Second {
			t.Errorf("the waiting hub heard of the append after %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting hub never heard of the append")
	}

	for _, q := range []string{"?after=x&wait=1s", "?after=1&wait=soon", "?after=-1&wait=1s", "?wait=1s"} {
		resp := e.raw("GET", "/v1/hub/roster"+q, hub.c.Token, nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /v1/hub/roster%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

// TestRosterLongPollShutdown: a hub waiting for a roster change is
// answered when porchlightd shuts down, so the shutdown does not wait out
// the poll (and the clean-stop marker gets written).
func TestRosterLongPollShutdown(t *testing.T) {
	e := start(t)
	hub := claimHub(t, e, signup(t, e))
	cur, err := hub.c.HubRoster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := hub.c.HubRosterAfter(t.Context(), uint64(len(cur.Versions)), 25*time.Second)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- e.m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown waited for the roster long poll")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting hub got no answer at shutdown")
	}
	if _, err := os.Stat(filepath.Join(e.data, "clean-stop")); err != nil {
		t.Errorf("no clean-stop marker after the shutdown: %v", err)
	}
}
