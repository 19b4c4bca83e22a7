package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
)

// pairSAS is the short authentication string both devices show while a
// new device is paired. It covers the pairing code, the new device's keys
// and the household's root key, so keys the service swapped (to add a
// ghost device) make the two strings differ. Ten decimal digits in three
// groups: the attacker gets one try per code.
func pairSAS(code string, sign []byte, kem string, root []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte("porchlight-pair-v1"), []byte(code), sign, []byte(kem), root} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	v := binary.BigEndian.Uint64(h.Sum(nil)[:8]) % 10_000_000_000
	s := fmt.Sprintf("%010d", v)
	return s[0:3] + " " + s[3:6] + " " + s[6:10]
}

func cmdDevicePair(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "device pair", synopsis: "[--timeout 15m]", about: `
Asks to add this device to your household. Log in first
(` + "`porchlight login`" + `). This shows a code and a short authentication
string; on an owner device run ` + "`porchlight device approve CODE`" + `, check that
it shows the same string, and confirm. This command waits until the owner
device has added this one, which then receives the household's keys.`}
	fs := m.flags(spec.name)
	timeout := fs.Duration("timeout", 15*time.Minute, "how long to wait for the approval")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usagef(spec.name, "--timeout must be positive")
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if e := h.self(); e != nil {
		fmt.Fprintf(m.Stdout, "This device (%s) is already in your household's roster (version %d) as %s.\n", h.dev.ID, h.roster.Version, clean(e.Role))
		return nil
	}
	code, err := h.conn.c.StartPair(ctx, api.DevicePairStart{Name: h.dev.Name, Sign: h.dev.SignPub(), KEM: h.dev.Recipient()})
	if err != nil {
		return h.conn.explain("start pairing", err)
	}
	fmt.Fprintf(m.Stdout, "On an owner device, run:\n\n    porchlight device approve %s\n\nAuthentication string: %s\n"+
		"Approve only if the owner device shows the same string.\nWaiting for approval...\n",
		code.Code, pairSAS(code.Code, h.dev.SignPub(), h.dev.Recipient(), h.pin.Root))
	deadline := time.Now().Add(*timeout)
	for {
		if e := h.self(); e != nil {
			fmt.Fprintf(m.Stdout, "Approved: this device (%s) is in your household's roster (version %d) as %s.\n", h.dev.ID, h.roster.Version, clean(e.Role))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no owner device approved this one within %v: run `porchlight device pair` again", *timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if err := h.refreshRoster(ctx); err != nil {
			return err
		}
	}
}

func cmdDeviceApprove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "device approve", synopsis: "[--yes] CODE", minArgs: 1, maxArgs: 1, about: `
Adds a new device to your household: CODE is what ` + "`porchlight device pair`" + `
shows on the new device. This owner device shows an authentication string;
confirm only if the new device shows the same one (otherwise someone is
substituting keys). It then signs a roster version listing the new device as
an owner and gives it the keys of the recordings this device can open; the
hub gives it the keys of new recordings.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to compare the authentication strings (scripts; you lose the check against substituted keys)")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	code, ok := auth.NormalizeClaimCode(rest[0])
	if !ok {
		return usagef(spec.name, "%q is not a pairing code: it looks like ABCD-EFGH-JKLM", clean(rest[0]))
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if e := h.self(); e == nil || e.Role != seal.RoleOwner {
		return fmt.Errorf("this device (%s) is not an owner in your household's roster, so it cannot add devices: use an owner device", h.dev.ID)
	}
	offer, err := h.conn.c.PairOffer(ctx, code)
	if err != nil {
		return h.conn.explain("fetch the new device's keys", err)
	}
	if offer.DeviceID != seal.KeyID(offer.Sign) {
		return fmt.Errorf("the service sent keys whose id (%s) does not match them: refusing them", clean(offer.DeviceID))
	}
	kem, err := seal.ParseRecipient(offer.KEM)
	if err != nil {
		return fmt.Errorf("the new device's encryption key is not valid (%v): refusing it", err)
	}
	if e := h.roster.Entry(offer.DeviceID); e != nil && (e.Kind != seal.KindDevice || !bytes.Equal(e.Sign, offer.Sign) || e.KEM != offer.KEM) {
		return fmt.Errorf("your household's roster (version %d) lists %s with other keys: refusing these", h.roster.Version, offer.DeviceID)
	}
	name := clean(offer.Name)
	fmt.Fprintf(m.Stdout, "New device %q (%s)\nAuthentication string: %s\n", name, offer.DeviceID, pairSAS(code, offer.Sign, offer.KEM, h.pin.Root))
	if *yes {
		fmt.Fprintln(m.Stdout, "Approved without comparing (--yes).")
	} else if !m.confirm("Does the new device show the same authentication string?") {
		return errors.New("not approved: the device was not added. If the strings differed, someone may be substituting keys; run `porchlight device pair` again")
	}
	entry := seal.RosterEntry{ID: offer.DeviceID, Kind: seal.KindDevice, Role: seal.RoleOwner, Name: offer.Name,
		Sign: offer.Sign, KEM: offer.KEM, Cameras: []string{seal.AllCameras}}
	version, err := h.changeRoster(ctx, "add the device to the household roster", func(es []seal.RosterEntry) []seal.RosterEntry {
		return append(es, entry)
	}, func() bool { return h.roster.Entry(entry.ID) != nil })
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Added device %q (%s) as an owner (roster version %d).\n", name, entry.ID, version)

	// Give the new device the keys this device holds.
	cams, err := h.loadCameras(ctx)
	if err != nil {
		return fmt.Errorf("the device was added, but it did not get the keys of earlier recordings: %w (run `porchlight device approve %s` again to retry)", err, code)
	}
	given, missed := 0, 0
	for _, c := range cams {
		if c.err != nil {
			fmt.Fprintf(m.Stderr, "porchlight: warning: %v: its keys were not shared\n", c.err)
			continue
		}
		list, err := h.conn.c.Epochs(ctx, c.ID, h.dev.ID)
		if err != nil {
			return h.conn.explain("list the epochs of camera "+clean(c.Name), err)
		}
		for _, ep := range list {
			if len(ep.Wrap) == 0 {
				missed++
				continue
			}
			k, err := h.epochKey(ctx, c, ep.ID)
			if err != nil {
				fmt.Fprintf(m.Stderr, "porchlight: warning: camera %s: %v: not shared\n", clean(c.Name), err)
				missed++
				continue
			}
			wrap, err := seal.WrapEpochKey(kem, seal.EpochKey{Household: h.roster.Household, Camera: c.ID, Epoch: ep.ID, Identity: k.String()})
			if err != nil {
				return fmt.Errorf("wrap an epoch key to the new device: %w", err)
			}
			if err := h.conn.c.PutWraps(ctx, ep.ID, []api.Wrap{{DeviceID: entry.ID, Data: wrap}}); err != nil {
				return h.conn.explain("give the new device an epoch key", err)
			}
			given++
		}
	}
	fmt.Fprintf(m.Stdout, "Gave it the keys of %d recording epoch(s) of %d camera(s).\n", given, len(cams))
	if missed > 0 {
		fmt.Fprintf(m.Stdout, "%d epoch(s) this device holds no key for were not shared.\n", missed)
	}
	return nil
}
