package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// nextKeyFile holds, during a key rotation, this device's new key pair
// until the roster lists it and the epoch keys are wrapped to it; a
// rotation that was interrupted resumes from it.
const nextKeyFile = "device.key.next"

const shredHelp = `
Crypto-shredding: the service deletes every copy (wrap) of the shredded
epochs' keys. Copies of the service's store taken before (backups) still hold
wraps sealed to the owner devices' keys, so this device then rotates its own
key: it makes a new one, re-wraps every epoch key it keeps to it, lists it in
a new roster version (new recordings are sealed to it) and deletes the old
private key. Other owner devices and the recovery passphrase can still open
a pre-shred backup until each owner device runs ` + "`porchlight device rotate-key`" + `
and the passphrase is replaced.`

func cmdDelete(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "delete", synopsis: "--camera NAME --from T --to T [--shred] [--yes]", about: `
Deletes a camera's recordings in [--from, --to]: the service deletes the
manifests in the range and the segments they list, and answers a receipt.
An epoch (a period sealed with one key) left with nothing loses its keys.
With --shred, every epoch with recordings in the range is crypto-shredded,
so its recordings outside the range become unreadable too. Asks to confirm
unless --yes.
` + shredHelp + "\n\n" + timeHelp}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "camera `NAME` (or id)")
	fromS := fs.String("from", "", "start `T` (required)")
	toS := fs.String("to", "", "end `T` (required)")
	shred := fs.Bool("shred", false, "crypto-shred the epochs of the range and rotate this device's key")
	yes := fs.Bool("yes", false, "do not ask to confirm")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	switch {
	case *camName == "":
		return usagef(spec.name, "--camera is required (see `porchlight cameras`)")
	case *fromS == "" || *toS == "":
		return usagef(spec.name, "--from and --to are both required: %s", timeSyntax)
	}
	from, to, err := parseRange(*fromS, *toS, m.Now(), m.loc, 0)
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("delete recordings"); err != nil {
		return err
	}
	c, err := h.camera(ctx, *camName)
	if err != nil {
		return err
	}
	req := api.CameraDelete{From: from, To: to}
	span := fmt.Sprintf("%s to %s", from.In(m.loc).Format(time.DateTime), to.In(m.loc).Format(time.DateTime))
	question := fmt.Sprintf("Delete the recordings of camera %q from %s?", clean(c.Name), span)
	if *shred {
		ms, err := h.conn.c.Manifests(ctx, c.ID, from, to, false)
		if err != nil {
			return h.conn.explain("list the recordings to delete", err)
		}
		for _, o := range ms {
			if !slices.Contains(req.ShredEpochs, o.EpochID) {
				req.ShredEpochs = append(req.ShredEpochs, o.EpochID)
			}
		}
		question = fmt.Sprintf("Delete the recordings of camera %q from %s and crypto-shred %d epoch(s)\n"+
			"(their recordings outside the range become unreadable too)?", clean(c.Name), span, len(req.ShredEpochs))
	}
	if !*yes && !m.confirm(question) {
		return errors.New("nothing was deleted")
	}
	fmt.Fprintf(m.Stderr, "Deleting recordings of camera %q from %s…\n", clean(c.Name), span)
	rc, err := h.conn.c.DeleteCameraData(ctx, c.ID, req)
	if err != nil {
		return h.conn.explain("delete the recordings", err)
	}
	m.printReceipt(rc)
	if *shred {
		return h.rotateAfterShred(ctx)
	}
	if len(rc.ShreddedEpochs) > 0 {
		fmt.Fprintln(m.Stdout, "Copies of the store from before (backups) may still hold these recordings and their keys for your devices: run with --shred to rotate this device's key.")
	}
	return nil
}

