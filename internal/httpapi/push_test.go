package httpapi_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
	"github.com/porchlight/porchlight/internal/webpush"
)

// fakePushService is a browser vendor's push service: it records each
// message by endpoint path and answers with the status set for the path
// (201 by default).
type fakePushService struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	status map[string]int
	got    map[string][]pushed
}

type pushed struct {
	header http.Header
	body   []byte
}

func newFakePushService(t *testing.T) *fakePushService {
	f := &fakePushService{t: t, status: map[string]int{}, got: map[string][]pushed{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got[r.URL.Path] = append(f.got[r.URL.Path], pushed{r.Header.Clone(), body})
		status := f.status[r.URL.Path]
		f.mu.Unlock()
		if status == 0 {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePushService) received(path string) []pushed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pushed(nil), f.got[path]...)
}

// browser is a browser's push subscription: its RFC 8291 keys and endpoint.
type browser struct {
	key      *ecdh.PrivateKey
	auth     []byte
	endpoint string
	path     string
}

func (f *fakePushService) browser(name string) *browser {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	path := "/push/" + name + "-" + randomHex(4)
	return &browser{key: k, auth: auth, endpoint: f.srv.URL + path, path: path}
}

func (b *browser) put(device string) api.PushSubscriptionPut {
	return api.PushSubscriptionPut{Endpoint: b.endpoint, DeviceID: device,
		P256DH: base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes()), Auth: base64.RawURLEncoding.EncodeToString(b.auth)}
}

// open decrypts a push as the browser and the device would: RFC 8291,
// then the age file with the device key, then strict JSON.
func (b *browser) open(t *testing.T, p pushed, dev *keys.Pair) api.PushPayload {
	t.Helper()
	sealed, err := webpush.Decrypt(b.key, b.auth, p.body)
	if err != nil {
		t.Fatalf("push service message: %v", err)
	}
	if err := seal.CheckAgeFile(sealed); err != nil {
		t.Fatalf("the push payload is not an age file: %v", err)
	}
	pt, err := keys.Decrypt(sealed, dev.KEM)
	if err != nil {
		t.Fatalf("open the payload with device %s: %v", dev.ID, err)
	}
	dec := json.NewDecoder(bytes.NewReader(pt))
	dec.DisallowUnknownFields()
	var out api.PushPayload
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("payload %s: %v", pt, err)
	}
	return out
}

func withPush(p *httpapi.Push) acctOption { return func(e *acctEnv) { e.push = p } }

// deviceOwner signs up with a device key bound to the session and
// publishes a roster naming it.
func deviceOwner(t *testing.T, e *acctEnv) *owner {
	t.Helper()
	dev, err := keys.Generate("browser")
	if err != nil {
		t.Fatal(err)
	}
	o := &owner{t: t, dev: dev, email: "owner-" + randomHex(4) + "@example.org", password: "correct horse " + randomHex(4)}
	resp, err := e.client("").Signup(t.Context(), api.SignupRequest{Email: o.email, Password: o.password, DeviceName: "browser", DeviceID: dev.ID})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	o.c, o.household, o.token = e.client(resp.Token), resp.HouseholdID, resp.Token
	o.appendRoster(o.deviceEntry())
	return o
}

func memberEntry(dev *keys.Pair, cameras ...string) seal.RosterEntry {
	return seal.RosterEntry{ID: dev.ID, Kind: seal.KindDevice, Role: seal.RoleMember, Name: "member browser",
		Sign: dev.SignPub(), KEM: dev.Recipient(), Cameras: cameras}
}

func hubEntry(h *fakeHub) seal.RosterEntry {
	return seal.RosterEntry{ID: h.keys.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "garage hub",
		Sign: h.keys.SignPub(), KEM: h.keys.Recipient(), Cameras: []string{seal.AllCameras}}
}

