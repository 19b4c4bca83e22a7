package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdDevices(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "devices", about: `
Lists the devices in your household's roster (verified on this device): each
device's id, name, role and the cameras it may see. * marks this device.
Remove one with ` + "`porchlight device remove ID`."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tNAME\tROLE\tCAMERAS")
	for _, e := range h.roster.Entries {
		if e.Kind != seal.KindDevice {
			continue
		}
		mark := ""
		if e.ID == h.dev.ID {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mark, e.ID, orDash(clean(e.Name)), clean(e.Role), scope(e))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if h.self() == nil {
		fmt.Fprintf(m.Stdout, "This device (%s) is not in the roster (version %d).\n", h.dev.ID, h.roster.Version)
	}
	return nil
}

// scope describes the cameras a roster entry may see.
func scope(e seal.RosterEntry) string {
	s := ""
	for i, c := range e.Cameras {
		if i > 0 {
			s += ","
		}
		if c == seal.AllCameras {
			c = "all"
		}
		s += clean(c)
	}
	if s == "" {
		s = "none"
	}
	if e.NotAfter != nil {
		s += " until " + e.NotAfter.UTC().Format("2006-01-02 15:04 MST")
	}
	return s
}

func cmdDeviceRemove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "device remove", synopsis: "[--yes] ID", minArgs: 1, maxArgs: 1, about: `
Removes a device (its id from ` + "`porchlight devices`" + `) from your household:
this owner device signs a roster version without it. The service then deletes
the device's copies of epoch keys and ends its sessions, and the hub starts
new epochs that the device never receives. Keys the device already received
stay on it: recordings of those epochs remain readable to whoever holds that
device. Asks to confirm unless --yes. This device and the last owner device
cannot be removed.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to confirm")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	id := rest[0]
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	e := h.roster.Entry(id)
	switch {
	case e == nil:
		return fmt.Errorf("device %s is not in your household's roster (version %d): run `porchlight devices` to see the ids", clean(id), h.roster.Version)
	case e.Kind != seal.KindDevice:
		return fmt.Errorf("%s is a hub, not a device: `porchlight device remove` removes phones and computers", clean(id))
	case e.Role == seal.RoleRecovery:
		return fmt.Errorf("%s is the household's recovery kit, not a device: it stays so that your passphrase can restore access", clean(id))
	case id == h.dev.ID:
		return errors.New("this is the device you are using: remove it from another owner device")
	}
	owners := 0
	for _, o := range h.roster.Owners() {
		if o.ID != id {
			owners++
		}
	}
	if owners == 0 {
		return fmt.Errorf("device %s is the household's last owner device: add another owner device first", clean(id))
	}
	if h.self() == nil || h.self().Role != seal.RoleOwner {
		return fmt.Errorf("this device (%s) is not an owner in your household's roster, so it cannot remove devices: use an owner device", h.dev.ID)
	}
	name := clean(e.Name)
	if !*yes && !m.confirm(fmt.Sprintf("Remove device %q (%s) from your household?", name, id)) {
		return errors.New("not removed")
	}
	version, err := h.changeRoster(ctx, "remove the device from the household roster", func(es []seal.RosterEntry) []seal.RosterEntry {
		out := es[:0]
		for _, x := range es {
			if x.ID != id {
				out = append(out, x)
			}
		}
		return out
	}, func() bool { return h.roster.Entry(id) == nil })
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Removed device %q (%s) (roster version %d). Its sessions ended and its copies of epoch keys were deleted;\n"+
		"new recordings use new keys it never receives. Recordings it could already open stay readable to it.\n", name, id, version)
	return nil
}

// changeRoster signs and appends the version after the latest with edit
// applied, unless done reports the latest version already has the change,
// and adopts it as verified. A version race (409) is retried on the fresh
// roster. op names the step in errors.
func (h *household) changeRoster(ctx context.Context, op string, edit func([]seal.RosterEntry) []seal.RosterEntry, done func() bool) (uint64, error) {
	for attempt := 0; ; attempt++ {
		if done() {
			return h.roster.Version, nil
		}
		next, err := nextRoster(h.dev, h.roster, h.chain[len(h.chain)-1], h.m.Now(), edit)
		if err != nil {
			return 0, err
		}
		err = h.conn.c.AppendRoster(ctx, next)
		if apiclient.IsStatus(err, http.StatusConflict) && attempt < 3 {
			if err := h.refreshRoster(ctx); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, h.conn.explain(op, err)
		}
		chain := append(append([][]byte(nil), h.chain...), next)
		latest, err := checkChain(h.pin, chain)
		if err != nil {
			return 0, err
		}
		h.pin.Versions, h.chain, h.roster = chain, chain, latest
		if err := h.m.savePin(h.pin); err != nil {
			return 0, err
		}
		return latest.Version, nil
	}
}