func cmdCamerasRemove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "cameras remove", synopsis: "--shred [--yes] NAME", minArgs: 1, maxArgs: 1, about: `
Removes a camera: the service deletes every recording of it, every copy of
its epoch keys, and the camera. This cannot be undone. --shred is required.
Asks to confirm unless --yes. A hub that still records the camera adds it
again: remove it from the hub's configuration first.
` + shredHelp}
	fs := m.flags(spec.name)
	shred := fs.Bool("shred", false, "required: destroy the recordings and their keys")
	yes := fs.Bool("yes", false, "do not ask to confirm")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	if !*shred {
		return usagef(spec.name, "removing a camera destroys its recordings and their keys for good: add --shred to confirm that is what you want")
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("remove cameras"); err != nil {
		return err
	}
	c, err := h.camera(ctx, rest[0])
	if err != nil {
		return err
	}
	if !*yes && !m.confirm(fmt.Sprintf("Remove camera %q (%s) with every recording and key of it, for good?", clean(c.Name), c.ID)) {
		return errors.New("not removed")
	}
	fmt.Fprintf(m.Stderr, "Removing camera %q…\n", clean(c.Name))
	rc, err := h.conn.c.RemoveCamera(ctx, c.ID)
	if err != nil {
		return h.conn.explain("remove the camera", err)
	}
	m.printReceipt(rc)
	return h.rotateAfterShred(ctx)
}

func cmdDeviceRotateKey(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "device rotate-key", about: `
Rotates this owner device's key: makes a new one, re-wraps every epoch key
the service holds for this device to it, lists it in a new roster version and
deletes the old private key. Run it on each owner device after deleting with
--shred, so that no copy of the service's store from before (a backup) opens
with that device's keys. An interrupted rotation resumes when run again.`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("rotate its key"); err != nil {
		return err
	}
	n, err := h.rotateKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Rotated this device's key (roster version %d); re-wrapped the keys of %d epoch(s) to it. The old private key is deleted.\n", h.roster.Version, n)
	return nil
}

// printReceipt shows a deletion receipt.
func (m *Main) printReceipt(rc api.DeletionReceipt) {
	var b strings.Builder
	fmt.Fprintf(&b, "Deletion receipt %s (camera %s, %s):\n", rc.ID, rc.CameraID, rc.At.In(m.loc).Format(time.DateTime))
	if !rc.From.IsZero() {
		fmt.Fprintf(&b, "  range:            %s to %s\n", rc.From.In(m.loc).Format(time.DateTime), rc.To.In(m.loc).Format(time.DateTime))
	}
	fmt.Fprintf(&b, "  deleted:          %d segment(s), %d manifest(s), %s\n", rc.Segments, rc.Manifests, formatBytes(rc.Bytes))
	fmt.Fprintf(&b, "  shredded epochs:  %d", len(rc.ShreddedEpochs))
	if len(rc.ShreddedEpochs) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(rc.ShreddedEpochs, ", "))
	}
	b.WriteString("\n")
	if rc.CameraRemoved {
		b.WriteString("  the camera is removed\n")
	}
	fmt.Fprint(m.Stdout, b.String())
}

// rotateAfterShred rotates this device's key after a shredding deletion
// and says what still holds old keys.
func (h *household) rotateAfterShred(ctx context.Context) error {
	fmt.Fprintln(h.m.Stderr, "Rotating this device's key so that copies of the store from before cannot be opened with it…")
	n, err := h.rotateKey(ctx)
	if err != nil {
		return fmt.Errorf("the deletion is done, but rotating this device's key failed (run `porchlight device rotate-key` to finish): %w", err)
	}
	fmt.Fprintf(h.m.Stdout, "Rotated this device's key (roster version %d); re-wrapped the keys of %d epoch(s) you keep. The old private key is deleted.\n", h.roster.Version, n)
	others := 0
	for _, o := range h.roster.Owners() {
		if o.ID != h.dev.ID && o.Role == seal.RoleOwner {
			others++
		}
	}
	if others > 0 {
		fmt.Fprintf(h.m.Stdout, "Your %d other owner device(s) can still open copies of the store from before: run `porchlight device rotate-key` on each.\n", others)
	}
	fmt.Fprintln(h.m.Stdout, "Your recovery passphrase can also still open copies from before until you run `porchlight recovery-kit rotate`.")
	return nil
}

