package hub

import (
	"encoding/json"
	"slices"

	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/spool"
)

// recoverBatches closes batches a crash left open: segments listed in a
// camera's open batch in state, and segments in the spool that no spooled
// manifest lists (queued after the last state write), get a manifest now.
// It also moves each camera's next sequence past every spooled segment.
//
// A segment already uploaded whose manifest was queued and uploaded too is
// in neither place, so nothing is listed twice, except in one window: a
// crash after a manifest is queued but before state records it; then the
// state batch is listed again in a second manifest (clients dedupe by
// object id).
func (h *Hub) recoverBatches() error {
	items := h.sp.Items()
	covered := map[string]bool{}
	for _, it := range items {
		if it.Kind == spool.KindManifest {
			for _, r := range it.Meta.Refs {
				covered[r] = true
			}
		}
	}
	type key struct{ cam, epoch string }
	type group struct {
		recipient string
		objs      map[string]seal.ManifestObject
	}
	groups := map[key]*group{}
	add := func(cam, epoch, recipient string, o seal.ManifestObject) {
		if covered[o.ID] {
			return
		}
		k := key{cam, epoch}
		g := groups[k]
		if g == nil {
			g = &group{recipient: recipient, objs: map[string]seal.ManifestObject{}}
			groups[k] = g
		}
		g.objs[o.ID] = o
	}
	names := map[string]string{} // camera id → name
	maxSeq := map[string]uint64{}
	h.st.view(func(s *state) {
		for name, cs := range s.Cameras {
			names[cs.ID] = name
			if cs.Batch != nil {
				for _, o := range cs.Batch.Objects {
					add(cs.ID, cs.Batch.Epoch, cs.Batch.Recipient, o)
				}
			}
		}
	})
	for _, it := range items {
		if it.Kind != spool.KindSegment {
			continue
		}
		maxSeq[it.Meta.Camera] = max(maxSeq[it.Meta.Camera], it.Meta.Seq+1)
		var x segExtra
		if err := json.Unmarshal(it.Meta.Extra, &x); err != nil || x.Object.ID != it.ID {
			h.log.Error("spooled segment has no manifest entry; it will be uploaded but no manifest lists it", "id", it.ID, "err", err)
			continue
		}
		add(it.Meta.Camera, it.Meta.Epoch, x.Recipient, x.Object)
	}
	err := h.st.update(func(s *state) {
		for _, cs := range s.Cameras {
			cs.NextSeq = max(cs.NextSeq, maxSeq[cs.ID])
		}
	})
	if err != nil {
		return err
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmpStr(a.cam, b.cam); c != 0 {
			return c
		}
		return cmpStr(a.epoch, b.epoch)
	})
	for _, k := range keys {
		g := groups[k]
		name, ok := names[k.cam]
		if !ok {
			h.log.Error("spooled segments of an unknown camera: uploaded without a manifest", "camera_id", k.cam, "segments", len(g.objs))
			continue
		}
		to, err := seal.ParseRecipient(g.recipient)
		if err != nil {
			h.log.Error("cannot list segments left by a crash: bad epoch recipient", "camera", name, "err", err)
			continue
		}
		objs := make([]seal.ManifestObject, 0, len(g.objs))
		for _, o := range g.objs {
			objs = append(objs, o)
		}
		slices.SortFunc(objs, func(a, b seal.ManifestObject) int { return cmpU64(a.Seq, b.Seq) })
		if err := h.queueManifest(name, k.cam, k.epoch, to, objs); err != nil {
			return err
		}
		h.log.Info("closed a batch left open by a crash", "camera", name, "epoch", k.epoch, "segments", len(objs))
	}
	return nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
