package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdRecoveryKitRotate(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "recovery-kit rotate", synopsis: "[--yes]", about: `
Replaces your household's recovery kit with a new one and a new passphrase,
on an owner device. It makes a new recovery key, signs a roster version that
lists it instead of the old one (the service then deletes every copy of an
epoch key made for the old one), gives the new recovery key every epoch key
this device holds, so the new passphrase still opens your recorded video, and
stores the new kit at the service (this needs a recent sign-in: you may be
asked for your password). The new passphrase is shown once.

Afterwards the old passphrase opens nothing the service holds. A copy of the
service's store made before the rotation (a backup) can still be opened with
the old passphrase until those epochs are shredded. A household made before
recovery kits existed gets its first kit. Asks to confirm unless --yes.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to confirm")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("replace the recovery kit"); err != nil {
		return err
	}
	var old *seal.RosterEntry
	for i, e := range h.roster.Entries {
		if e.Role == seal.RoleRecovery {
			old = &h.roster.Entries[i]
			break
		}
	}
	question := "Replace your household's recovery kit? The passphrase you have now will stop working."
	if old == nil {
		question = "Your household has no recovery key in its roster. Make a recovery kit?"
	}
	if !*yes && !m.confirm(question) {
		return errors.New("not replaced: the recovery kit is unchanged")
	}

	rec, err := keys.Generate(recoveryName)
	if err != nil {
		return err
	}
	passphrase := keys.NewRecoveryPassphrase()
	kit, err := keys.SealRecoveryKit(rec, h.roster.Household, h.pin.Root, passphrase, m.Now(), 0)
	if err != nil {
		return err
	}
	wraps, skipped, err := h.wrapHeldEpochs(ctx, rec)
	if err != nil {
		return fmt.Errorf("nothing was changed: %w", err)
	}

	// The kit is stored last, and storing it needs a recent sign-in: ask
	// for it before the roster changes, so that a refused sign-in leaves
	// the old kit and passphrase working. Storing the kit the service
	// already has again changes nothing else; a household without a kit
	// stores the new one now, as it has nothing to lose.
	stored := false
	cur, err := h.conn.c.RecoveryKit(ctx)
	switch {
	case apiclient.IsStatus(err, http.StatusNotFound):
		if err := h.conn.c.PutRecoveryKit(ctx, kit); err != nil {
			return fmt.Errorf("nothing was changed: %w", h.conn.explain("store the new recovery kit", err))
		}
		stored = true
	case err != nil:
		return fmt.Errorf("nothing was changed: %w", h.conn.explain("fetch the recovery kit", err))
	default:
		if err := h.conn.c.PutRecoveryKit(ctx, cur); err != nil {
			return fmt.Errorf("nothing was changed: %w", h.conn.explain("confirm a recent sign-in", err))
		}
	}

	entry := deviceEntry(rec, seal.RoleRecovery)
	version, err := h.changeRoster(ctx, "list the new recovery key in the household roster", func(es []seal.RosterEntry) []seal.RosterEntry {
		out := es[:0]
		for _, e := range es {
			if e.Role != seal.RoleRecovery {
				out = append(out, e)
			}
		}
		return append(out, entry)
	}, func() bool { return h.roster.Entry(rec.ID) != nil })
	if err != nil {
		return err
	}
	const retry = "run `porchlight recovery-kit rotate` again; until then no recovery passphrase opens your household, but this device still does"
	for _, w := range wraps {
		if err := h.conn.c.PutWraps(ctx, w.epoch, []api.Wrap{{DeviceID: rec.ID, Data: w.data}}); err != nil {
			return fmt.Errorf("the roster lists the new recovery key (version %d), but %w: %s", version, h.conn.explain("upload its key of epoch "+w.epoch, err), retry)
		}
	}
	if !stored {
		if err := h.conn.c.PutRecoveryKit(ctx, kit); err != nil {
			return fmt.Errorf("the roster lists the new recovery key (version %d), but %w: %s", version, h.conn.explain("store the new recovery kit", err), retry)
		}
	}

	if old == nil {
		fmt.Fprintf(m.Stdout, "Made your household's recovery kit (roster version %d); gave it the keys of %s of recorded video.\n", version, plural(len(wraps), "epoch"))
	} else {
		fmt.Fprintf(m.Stdout, "Replaced your household's recovery kit (roster version %d); gave the new one the keys of %s of recorded video.\n", version, plural(len(wraps), "epoch"))
	}
	if skipped > 0 {
		fmt.Fprintf(m.Stderr, "porchlight: warning: this device holds no key of %s (shredded, or recorded before it joined), so the new kit cannot open them either\n", plural(skipped, "epoch"))
	}
	home, _ := m.home()
	m.printRecoveryKit(home, passphrase, nil)
	if old != nil {
		fmt.Fprint(m.Stdout, "\nYour old recovery passphrase no longer opens anything the service holds: the old kit is replaced\n"+
			"and the service deleted the copies of epoch keys made for it. A copy of the service's store made\n"+
			"before now (a backup) can still be opened with the old passphrase, until those epochs are shredded.\n")
	}
	return nil
}

// heldWrap is an epoch key wrapped to another recipient, to upload.
type heldWrap struct {
	epoch string
	data  []byte
}

// wrapHeldEpochs wraps to rec every epoch key the service holds for this
// device, each checked against its hub-signed announcement. It returns
// the wraps and how many epochs had no key for this device.
func (h *household) wrapHeldEpochs(ctx context.Context, rec *keys.Pair) ([]heldWrap, int, error) {
	to, err := seal.ParseRecipient(rec.Recipient())
	if err != nil {
		return nil, 0, err
	}
	cams, err := h.conn.c.Cameras(ctx)
	if err != nil {
		return nil, 0, h.conn.explain("list cameras", err)
	}
	var out []heldWrap
	skipped := 0
	for _, a := range cams {
		cam := &camera{Camera: a}
		if cam.hub, cam.HubName, cam.err = h.hubKey(a.HubID); cam.err != nil {
			fmt.Fprintf(h.m.Stderr, "porchlight: warning: camera %s skipped: %v\n", a.ID, cam.err)
			continue
		}
		eps, err := h.conn.c.Epochs(ctx, a.ID, h.dev.ID)
		if err != nil {
			return nil, 0, h.conn.explain("list the epochs of camera "+a.ID, err)
		}
		for _, e := range eps {
			k, err := h.epochKey(ctx, cam, e.ID)
			if errors.Is(err, errNoWrap) {
				skipped++
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			w, err := seal.WrapEpochKey(to, seal.EpochKey{Household: h.roster.Household, Camera: a.ID, Epoch: e.ID, Identity: k.String()})
			if err != nil {
				return nil, 0, err
			}
			out = append(out, heldWrap{e.ID, w})
		}
	}
	return out, skipped, nil
}
