package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/spool"
)

// segExtra is the hub's metadata in a segment's spool item: its manifest
// entry and the epoch recipient, so a batch a crash left open can be closed
// at the next start from the spool alone.
type segExtra struct {
	Recipient string              `json:"recipient"`
	Object    seal.ManifestObject `json:"object"`
}

// recorder seals one camera's segments and batches them into manifests.
//
// mu guards every field below it and serialises the camera's state changes
// (segment, tick, roster change, offline, shutdown). Lock order: mu, then
// the hub's store and outbox.
type recorder struct {
	h    *Hub
	cam  Camera
	id   string
	name string
	log  *slog.Logger

	mu        sync.Mutex
	epoch     *epochState
	recipient age.Recipient // of epoch
	online    bool
	offSince  time.Time // when the camera went offline
	// open batch, in memory (the durable part is also in state)
	batch      []seal.ManifestObject
	batchEpoch *epochState
	batchRecip age.Recipient
	batchOpen  time.Time
	// event-only recording (eventrec.go)
	activeFrom, activeUntil time.Time
	ring                    []segment.Segment // held for pre-roll
	skipped                 int64             // segments not recorded (no activity)

	// settings are the owner's (settings.go); nil: the configured zones
	settings atomic.Pointer[ownerSettings]

	// analysis, owned by the camera source's goroutine (onAccessUnit)
	an       *analyzer
	anCodec  string
	anFailed bool
}

// sealBufs holds ciphertext buffers for reuse by the next segment of any
// camera, so sealing a segment does not allocate (and fault in) a fresh
// segment-sized buffer each time. Cameras seal one at a time in practice
// (a few milliseconds every few seconds), so one or two buffers serve the
// whole hub. A sync.Pool would not do: the collector empties it within two
// cycles, shorter than the time between segments. A buffer goes back only
// once the spool has its bytes on disk (never while the outbox still holds
// them in memory).
var sealBufs = make(chan *bytes.Buffer, 2)

func getSealBuf() *bytes.Buffer {
	select {
	case b := <-sealBufs:
		return b
	default:
		return new(bytes.Buffer)
	}
}

func putSealBuf(b *bytes.Buffer) {
	b.Reset()
	select {
	case sealBufs <- b:
	default: // enough kept; let the collector have it
	}
}

func newRecorder(h *Hub, cam Camera, cs *camState) (*recorder, error) {
	r := &recorder{h: h, cam: cam, id: cs.ID, name: cam.Name, log: h.log.With("camera", cam.Name, "camera_id", cs.ID)}
	if cs.Epoch != nil {
		rec, err := seal.ParseRecipient(cs.Epoch.Recipient)
		if err != nil {
			return nil, fmt.Errorf("camera %s: state: %w", cam.Name, err)
		}
		e := *cs.Epoch
		r.epoch, r.recipient = &e, rec
	}
	r.loadSettings(cs.Settings)
	return r, nil
}

// dayBounds returns the UTC day of t and its bounds.
func dayBounds(t time.Time) (string, time.Time, time.Time) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return start.Format(time.DateOnly), start, start.AddDate(0, 0, 1)
}

// ensureEpochLocked makes sure the current epoch covers the UTC day of t
// and the current roster version, starting a new one (and closing the open
// batch) if not. The caller holds mu.
func (r *recorder) ensureEpochLocked(t time.Time) error {
	ro := r.h.currentRoster()
	day, _, _ := dayBounds(t)
	viewers := viewerIDs(ro, r.id, t)
	if r.epoch != nil && r.epoch.Day == day && r.epoch.Roster == ro.Version && slices.Equal(r.epoch.Viewers, viewers) {
		return nil
	}
	reason := "new day"
	switch {
	case r.epoch == nil:
		reason = "first epoch"
	case r.epoch.Roster != ro.Version:
		reason = "roster change"
	case r.epoch.Day == day:
		// A device's not_after passed: it must not get keys going forward.
		reason = "a viewer's access expired"
	}
	r.closeBatchLocked("epoch change")
	return r.newEpochLocked(t, ro, reason)
}

