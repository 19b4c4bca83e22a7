package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// EnvRecovery holds the recovery passphrase for `porchlight recover`;
// otherwise it is prompted for.
const EnvRecovery = "PORCHLIGHT_RECOVERY"

// recoveryName names the recovery identity's roster entry.
const recoveryName = "recovery kit"

// makeRecoveryKit makes the household's recovery identity and passphrase,
// seals the identity's private keys to the passphrase and stores the kit at
// the service. It returns the roster entry to list in version 1 and the
// passphrase to show once; on failure, no entry (the household is founded
// without recovery) and the error.
func (m *Main) makeRecoveryKit(ctx context.Context, c *conn, household string, dev *keys.Pair) (*seal.RosterEntry, string, error) {
	rec, err := keys.Generate(recoveryName)
	if err != nil {
		return nil, "", err
	}
	passphrase := keys.NewRecoveryPassphrase()
	kit, err := keys.SealRecoveryKit(rec, household, dev.SignPub(), passphrase, m.Now(), 0)
	if err != nil {
		return nil, "", err
	}
	if err := c.c.PutRecoveryKit(ctx, kit); err != nil {
		return nil, "", c.explain("store the recovery kit", err)
	}
	e := deviceEntry(rec, seal.RoleRecovery)
	return &e, passphrase, nil
}

// printRecoveryKit shows the passphrase, once, with what losing it means.
func (m *Main) printRecoveryKit(home, passphrase string, kitErr error) {
	w := m.Stdout
	if kitErr != nil || passphrase == "" {
		fmt.Fprintf(w, "\nWARNING: no recovery kit was made (%v).\n"+
			"Your video can only be decrypted with the keys of your devices: if you lose every device\n"+
			"(this one and any you add later), your video is unrecoverable; nobody, not even the\n"+
			"service, can recover it. Back up %s.\n", kitErr, home)
		return
	}
	fmt.Fprintf(w, "\nYour recovery passphrase (shown only this once; write it down and keep it away from your devices):\n\n"+
		"    %s\n\n", passphrase)
	fmt.Fprint(w, "WARNING: your video can only be decrypted with the keys of your devices or this passphrase.\n"+
		"If you lose every device (this one and any you add later) AND this passphrase, your video\n"+
		"is unrecoverable: nobody, not even the service, can decrypt it. With the passphrase and\n"+
		"your password, `porchlight recover` on a new device gets your household and video back.\n")
}

