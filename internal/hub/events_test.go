package hub

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// events opens every event uploaded, as the owner's device would.
func (r *rig) events(dev *keys.Pair) []*seal.Event {
	r.t.Helper()
	f := r.svc
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*seal.Event
	for _, id := range f.order {
		obj := f.objects[id]
		if obj.meta.Kind != api.ObjectEvent {
			continue
		}
		ep := f.epochs[obj.meta.Epoch]
		ann, err := seal.VerifyEpoch(ep.Announcement, f.hubSign)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, w := range ep.Wraps {
			if w.DeviceID != dev.ID {
				continue
			}
			id, err := dev.OpenEpochKey(w.Data, ann)
			if err != nil {
				r.t.Fatal(err)
			}
			pt, err := keys.Decrypt(obj.body, id)
			if err != nil {
				r.t.Fatalf("event %s: %v", obj.meta.Epoch, err)
			}
			ev, err := seal.VerifyEventFrom(pt, seal.OnlySigner(f.hubSign), ann.Household, ann.Camera, ann.Epoch)
			if err != nil {
				r.t.Fatalf("event: %v", err)
			}
			out = append(out, ev)
		}
	}
	return out
}

func (r *rig) eventKinds() []string {
	var kinds []string
	for _, e := range r.events(r.hh.owner) {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

// TestDoorbellOverHTTP: an authenticated press on the local endpoint is a
// high-priority event of that camera, uploaded sealed and hub-signed; a
// wrong token or an unknown camera records nothing.
func TestDoorbellOverHTTP(t *testing.T) {
	r := newRig(t, "front door")
	m := r.main("front door")
	m.DoorbellListen, m.DoorbellToken = "127.0.0.1:0", "0123456789abcdef-token"
	h := r.start(m)
	r.waitFor("claimed", func() bool { return r.svc.cameras != nil })
	url := "http://" + h.DoorbellAddr() + "/doorbell/"
	press := func(camera, token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", url+camera, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := press("front%20door", "wrong-token-wrong-token"); st != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", st)
	}
	if st := press("garage", m.DoorbellToken); st != http.StatusNotFound {
		t.Errorf("unknown camera: %d, want 404", st)
	}
	start := time.Now()
	if st := press("front%20door", m.DoorbellToken); st != http.StatusAccepted {
		t.Fatalf("press: %d, want 202", st)
	}
	r.waitFor("the doorbell event uploaded", func() bool { return strings.Contains(strings.Join(r.eventKinds(), ","), seal.EventDoorbell) })
	t.Logf("press → event uploaded in %v", time.Since(start).Round(time.Millisecond))
	evs := r.events(r.hh.owner)
	if len(evs) != 1 || evs[0].Kind != seal.EventDoorbell || evs[0].Priority != seal.PriorityHigh || evs[0].Camera != h.CameraID("front door") {
		t.Fatalf("events = %+v", evs)
	}
}

// TestDoorbellOverMQTT: a message on the topic whose last level names the
// camera is a press, from a real MQTT broker with a password.
func TestDoorbellOverMQTT(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	broker := mochi.New(&mochi.Options{InlineClient: true})
	if err := broker.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: auth.AuthRules{
		{Username: "hub", Password: "broker-secret", Allow: true},
		{Username: "button", Password: "button-secret", Allow: true},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := broker.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	go broker.Serve()
	t.Cleanup(func() { broker.Close() })

	r := newRig(t, "front door")
	m := r.main("front door")
	m.MQTTURL = "tcp://hub:broker-secret@" + addr
	r.start(m)
	r.waitFor("claimed", func() bool { return r.svc.cameras != nil })

	button := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetUsername("button").SetPassword("button-secret").SetClientID("button"))
	if tok := button.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("button connect: %v", tok.Error())
	}
	defer button.Disconnect(100)
	// The hub subscribes asynchronously: publish until the event shows.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(r.eventKinds(), ","), seal.EventDoorbell) {
		if time.Now().After(deadline) {
			t.Fatalf("no doorbell event from MQTT; logs:\n%s", r.logs)
		}
		button.Publish("porchlight/doorbell/front door", 1, false, []byte("pressed")).WaitTimeout(time.Second)
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCameraOfflineOnlineEvents: a camera dropping and coming back are
// events.
func TestCameraOfflineOnlineEvents(t *testing.T) {
	r := newRig(t, "porch")
	r.start(r.main("porch"))
	r.waitFor("claimed", func() bool { return r.svc.cameras != nil })
	r.feed.state(t, "porch", true, nil)
	r.feed.segment(t, "porch", r.clock.Now(), payload(1))
	r.feed.state(t, "porch", false, errors.New("connection refused"))
	r.clock.Set(r.clock.Now().Add(42 * time.Second))
	r.feed.state(t, "porch", true, nil)
	r.waitFor("offline and online events", func() bool { return strings.Join(r.eventKinds(), ",") == "offline,online" })
	evs := r.events(r.hh.owner)
	if !strings.Contains(evs[1].Detail, "42s") {
		t.Errorf("online event detail %q, want the gap", evs[1].Detail)
	}
}

// TestMissingModel: with detection "on" and no model the hub refuses to
// start and says how to install it; with "auto" it records without
// object detection.
func TestMissingModel(t *testing.T) {
	r := newRig(t, "porch")
	m := r.main("porch")
	m.Detection, m.AssetsDir = DetectionOn, t.TempDir()
	if _, err := m.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "scripts/setup") {
		t.Fatalf("start with detection on and no model: %v, want an error naming scripts/setup", err)
	}
	m.Detection = DetectionAuto
	r.start(m)
	r.waitFor("claimed", func() bool { return r.svc.cameras != nil })
	r.feed.state(t, "porch", true, nil)
	r.feed.segment(t, "porch", r.clock.Now(), payload(1))
	r.waitFor("the segment uploaded", func() bool { s, _ := r.counts(); return s == 1 })
	if !strings.Contains(r.logs.String(), "object detection is off") {
		t.Errorf("no warning that detection is off:\n%s", r.logs)
	}
}