// newEpochLocked starts an epoch: a fresh age hybrid identity, a
// hub-signed announcement, the key wrapped to every roster device that may
// see the camera now, all queued as one EpochPut before any segment sealed
// to it. The private half is then dropped: the hub only ever encrypts to an
// epoch, so keeping the key would only let a stolen hub decrypt what it
// already uploaded; the owner's devices hold it, wrapped.
func (r *recorder) newEpochLocked(t time.Time, ro *seal.Roster, reason string) error {
	day, nb, na := dayBounds(t)
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return fmt.Errorf("new epoch: %w", err)
	}
	h := r.h
	household := h.household()
	ep := &epochState{ID: seal.NewID(), Recipient: id.Recipient().String(), Day: day, Roster: ro.Version,
		Viewers: viewerIDs(ro, r.id, t), NotBefore: nb, NotAfter: na}
	ann, err := seal.SignEpoch(h.key.Sign, seal.EpochAnnouncement{
		Household: household, Camera: r.id, Epoch: ep.ID, Hub: h.key.ID, Recipient: ep.Recipient,
		NotBefore: nb, NotAfter: na, Roster: ro.Version,
	})
	if err != nil {
		return fmt.Errorf("new epoch: %w", err)
	}
	put := api.EpochPut{CameraID: r.id, Announcement: ann}
	key := seal.EpochKey{Household: household, Camera: r.id, Epoch: ep.ID, Identity: id.String()}
	for _, v := range ro.Viewers(r.id, t) {
		to, err := seal.ParseRecipient(v.KEM)
		if err != nil {
			return fmt.Errorf("new epoch: viewer %s: %w", v.ID, err)
		}
		w, err := seal.WrapEpochKey(to, key)
		if err != nil {
			return fmt.Errorf("new epoch: %w", err)
		}
		put.Wraps = append(put.Wraps, api.Wrap{DeviceID: v.ID, Data: w})
	}
	id, key.Identity = nil, "" // forget the private half (see above)
	body, err := json.Marshal(put)
	if err != nil {
		return err
	}
	if _, ok := h.out.put(spool.Item{ID: ep.ID, Kind: spool.KindEpoch, Meta: spool.Meta{Camera: r.id, Epoch: ep.ID, Time: t}, Body: body}); !ok {
		return fmt.Errorf("new epoch: could not queue it")
	}
	rec, err := seal.ParseRecipient(ep.Recipient)
	if err != nil {
		return err
	}
	r.epoch, r.recipient = ep, rec
	if err := h.st.update(func(s *state) { s.Cameras[r.name].Epoch = ep }); err != nil {
		return err
	}
	if len(put.Wraps) == 0 {
		r.log.Warn("new epoch has no viewer: no device in the roster may see this camera", "epoch", ep.ID)
	}
	r.log.Info("new epoch", "epoch", ep.ID, "day", day, "roster", ro.Version, "viewers", len(put.Wraps), "reason", reason)
	return nil
}

// viewerIDs returns the ids of the devices that may see camera at t.
func viewerIDs(ro *seal.Roster, camera string, t time.Time) []string {
	ids := []string{}
	for _, v := range ro.Viewers(camera, t) {
		ids = append(ids, v.ID)
	}
	slices.Sort(ids)
	return ids
}

// onSegment seals one segment and queues it.
func (r *recorder) onSegment(seg segment.Segment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	record := r.segmentLocked
	if r.cam.Record == RecordEvents {
		record = r.eventSegmentLocked
	}
	if err := record(seg); err != nil {
		r.log.Error("segment not recorded", "err", err)
	}
}