func cmdRecover(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "recover", synopsis: "--email E [--device-name N] [--keep-devices]", about: `
Gets your household back on a new device after losing your devices, with your
password (and second factor) and the recovery passphrase shown at signup
(from $PORCHLIGHT_RECOVERY or a prompt). Run it with a fresh
$PORCHLIGHT_HOME. It opens the recovery kit the service keeps for you, makes
this device's key, and signs with the recovery key a new roster version that
adds this device as an owner and removes your other owner devices (they are
lost; --keep-devices keeps them). It then gives this device the keys of your
recorded video, and signs out every other session of your account. Your hub
starts new keys for new video when it sees the new roster.

A wrong passphrase changes nothing.`}
	fs := m.flags(spec.name)
	email := emailFlag(fs)
	name := fs.String("device-name", defaultDeviceName, "what to call this device in the household roster")
	keep := fs.Bool("keep-devices", false, "keep your other owner devices in the roster")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if err := checkEmail(spec.name, *email); err != nil {
		return err
	}
	if err := m.requireFreshHome(); err != nil {
		return err
	}
	server := m.serverURL(nil)
	c, err := m.dial(server, *email)
	if err != nil {
		return err
	}
	pw, err := m.password("Password for "+*email, false)
	if err != nil {
		return err
	}
	// The device key exists only in memory until the kit has opened: a
	// wrong passphrase leaves nothing behind here or at the service.
	dev, err := keys.Generate(*name)
	if err != nil {
		return err
	}
	known := m.deviceTokenFor(server, *email)
	lr, err := c.c.Login(ctx, api.LoginRequest{Email: *email, Password: pw, DeviceName: dev.Name, DeviceToken: known, DeviceID: dev.ID})
	if err != nil {
		return c.explainSignIn("recover", err)
	}
	resp := lr.Session
	if lr.MFA != nil {
		if resp, err = c.answerMFA(ctx, "recover", lr.MFA, api.MFAAnswer{DeviceName: dev.Name, DeviceToken: known, DeviceID: dev.ID}); err != nil {
			return err
		}
	}
	if resp == nil || resp.Token == "" {
		return errors.New("recover: the service answered without a session: try again")
	}
	m.keepDeviceToken(server, resp, *email)
	sess := &session{Server: server, Token: resp.Token, SessionID: resp.SessionID, AccountID: resp.AccountID,
		HouseholdID: resp.HouseholdID, Role: resp.Role, Email: *email, ExpiresAt: resp.ExpiresAt}
	c.useSession(sess)
	rec, kit, err := m.openKit(ctx, c, sess)
	if err != nil {
		_ = c.c.Logout(ctx) // nothing was saved: leave no session behind
		return err
	}

	// The kit opened: from here on, keep what is made.
	path, err := m.statePath(deviceKeyFile)
	if err != nil {
		return err
	}
	if err := dev.Save(path); err != nil {
		return fmt.Errorf("save this device's key: %w", err)
	}
	if err := m.saveSession(sess); err != nil {
		return err
	}
	// Pin the household root the kit carries, not the one the service
	// serves: a made-up chain is refused before anything is signed.
	if err := m.savePin(&pinnedRoster{Household: kit.Household, Root: ed25519.PublicKey(kit.Root)}); err != nil {
		return err
	}
	h := &household{m: m, conn: c, sess: sess, dev: dev}
	if err := h.refreshRoster(ctx); err != nil {
		return err
	}
	if e := h.roster.Entry(rec.ID); e == nil || e.Role != seal.RoleRecovery {
		return fmt.Errorf("the recovery kit's key %s is not your household's recovery key in roster version %d: the kit was replaced, or the recovery key was removed; nothing was changed", rec.ID, h.roster.Version)
	}
	removed, err := h.addRecoveredDevice(ctx, rec, *keep)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Recovered household %s: this device (%s, %s) is an owner in roster version %d.\n", h.roster.Household, clean(dev.Name), dev.ID, h.roster.Version)
	for _, e := range removed {
		fmt.Fprintf(m.Stdout, "Removed lost device %s (%s) from the roster.\n", clean(e.Name), e.ID)
	}
	n, skipped, err := h.copyRecoveryWraps(ctx, rec)
	if err != nil {
		return fmt.Errorf("this device is in the roster, but not all keys of your recorded video were copied to it: %w (run `porchlight recover` again on another fresh %s to retry)", err, EnvHome)
	}
	fmt.Fprintf(m.Stdout, "Gave this device the keys of %s of recorded video.\n", plural(n, "epoch"))
	if skipped > 0 {
		fmt.Fprintf(m.Stderr, "porchlight: warning: %s had no key for the recovery kit (recorded before it existed, or by a hub that did not list it) and stay unreadable here\n", plural(skipped, "epoch"))
	}
	ended, err := c.c.RevokeOtherSessions(ctx)
	if err != nil {
		return fmt.Errorf("recovered, but the other sessions were not signed out: %w (run `porchlight sessions revoke --all-others`)", c.explain("sign out other sessions", err))
	}
	fmt.Fprintf(m.Stdout, "Signed out %s of your account. Your hub starts new keys for new video when it sees the new roster.\n", plural(ended, "other session"))
	fmt.Fprint(m.Stdout, "Your recovery passphrase still works: keep it safe. Change your password with `porchlight passwd` if you think it was exposed.\n")
	return nil
}

// requireFreshHome refuses to recover into a PORCHLIGHT_HOME that already
// has a device key, a session or a pinned roster.
func (m *Main) requireFreshHome() error {
	for _, f := range []string{deviceKeyFile, sessionFile, rosterFile} {
		p, err := m.statePath(f)
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err == nil {
			home, _ := m.home()
			return fmt.Errorf("%s already holds a device (%s): recover on a fresh %s, e.g. %s=$(mktemp -d) porchlight recover …", home, f, EnvHome, EnvHome)
		}
	}
	return nil
}

