package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdRekey(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "rekey", synopsis: "--camera NAME [--from T] [--to T] [--yes]", about: `
Re-keys a camera's history, so that devices and members removed earlier,
which may keep the keys they already received, can no longer open it. For
each epoch (a period sealed with one key) with recordings in [--from, --to]
(default: all of them), this owner device downloads and verifies every
recording of the epoch exactly as export does, seals it again under a new
key, signs a new manifest and announcement, wraps the new key to every
device in scope now (owner devices, members who may see the camera, the
recovery passphrase) and uploads it all. Only when everything is stored and
reads back does it delete the old copies and destroy every copy of the old
keys. The epoch the hub records into now is left alone: run the command
again once it has ended.

Whole epochs are re-keyed, so recordings just outside the range but in the
same epoch are re-keyed too. Asks to confirm unless --yes.

` + timeHelp}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "camera `NAME` (or id)")
	fromS := fs.String("from", "", "start `T` (default: the first recording)")
	toS := fs.String("to", "", "end `T` (default: now)")
	yes := fs.Bool("yes", false, "do not ask to confirm")
	progress := fs.Bool("progress", false, "show the progress bar even when stderr is not a terminal")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *camName == "" {
		return usagef(spec.name, "--camera is required (see `porchlight cameras`)")
	}
	from, to := time.Unix(0, 0).UTC(), m.Now()
	if *fromS != "" || *toS != "" {
		fs := *fromS
		if fs == "" {
			fs = from.Format(time.RFC3339)
		}
		var err error
		if from, to, err = parseRange(fs, *toS, m.Now(), m.loc, 0); err != nil {
			return usagef(spec.name, "%v", err)
		}
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("re-key history"); err != nil {
		return err
	}
	c, err := h.camera(ctx, *camName)
	if err != nil {
		return err
	}
	name := clean(c.Name)

	olds, err := h.rekeyPlan(ctx, c, from, to)
	if err != nil {
		return err
	}
	if len(olds) == 0 {
		return fmt.Errorf("no closed epoch of %s has recordings between %s and %s: nothing to re-key (the epoch being recorded is re-keyed once it ends)", name, m.when(from), m.when(to))
	}
	nsegs := 0
	for _, o := range olds {
		nsegs += len(o.segs)
	}
	if !*yes && !m.confirm(fmt.Sprintf("Re-key %d epoch(s) of camera %q (%s) and then destroy the old copies and keys?", len(olds), name, plural(nsegs, "segment"))) {
		return errors.New("nothing was re-keyed")
	}

	var retire api.EpochRetire
	for i, o := range olds {
		fmt.Fprintf(m.Stderr, "Re-keying epoch %s (%d of %d): %s…\n", o.id, i+1, len(olds), plural(len(o.segs), "segment"))
		newID, err := h.rekeyEpoch(ctx, c, o, *progress)
		if err != nil {
			return fmt.Errorf("re-key epoch %s: %w (nothing old was deleted; the command can be run again)", o.id, err)
		}
		if err := h.checkRekeyed(ctx, c, o, newID); err != nil {
			return fmt.Errorf("re-key epoch %s: %w (nothing old was deleted)", o.id, err)
		}
		fmt.Fprintf(m.Stderr, "  stored and verified as epoch %s\n", newID)
		retire.Epochs = append(retire.Epochs, o.id)
		for _, s := range o.segs {
			retire.Objects = append(retire.Objects, s.ID)
			if !slices.Contains(retire.Objects, s.Manifest) {
				retire.Objects = append(retire.Objects, s.Manifest)
			}
		}
	}
	fmt.Fprintf(m.Stderr, "Deleting the old copies and destroying the old keys of %d epoch(s)…\n", len(retire.Epochs))
	rc, err := h.conn.c.RetireEpochs(ctx, c.ID, retire)
	if err != nil {
		return h.conn.explain("delete the old copies (the re-keyed ones are stored; run the command again to finish)", err)
	}
	m.printReceipt(rc)
	fmt.Fprintf(m.Stdout, "Re-keyed %d epoch(s) of %s (%s). Devices and members no longer in the roster cannot open them, even with keys they kept.\n",
		len(olds), name, plural(nsegs, "segment"))
	return nil
}

// oldEpoch is an epoch to re-key with its verified segments.
type oldEpoch struct {
	id   string
	ann  *seal.EpochAnnouncement
	segs []segRef // in sequence order
}