func (r *recorder) segmentLocked(seg segment.Segment) error {
	h := r.h
	start := seg.Start.UTC()
	if start.IsZero() {
		start = h.m.Now().UTC()
	}
	if err := r.ensureEpochLocked(start); err != nil {
		return err
	}
	var seq uint64
	h.st.view(func(s *state) { seq = s.Cameras[r.name].NextSeq })
	hdr := seal.SegmentHeader{
		Household: h.household(), Camera: r.id, Epoch: r.epoch.ID, Seq: seq, Start: start,
		DurationMS: seg.Duration.Milliseconds(), Frames: seg.Frames, Codec: seg.Codec,
	}
	buf := getSealBuf()
	sum, err := sealSegmentInto(buf, r.recipient, hdr, seg.Data)
	if err != nil {
		putSealBuf(buf)
		return err
	}
	ct := buf.Bytes()
	obj := seal.ManifestObject{
		ID: seal.NewID(), Kind: api.ObjectSegment, Seq: seq, Start: start, DurationMS: hdr.DurationMS,
		Frames: seg.Frames, Codec: seg.Codec, Size: int64(len(ct)), SHA256: sum,
	}
	extra, err := json.Marshal(segExtra{Recipient: r.epoch.Recipient, Object: obj})
	if err != nil {
		return err
	}
	durable, accepted := h.out.put(spool.Item{ID: obj.ID, Kind: spool.KindSegment, Body: ct, BodySHA256: sum, Meta: spool.Meta{
		Camera: r.id, Epoch: r.epoch.ID, Time: start, Seq: seq, SHA256: obj.SHA256, Extra: extra,
	}})
	if durable || !accepted {
		// The spool wrote ct to disk (or it was dropped) and nothing refers
		// to it any more; an item the outbox holds in memory keeps its
		// buffer.
		putSealBuf(buf)
	}
	if accepted && len(r.batch) == 0 {
		e := *r.epoch
		r.batchEpoch, r.batchRecip, r.batchOpen = &e, r.recipient, h.m.Now()
	}
	err = h.st.update(func(s *state) {
		cs := s.Cameras[r.name]
		cs.NextSeq = seq + 1
		if !durable {
			return // not on disk: a crash loses it, so no manifest may list it
		}
		if cs.Batch == nil {
			cs.Batch = &batchState{Epoch: r.epoch.ID, Recipient: r.epoch.Recipient, Opened: r.batchOpen}
		}
		cs.Batch.Objects = append(cs.Batch.Objects, obj)
	})
	if err != nil {
		return err
	}
	if !accepted {
		return nil
	}
	h.stats.segments.Add(1)
	r.batch = append(r.batch, obj)
	if len(r.batch) >= h.m.ManifestEvery {
		r.closeBatchLocked("batch full")
	}
	return nil
}

// closeBatchLocked seals and queues the manifest of the open batch. The
// caller holds mu.
func (r *recorder) closeBatchLocked(reason string) {
	if len(r.batch) == 0 {
		return
	}
	if err := r.h.queueManifest(r.name, r.id, r.batchEpoch.ID, r.batchRecip, r.batch); err != nil {
		r.log.Error("manifest not queued; its segments will be listed at the next start", "err", err, "reason", reason)
		return
	}
	r.log.Debug("batch closed", "segments", len(r.batch), "reason", reason)
	r.batch, r.batchEpoch, r.batchRecip = nil, nil, nil
}

// queueManifest seals a manifest listing objs (all of one epoch), queues
// it and clears the camera's open batch in state.
func (h *Hub) queueManifest(name, camID, epochID string, to age.Recipient, objs []seal.ManifestObject) error {
	var seq uint64
	h.st.view(func(s *state) { seq = s.Cameras[name].NextManifest })
	m := seal.Manifest{
		Household: h.household(), Camera: camID, Hub: h.key.ID, Epoch: epochID, Seq: seq,
		Created: h.m.Now().UTC(), Objects: objs,
	}
	ct, err := seal.SealManifest(h.key.Sign, to, m)
	if err != nil {
		return err
	}
	sum := seal.SHA256Hex(ct)
	refs := make([]string, len(objs))
	for i, o := range objs {
		refs[i] = o.ID
	}
	h.out.put(spool.Item{ID: seal.NewID(), Kind: spool.KindManifest, Body: ct, BodySHA256: sum, Meta: spool.Meta{
		Camera: camID, Epoch: epochID, Time: objs[0].Start, Seq: seq, SHA256: sum, Refs: refs,
	}})
	h.stats.manifests.Add(1)
	return h.st.update(func(s *state) {
		cs := s.Cameras[name]
		cs.NextManifest = seq + 1
		cs.Batch = nil
	})
}