// rotateKey gives this device a new KEM key (same id and signing key):
// save it beside the old one, re-wrap to it every epoch key the service
// holds for this device, list it in a new roster version, upload the
// wraps, and replace device.key, which deletes the old private key. It
// resumes an interrupted rotation from device.key.next. It returns how
// many epoch keys it re-wrapped.
func (h *household) rotateKey(ctx context.Context) (int, error) {
	m := h.m
	nextPath, err := m.statePath(nextKeyFile)
	if err != nil {
		return 0, err
	}
	keyPath, err := m.statePath(deviceKeyFile)
	if err != nil {
		return 0, err
	}
	old := h.dev
	next, err := keys.Load(nextPath)
	switch {
	case errors.Is(err, keys.ErrNoKey):
		fresh, err := keys.Generate(old.Name)
		if err != nil {
			return 0, fmt.Errorf("rotate key: %w", err)
		}
		next = &keys.Pair{ID: old.ID, Name: old.Name, KEM: fresh.KEM, Sign: old.Sign}
		if err := next.Save(nextPath); err != nil {
			return 0, fmt.Errorf("rotate key: save the new key: %w", err)
		}
	case err != nil:
		return 0, fmt.Errorf("rotate key: %w", err)
	case next.ID != old.ID:
		return 0, fmt.Errorf("rotate key: %s belongs to another device (%s): move it away and run the command again", nextPath, next.ID)
	}
	to, err := seal.ParseRecipient(next.Recipient())
	if err != nil {
		return 0, err
	}

	// Every epoch key this device holds, opened with the old key (or the
	// new one, if an interrupted rotation already re-wrapped it).
	type rewrap struct {
		epoch string
		data  []byte
	}
	var wraps []rewrap
	cams, err := h.conn.c.Cameras(ctx)
	if err != nil {
		return 0, h.conn.explain("list cameras", err)
	}
	for _, a := range cams {
		hubKey, _, err := h.hubKey(a.HubID)
		if err != nil {
			fmt.Fprintf(m.Stderr, "porchlight: warning: camera %s skipped: %v\n", a.ID, err)
			continue
		}
		eps, err := h.conn.c.Epochs(ctx, a.ID, old.ID)
		if err != nil {
			return 0, h.conn.explain("list the epochs of camera "+a.ID, err)
		}
		for _, e := range eps {
			if len(e.Wrap) == 0 {
				continue // shredded, or never this device's
			}
			ann, err := seal.VerifyEpochFrom(e.Announcement, h.trusted(a.HubID, hubKey))
			if err == nil && (ann.Household != h.roster.Household || ann.Camera != a.ID || ann.Epoch != e.ID) {
				err = fmt.Errorf("%w: announcement is for another household, camera, epoch or hub", seal.ErrMalformed)
			}
			if err != nil {
				return 0, fmt.Errorf("rotate key: epoch %s: %w", e.ID, err)
			}
			k, err := old.OpenEpochKey(e.Wrap, ann)
			if err != nil {
				if k, err = next.OpenEpochKey(e.Wrap, ann); err != nil {
					return 0, fmt.Errorf("rotate key: epoch %s: %w", e.ID, err)
				}
			}
			w, err := seal.WrapEpochKey(to, seal.EpochKey{Household: h.roster.Household, Camera: a.ID, Epoch: e.ID, Identity: k.String()})
			if err != nil {
				return 0, err
			}
			wraps = append(wraps, rewrap{e.ID, w})
		}
	}

	recipient := next.Recipient()
	if _, err := h.changeRoster(ctx, "list this device's new key in the household roster", func(es []seal.RosterEntry) []seal.RosterEntry {
		for i := range es {
			if es[i].ID == old.ID {
				es[i].KEM = recipient
			}
		}
		return es
	}, func() bool { return h.self() != nil && h.self().KEM == recipient }); err != nil {
		return 0, err
	}
	for _, w := range wraps {
		if err := h.conn.c.PutWraps(ctx, w.epoch, []api.Wrap{{DeviceID: old.ID, Data: w.data}}); err != nil {
			return 0, h.conn.explain("upload the re-wrapped key of epoch "+w.epoch, err)
		}
	}
	if err := next.Save(keyPath); err != nil {
		return 0, fmt.Errorf("rotate key: replace %s (the new key is in %s): %w", keyPath, nextPath, err)
	}
	if err := os.Remove(nextPath); err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	h.dev = next
	h.keys = map[string]*age.HybridIdentity{}
	return len(wraps), nil
}