// TestEventOnlyRecording: with record = "events", segments with no
// activity near them are not recorded; a doorbell press records the
// pre-roll before it and the post-roll after it.
func TestEventOnlyRecording(t *testing.T) {
	r := newRig(t, "door")
	m := r.main("door")
	m.Detection = DetectionOff
	m.Cameras[0].Record, m.Cameras[0].PreRoll, m.Cameras[0].PostRoll = RecordEvents, 4*time.Second, 4*time.Second
	h := r.start(m)
	r.waitFor("claimed", func() bool { return r.svc.cameras != nil })
	r.feed.state(t, "door", true, nil)
	t0 := r.clock.Now()
	// 10 quiet segments of 2 s: none recorded.
	for i := range 10 {
		r.feed.segment(t, "door", t0.Add(time.Duration(i)*2*time.Second), payload(i))
	}
	// The press at t0+20s: the two segments before it (pre-roll 4 s) and
	// the two after it (post-roll 4 s) are kept.
	r.clock.Set(t0.Add(20 * time.Second))
	if err := h.Doorbell("door", "test"); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 16; i++ {
		r.feed.segment(t, "door", t0.Add(time.Duration(i)*2*time.Second), payload(i))
	}
	r.shutdown()
	o := r.open(r.hh.owner)
	var starts []time.Duration
	for _, man := range o.manifests {
		for _, mo := range man.Objects {
			starts = append(starts, mo.Start.Sub(t0))
		}
	}
	slices.Sort(starts)
	want := []time.Duration{16 * time.Second, 18 * time.Second, 20 * time.Second, 22 * time.Second}
	if !slices.Equal(starts, want) {
		t.Errorf("recorded segments start at %v, want %v", starts, want)
	}
}