// rekeyPlan lists the closed epochs of c with recordings in [from, to],
// each with every verified segment it holds (in or out of the range).
func (h *household) rekeyPlan(ctx context.Context, c *camera, from, to time.Time) ([]*oldEpoch, error) {
	list, err := h.conn.c.Epochs(ctx, c.ID, h.dev.ID)
	if err != nil {
		return nil, h.conn.explain("list the epochs of camera "+clean(c.Name), err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	// The newest epoch is the one the hub may still be sealing to.
	newest := list[0]
	for _, e := range list[1:] {
		if e.CreatedAt.After(newest.CreatedAt) {
			newest = e
		}
	}
	inRange, err := h.segments(ctx, c, from, to)
	if err != nil {
		return nil, err
	}
	var out []*oldEpoch
	seen := map[string]bool{}
	for _, s := range inRange {
		if s.Epoch == newest.ID || seen[s.Epoch] {
			continue
		}
		seen[s.Epoch] = true
		if _, err := h.epochKey(ctx, c, s.Epoch); err != nil {
			return nil, err
		}
		ep := h.epochs[c.ID][s.Epoch]
		o := &oldEpoch{id: s.Epoch, ann: ep.ann}
		// Every segment of the epoch, also outside the range: the old key
		// is destroyed, so nothing may stay sealed to it.
		all, err := h.segments(ctx, c, ep.ann.NotBefore.Add(-time.Hour), ep.ann.NotAfter.Add(time.Hour))
		if err != nil {
			return nil, err
		}
		for _, a := range all {
			if a.Epoch == o.id {
				o.segs = append(o.segs, a)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// rekeyEpoch seals the segments of o again under a new epoch key signed
// by this device, wraps it to every viewer in scope now and uploads it
// all, manifest by manifest. It returns the new epoch's id.
func (h *household) rekeyEpoch(ctx context.Context, c *camera, o *oldEpoch, force bool) (string, error) {
	now := h.m.Now()
	key, err := age.GenerateHybridIdentity()
	if err != nil {
		return "", fmt.Errorf("generate an epoch key: %w", err)
	}
	id := seal.NewID()
	ann := *o.ann
	ann.Epoch, ann.Hub, ann.Recipient, ann.Roster = id, h.dev.ID, key.Recipient().String(), h.roster.Version
	signed, err := seal.SignEpoch(h.dev.Sign, ann)
	if err != nil {
		return "", err
	}
	put := api.EpochPut{CameraID: c.ID, Announcement: signed}
	for _, v := range h.roster.Viewers(c.ID, now) {
		r, err := seal.ParseRecipient(v.KEM)
		if err != nil {
			return "", fmt.Errorf("roster entry %s: %w", v.ID, err)
		}
		w, err := seal.WrapEpochKey(r, seal.EpochKey{Household: h.roster.Household, Camera: c.ID, Epoch: id, Identity: key.String()})
		if err != nil {
			return "", err
		}
		put.Wraps = append(put.Wraps, api.Wrap{DeviceID: v.ID, Data: w})
	}
	if err := h.conn.c.PutOwnerEpoch(ctx, id, put); err != nil {
		return "", h.conn.explain("store the new epoch", err)
	}

	// One new manifest per old one, so batches stay the hub's size.
	var groups [][]segRef
	for _, s := range o.segs {
		if n := len(groups); n > 0 && groups[n-1][0].Manifest == s.Manifest {
			groups[n-1] = append(groups[n-1], s)
		} else {
			groups = append(groups, []segRef{s})
		}
	}
	var total int64
	for _, s := range o.segs {
		total += s.Size
	}
	bar := newProgress(h.m.Stderr, force, len(o.segs), total)
	defer bar.done()
	to := key.Recipient()
	for _, g := range groups {
		media, err := h.fetchSegments(ctx, c, g, bar)
		if err != nil {
			return "", err
		}
		var objs []seal.ManifestObject
		var refs []string
		for i, s := range g {
			hdr := seal.SegmentHeader{Household: h.roster.Household, Camera: c.ID, Epoch: id, Seq: s.Seq, Start: s.Start,
				DurationMS: s.DurationMS, Frames: s.Frames, Codec: s.Codec}
			ct, err := seal.SealSegment(to, hdr, media[i])
			if err != nil {
				return "", err
			}
			oid := seal.NewID()
			if _, err := h.conn.c.PutOwnerObject(ctx, oid, apiclient.ObjectMeta{Camera: c.ID, Epoch: id, Kind: api.ObjectSegment, Time: s.Start}, ct); err != nil {
				return "", h.conn.explain(fmt.Sprintf("upload the re-sealed segment %d", s.Seq), err)
			}
			mo := s.ManifestObject
			mo.ID, mo.Size, mo.SHA256 = oid, int64(len(ct)), seal.SHA256Hex(ct)
			objs = append(objs, mo)
			refs = append(refs, oid)
		}
		man := seal.Manifest{Household: h.roster.Household, Camera: c.ID, Hub: h.dev.ID, Epoch: id, Seq: g[0].Seq, Created: now, Objects: objs}
		ct, err := seal.SealManifest(h.dev.Sign, to, man)
		if err != nil {
			return "", err
		}
		meta := apiclient.ObjectMeta{Camera: c.ID, Epoch: id, Kind: api.ObjectManifest, Time: g[0].Start, Refs: refs}
		if _, err := h.conn.c.PutOwnerObject(ctx, seal.NewID(), meta, ct); err != nil {
			return "", h.conn.explain("upload the new manifest", err)
		}
	}
	return id, nil
}

// checkRekeyed reads the new epoch back as any viewer would (listing,
// announcement, this device's wrap, manifests) and checks that it holds
// every segment of the old one.
func (h *household) checkRekeyed(ctx context.Context, c *camera, o *oldEpoch, newID string) error {
	delete(h.epochs, c.ID) // list the epochs again, with the new one
	want := map[uint64]bool{}
	for _, s := range o.segs {
		want[s.Seq] = true
	}
	list, err := h.conn.c.Manifests(ctx, c.ID, o.ann.NotBefore.Add(-time.Hour), o.ann.NotAfter.Add(time.Hour), true)
	if err != nil {
		return h.conn.explain("read the new epoch back", err)
	}
	for _, oi := range list {
		if oi.Kind != api.ObjectManifest || oi.EpochID != newID {
			continue
		}
		objs, err := h.openManifest(ctx, c, oi)
		if err != nil {
			return fmt.Errorf("read the new epoch back: %w", err)
		}
		for _, ob := range objs {
			delete(want, ob.Seq)
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("the new epoch %s lacks %d of the %d segments after upload", newID, len(want), len(o.segs))
	}
	return nil
}