// openKit fetches the household's recovery kit and opens it with the
// passphrase; it checks the kit is the session's household's.
func (m *Main) openKit(ctx context.Context, c *conn, sess *session) (*keys.Pair, *seal.RecoveryKit, error) {
	if sess.HouseholdID == "" {
		return nil, nil, fmt.Errorf("%s is a staff account: it has no household to recover", sess.Email)
	}
	ct, err := c.c.RecoveryKit(ctx)
	if apiclient.IsStatus(err, http.StatusNotFound) {
		return nil, nil, errors.New("your household has no recovery kit at the service (it was made before recovery kits existed, or signup was interrupted): only one of your devices can open your video")
	}
	if err != nil {
		return nil, nil, c.explain("fetch the recovery kit", err)
	}
	typed, err := m.secret(EnvRecovery, "Recovery passphrase", false)
	if err != nil {
		return nil, nil, err
	}
	pass, err := keys.NormalizePassphrase(typed)
	if err != nil {
		return nil, nil, fmt.Errorf("recover: %w; nothing was changed", err)
	}
	rec, kit, err := keys.OpenRecoveryKit(ct, pass)
	if errors.Is(err, keys.ErrWrongPassphrase) {
		return nil, nil, fmt.Errorf("recover: %w: check it against the one you wrote down at signup; nothing was changed", err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("recover: open the recovery kit: %w; nothing was changed", err)
	}
	if kit.Household != sess.HouseholdID {
		return nil, nil, fmt.Errorf("the recovery kit the service sent is of household %s, not yours (%s); nothing was changed", kit.Household, sess.HouseholdID)
	}
	return rec, kit, nil
}

// addRecoveredDevice signs, with the recovery key, the next roster version:
// this device as an owner, and without the other owner devices unless keep.
// It returns the entries it removed.
func (h *household) addRecoveredDevice(ctx context.Context, rec *keys.Pair, keep bool) ([]seal.RosterEntry, error) {
	var removed []seal.RosterEntry
	next, err := nextRoster(rec, h.roster, h.chain[len(h.chain)-1], h.m.Now(), func(es []seal.RosterEntry) []seal.RosterEntry {
		if !keep {
			es = slices.DeleteFunc(es, func(e seal.RosterEntry) bool {
				if e.Kind == seal.KindDevice && e.Role == seal.RoleOwner {
					removed = append(removed, e)
					return true
				}
				return false
			})
		}
		return append(es, deviceEntry(h.dev, seal.RoleOwner))
	})
	if err != nil {
		return nil, err
	}
	if err := h.conn.c.AppendRoster(ctx, next); err != nil {
		if apiclient.IsStatus(err, http.StatusConflict) {
			return nil, errors.New("the household roster changed at the same time: run `porchlight recover` again on a fresh " + EnvHome)
		}
		return nil, h.conn.explain("upload the new roster version", err)
	}
	if err := h.refreshRoster(ctx); err != nil {
		return nil, err
	}
	if h.self() == nil {
		return nil, fmt.Errorf("the service did not keep the roster version that adds this device (latest is version %d): run `porchlight recover` again", h.roster.Version)
	}
	return removed, nil
}

// copyRecoveryWraps gives this device every epoch key wrapped to the
// recovery key: unwrap with it, check against the hub-signed announcement,
// wrap to this device and upload. It returns how many epochs were copied
// and how many had no wrap for the recovery key.
func (h *household) copyRecoveryWraps(ctx context.Context, rec *keys.Pair) (copied, skipped int, err error) {
	list, err := h.conn.c.Cameras(ctx)
	if err != nil {
		return 0, 0, h.conn.explain("list cameras", err)
	}
	to, err := seal.ParseRecipient(h.dev.Recipient())
	if err != nil {
		return 0, 0, err
	}
	// The same household seen through the recovery key.
	hr := &household{m: h.m, conn: h.conn, sess: h.sess, dev: rec, pin: h.pin, chain: h.chain, roster: h.roster,
		epochs: map[string]map[string]*epoch{}, keys: map[string]*age.HybridIdentity{}}
	for _, a := range list {
		cam := &camera{Camera: a}
		if cam.hub, cam.HubName, cam.err = h.hubKey(a.HubID); cam.err != nil {
			fmt.Fprintf(h.m.Stderr, "porchlight: warning: camera %s skipped: %v\n", a.ID, cam.err)
			continue
		}
		eps, err := h.conn.c.Epochs(ctx, a.ID, rec.ID)
		if err != nil {
			return copied, skipped, h.conn.explain("list the epochs of camera "+a.ID, err)
		}
		for _, e := range eps {
			k, err := hr.epochKey(ctx, cam, e.ID)
			if errors.Is(err, errNoWrap) {
				skipped++
				continue
			}
			if err != nil {
				return copied, skipped, err
			}
			w, err := seal.WrapEpochKey(to, seal.EpochKey{Household: h.roster.Household, Camera: a.ID, Epoch: e.ID, Identity: k.String()})
			if err != nil {
				return copied, skipped, err
			}
			if err := h.conn.c.PutWraps(ctx, e.ID, []api.Wrap{{DeviceID: h.dev.ID, Data: w}}); err != nil {
				return copied, skipped, h.conn.explain("upload the key of epoch "+e.ID, err)
			}
			copied++
		}
	}
	return copied, skipped, nil
}