// TestPushCameraEvent: a hub's new event object is pushed to every
// subscribed device that may see the camera — the owner's and an in-scope
// member's — sealed to that device; a member out of scope, a device not in
// the roster and another household's device get nothing; a push service's
// 410 deletes the subscription.
func TestPushCameraEvent(t *testing.T) {
	ps := newFakePushService(t)
	vkey, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	push := &httpapi.Push{VAPID: &webpush.VAPID{Key: vkey}, Client: ps.srv.Client(), Backoff: time.Millisecond, TTL: 10 * time.Minute}
	e := startAccounts(t, withPush(push))
	ctx := t.Context()
	now := e.clock.Now()

	o := deviceOwner(t, e)
	hub := claimHub(t, e, o)
	cam, other := hub.camera(), hub.camera()
	ep, rcpt := hub.epoch(cam)

	// A member who sees cam; one whose membership covers cam but whose
	// roster entry does not, and one the other way round; a second owner
	// browser whose push subscription has lapsed at the push service; an
	// owner session bound to a device not in the roster.
	member, outsider, unshared := deviceOwner(t, e), deviceOwner(t, e), deviceOwner(t, e)
	for _, m := range []struct {
		o   *owner
		cam string
	}{{member, cam}, {outsider, cam}, {unshared, other}} {
		acct, err := m.o.c.Me(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.PutMembership(ctx, store.Membership{HouseholdID: o.household, AccountID: acct.AccountID, Cameras: []string{m.cam}, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	second, err := keys.Generate("second browser")
	if err != nil {
		t.Fatal(err)
	}
	secondEntry := o.deviceEntry()
	secondEntry.ID, secondEntry.Sign, secondEntry.KEM = second.ID, second.SignPub(), second.Recipient()
	o.appendRoster(o.deviceEntry(), secondEntry, hubEntry(hub), memberEntry(member.dev, cam), memberEntry(outsider.dev, other), memberEntry(unshared.dev, cam))
	login := func(a *owner, device string) string {
		t.Helper()
		var resp api.LoginResponse
		e.must(http.StatusOK, call{}, "POST", "/v1/login", api.LoginRequest{Email: a.email, Password: a.password, DeviceName: "browser", DeviceID: device}, &resp)
		if resp.Session == nil || resp.Session.Token == "" {
			t.Fatalf("login = %+v, want a session", resp)
		}
		return resp.Session.Token
	}
	secondToken := login(o, second.ID)
	strayDev, err := keys.Generate("stray")
	if err != nil {
		t.Fatal(err)
	}
	strayToken := login(o, strayDev.ID)

	// Another household, subscribed, with its own hub and camera.
	stranger := deviceOwner(t, e)
	strangerHub := claimHub(t, e, stranger)
	strangerHub.camera()

	subscribe := func(token, device string, b *browser) api.PushSubscription {
		t.Helper()
		var out api.PushSubscription
		e.must(http.StatusCreated, call{token: token}, "PUT", "/v1/push/subscriptions", b.put(device), &out)
		return out
	}
	ownerB, memberB, outsiderB, goneB, strayB, strangerB := ps.browser("owner"), ps.browser("member"), ps.browser("outsider"), ps.browser("gone"), ps.browser("stray"), ps.browser("stranger")
	subscribe(o.token, o.dev.ID, ownerB)
	subscribe(member.token, member.dev.ID, memberB)
	subscribe(outsider.token, outsider.dev.ID, outsiderB)
	unsharedB := ps.browser("unshared")
	subscribe(unshared.token, unshared.dev.ID, unsharedB)
	gone := subscribe(secondToken, second.ID, goneB)
	subscribe(strayToken, strayDev.ID, strayB)
	subscribe(stranger.token, stranger.dev.ID, strangerB)
	ps.mu.Lock()
	ps.status[goneB.path] = http.StatusGone
	ps.mu.Unlock()

	start := now.Add(-20 * time.Second)
	evID, _, _ := hub.event(cam, ep, rcpt, start, []byte("\xff\xd8 jpeg"))
	for deadline := time.Now().Add(10 * time.Second); len(ps.received(ownerB.path)) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // the fan-out runs in the background
	}
	push.Wait()

	want := api.PushPayload{V: 1, Kind: api.NoticeCameraEvent, Camera: cam, Object: evID, Minute: start.UTC().Truncate(time.Minute), Priority: "normal"}
	for _, tc := range []struct {
		name string
		b    *browser
		dev  *keys.Pair
	}{{"owner", ownerB, o.dev}, {"member", memberB, member.dev}, {"second owner browser", goneB, second}} {
		got := ps.received(tc.b.path)
		if len(got) != 1 {
			t.Errorf("%s's browser got %d pushes, want 1", tc.name, len(got))
			continue
		}
		if p := tc.b.open(t, got[0], tc.dev); p != want {
			t.Errorf("%s's payload = %+v, want %+v", tc.name, p, want)
		}
		h := got[0].header
		if !strings.HasPrefix(h.Get("Authorization"), "vapid t=") || h.Get("Content-Encoding") != "aes128gcm" || h.Get("TTL") != "600" || h.Get("Urgency") != "high" {
			t.Errorf("%s's push headers = %v", tc.name, h)
		}
	}
	// Sealed to the member's device, not the owner's.
	if got := ps.received(memberB.path); len(got) == 1 {
		sealed, _ := webpush.Decrypt(memberB.key, memberB.auth, got[0].body)
		if _, err := keys.Decrypt(sealed, o.dev.KEM); err == nil {
			t.Error("the owner's device opens the member's push")
		}
	}
	for name, b := range map[string]*browser{"member device out of the roster's scope": outsiderB, "member whose membership does not cover the camera": unsharedB,
		"device not in the roster": strayB, "another household": strangerB} {
		if got := ps.received(b.path); len(got) != 0 {
			t.Errorf("%s got %d pushes, want none", name, len(got))
		}
	}

	// The push service said 410: that subscription is gone, the others stay.
	all, err := e.st.PushSubscriptions(ctx, accountOf(t, o))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.ID == gone.ID {
			t.Errorf("subscription %s answered 410 and is still stored", gone.ID)
		}
	}
	if len(all) != 2 {
		t.Errorf("owner has %d subscriptions after the 410, want 2 (owner browser, stray)", len(all))
	}
}

func accountOf(t *testing.T, o *owner) string {
	t.Helper()
	me, err := o.c.Me(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return me.AccountID
}

// TestPushSubscriptions: the routes' checks, deleting only one's own, and
// a subscription ending with its session.
func TestPushSubscriptions(t *testing.T) {
	ps := newFakePushService(t)
	vkey, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	v := &webpush.VAPID{Key: vkey}
	e := startAccounts(t, withPush(&httpapi.Push{VAPID: v, Client: ps.srv.Client()}))
	o, other := deviceOwner(t, e), deviceOwner(t, e)

	var key api.PushVAPID
	e.must(http.StatusOK, call{token: o.token}, "GET", "/v1/push/vapid", nil, &key)
	if key.PublicKey != v.PublicKey() || len(key.PublicKey) != 87 {
		t.Errorf("vapid key = %q, want %q", key.PublicKey, v.PublicKey())
	}

	b := ps.browser("b")
	for _, tc := range []struct {
		name   string
		edit   func(*api.PushSubscriptionPut)
		status int
		code   string
	}{
		{"another device", func(p *api.PushSubscriptionPut) { p.DeviceID = other.dev.ID }, http.StatusForbidden, api.CodeWrongDevice},
		{"no device", func(p *api.PushSubscriptionPut) { p.DeviceID = "" }, http.StatusForbidden, api.CodeWrongDevice},
		{"http endpoint", func(p *api.PushSubscriptionPut) { p.Endpoint = "http://push.example/x" }, http.StatusBadRequest, "invalid"},
		{"bad key", func(p *api.PushSubscriptionPut) { p.P256DH = "AAAA" }, http.StatusBadRequest, "invalid"},
		{"not base64url", func(p *api.PushSubscriptionPut) { p.Auth = "a+b/" }, http.StatusBadRequest, "invalid"},
		{"short auth", func(p *api.PushSubscriptionPut) { p.Auth = "AAAA" }, http.StatusBadRequest, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := b.put(o.dev.ID)
			tc.edit(&in)
			resp, ae := e.do(call{token: o.token}, "PUT", "/v1/push/subscriptions", in, nil)
			if resp.StatusCode != tc.status || ae.Code != tc.code {
				t.Errorf("PUT = %d %s (%s), want %d %s", resp.StatusCode, ae.Code, ae.Message, tc.status, tc.code)
			}
		})
	}

	var sub api.PushSubscription
	e.must(http.StatusCreated, call{token: o.token}, "PUT", "/v1/push/subscriptions", b.put(o.dev.ID), &sub)
	if sub.DeviceID != o.dev.ID || !seal.ValidID(sub.ID) {
		t.Errorf("subscription = %+v", sub)
	}
	e.must(http.StatusNotFound, call{token: other.token}, "DELETE", "/v1/push/subscriptions/"+sub.ID, nil, nil)
	e.must(http.StatusNoContent, call{token: o.token}, "DELETE", "/v1/push/subscriptions/"+sub.ID, nil, nil)
	e.must(http.StatusNotFound, call{token: o.token}, "DELETE", "/v1/push/subscriptions/"+sub.ID, nil, nil)

	// Signing out ends the subscription with the session.
	e.must(http.StatusCreated, call{token: o.token}, "PUT", "/v1/push/subscriptions", b.put(o.dev.ID), &sub)
	acct := accountOf(t, o)
	e.must(http.StatusNoContent, call{token: o.token}, "POST", "/v1/logout", nil, nil)
	if subs, err := e.st.PushSubscriptions(t.Context(), acct); err != nil || len(subs) != 0 {
		t.Errorf("subscriptions after sign-out = %v, %v; want none", subs, err)
	}
}

// TestPushDefaultClientRefusesPrivateAddresses: an endpoint is a URL a
// browser chose; the default client does not let it reach the service's
// own network.
func TestPushDefaultClientRefusesPrivateAddresses(t *testing.T) {
	ps := newFakePushService(t)
	vkey, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	push := &httpapi.Push{VAPID: &webpush.VAPID{Key: vkey}, Attempts: 1}
	e := startAccounts(t, withPush(push))
	o := deviceOwner(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	ep, rcpt := hub.epoch(cam)
	b := ps.browser("loopback")
	e.must(http.StatusCreated, call{token: o.token}, "PUT", "/v1/push/subscriptions", b.put(o.dev.ID), nil)
	hub.event(cam, ep, rcpt, e.clock.Now(), []byte("\xff\xd8 jpeg"))
	push.Wait()
	if got := ps.received(b.path); len(got) != 0 {
		t.Errorf("the default client delivered %d pushes to a loopback endpoint", len(got))
	}
	if !strings.Contains(e.logs.String(), "not a public address") {
		t.Errorf("log does not say why the push failed:\n%s", e.logs.String())
	}
}

var updatePush = flag.Bool("update-push", false, "rewrite testdata/vectors/push-v1.json")

// pushVector is testdata/vectors/push-v1.json, which the service worker's
// tests (web/src/sw_open.test.ts) open: a device identity, a push payload
// sealed to it as porchlightd seals one, what it must open to, one sealed
// to another device and malformed payloads sealed to the device, which a
// receiver must refuse.
type pushVector struct {
	Identity string            `json:"identity"`
	Payload  []byte            `json:"payload"`
	Want     api.PushPayload   `json:"want"`
	Foreign  []byte            `json:"foreign"`
	Bad      map[string][]byte `json:"bad"`
}

// TestPushPayloadVector checks the vector against this code (payload
// shape, sealing) and rewrites it with -update-push.
func TestPushPayloadVector(t *testing.T) {
	const path = "../../testdata/vectors/push-v1.json"
	if *updatePush {
		dev, err := keys.Generate("browser")
		if err != nil {
			t.Fatal(err)
		}
		other, err := keys.Generate("other")
		if err != nil {
			t.Fatal(err)
		}
		want := api.PushPayload{V: 1, Kind: api.NoticeCameraEvent, Camera: seal.NewID(), Object: seal.NewID(),
			Minute: time.Date(2026, 11, 23, 18, 4, 0, 0, time.UTC), Priority: seal.PriorityNormal}
		sealTo := func(pt []byte, p *keys.Pair) []byte {
			r, err := seal.ParseRecipient(p.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			b, err := seal.SealTo(pt, r)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		good, _ := json.Marshal(want)
		v := pushVector{Identity: dev.KEM.String(), Payload: sealTo(good, dev), Want: want, Foreign: sealTo(good, other), Bad: map[string][]byte{}}
		for name, pt := range map[string]string{
			"unknown field": strings.Replace(string(good), `"v":1`, `"v":1,"name":"Front door"`, 1),
			"version 2":     strings.Replace(string(good), `"v":1`, `"v":2`, 1),
			"other kind":    strings.Replace(string(good), `"camera_event"`, `"new_sign_in"`, 1),
			"bad camera id": strings.Replace(string(good), want.Camera, "../etc/passwd", 1),
			"bad priority":  strings.Replace(string(good), `"normal"`, `"urgent"`, 1),
			"not json":      "camera_event " + want.Camera,
		} {
			v.Bad[name] = sealTo([]byte(pt), dev)
		}
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the vector (write it with go test ./internal/httpapi -run TestPushPayloadVector -update-push): %v", err)
	}
	var v pushVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseHybridIdentity(v.Identity)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := keys.Decrypt(v.Payload, id)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(pt))
	dec.DisallowUnknownFields()
	var got api.PushPayload
	if err := dec.Decode(&got); err != nil || got != v.Want {
		t.Errorf("vector payload = %+v, %v; want %+v", got, err, v.Want)
	}
	// The shape porchlightd sends is exactly this one.
	want, _ := json.Marshal(v.Want)
	if string(pt) != string(want) {
		t.Errorf("vector plaintext %s, want %s", pt, want)
	}
	if _, err := keys.Decrypt(v.Foreign, id); err == nil {
		t.Error("the foreign payload opens with the vector's identity")
	}
	if len(v.Bad) < 6 {
		t.Errorf("vector has %d malformed payloads, want 6", len(v.Bad))
	}
}