// sealSegmentInto seals a segment to the epoch recipient into buf (reset
// first) and returns the hex SHA-256 of the ciphertext. The bytes are exactly
// those of seal.SealSegment(to, h, media) — seal.SegmentPlaintext's header
// followed by the media, age-encrypted — but the media is streamed into age
// instead of first being copied behind the header, and the ciphertext is
// hashed as it is written rather than in a separate pass.
func sealSegmentInto(buf *bytes.Buffer, to age.Recipient, h seal.SegmentHeader, media []byte) (string, error) {
	prefix, err := seal.SegmentPlaintext(h, nil)
	if err != nil {
		return "", err
	}
	buf.Reset()
	// age: a header (one hybrid stanza is under 2 KiB), a 16-byte nonce,
	// then 64 KiB chunks each with a 16-byte tag.
	n := len(prefix) + len(media)
	buf.Grow(n + (n/65536+1)*16 + 16 + 4096)
	hs := sha256.New()
	w, err := age.Encrypt(io.MultiWriter(buf, hs), to)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(prefix); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(media); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return hex.EncodeToString(hs.Sum(nil)), nil
}

// tick closes a batch that has been open ManifestInterval.
func (r *recorder) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batch) > 0 && r.h.m.Now().Sub(r.batchOpen) >= r.h.m.ManifestInterval {
		r.closeBatchLocked("interval")
	}
}

// onState records the camera going online or offline.
func (r *recorder) onState(online bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if online == r.online {
		return
	}
	// ingest logs every change (and summarises repeated failures); the
	// hub adds the length of the gap in the recording.
	r.online = online
	if online {
		if !r.offSince.IsZero() {
			r.log.Info("camera recording again", "gap", r.h.m.Now().Sub(r.offSince).Round(time.Second))
			r.stateEventLocked(true, r.offSince, nil)
		}
		return
	}
	r.offSince = r.h.m.Now()
	r.log.Debug("camera offline: batch closed", "err", err)
	r.closeBatchLocked("camera offline")
	r.stateEventLocked(false, time.Time{}, err)
}

// rosterChanged closes the batch, starts a new epoch for the new roster and
// queues a descriptor sealed to its owners.
func (r *recorder) rosterChanged(ro *seal.Roster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.h.queueDescriptor(r.name, ro); err != nil {
		r.log.Error("camera descriptor not queued", "err", err)
	}
	if r.epoch != nil && r.epoch.Roster == ro.Version {
		return
	}
	r.closeBatchLocked("epoch change")
	if err := r.newEpochLocked(r.h.m.Now(), ro, "roster change"); err != nil {
		r.log.Error("new epoch failed; retrying at the next segment", "err", err)
		r.epoch, r.recipient = nil, nil
	}
}

// close closes the open batch (shutdown).
func (r *recorder) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeBatchLocked("shutdown")
}

// queueDescriptor seals the camera's descriptor to the roster's owner
// devices and the member devices the camera is shared with, and queues it,
// unless one was already queued for this roster version.
func (h *Hub) queueDescriptor(name string, ro *seal.Roster) error {
	var cs camState
	h.st.view(func(s *state) { cs = *s.Cameras[name] })
	if cs.Descriptor == ro.Version {
		return nil
	}
	var to []age.Recipient
	for _, o := range descriptorReaders(ro, cs.ID, h.m.Now()) {
		r, err := seal.ParseRecipient(o.KEM)
		if err != nil {
			return err
		}
		to = append(to, r)
	}
	ct, err := seal.SealCamera(h.key.Sign, seal.CameraDescriptor{
		Household: h.household(), Camera: cs.ID, Hub: h.key.ID, Name: name, Created: cs.Created,
	}, to...)
	if err != nil {
		return err
	}
	h.out.put(spool.Item{ID: seal.NewID(), Kind: spool.KindCamera, Body: ct, Meta: spool.Meta{Camera: cs.ID, Seq: ro.Version}})
	return h.st.update(func(s *state) { s.Cameras[name].Descriptor = ro.Version })
}

// descriptorReaders are the devices a camera's descriptor is sealed to: the
// owner devices, and member devices the camera is shared with at t.
func descriptorReaders(ro *seal.Roster, camera string, t time.Time) []seal.RosterEntry {
	out := ro.Owners()
	for _, e := range ro.Entries {
		if e.Role == seal.RoleMember && e.InScope(camera, t) {
			out = append(out, e)
		}
	}
	return out
}
