package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// defaultDeviceName names this device in the roster when --device-name is
// not given. The service can read roster entries, so it is not the hostname.
const defaultDeviceName = "porchlight CLI"

func emailFlag(fs *flag.FlagSet) *string {
	return fs.String("email", "", "your e-mail `address`")
}

func checkEmail(cmd, email string) error {
	if email == "" {
		return usagef(cmd, "--email is required, e.g. --email you@example.com")
	}
	if !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		return usagef(cmd, "--email %q does not look like an e-mail address", email)
	}
	return nil
}

func cmdSignup(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "signup", synopsis: "--email E [--device-name N]", about: `
Creates an account and its household on the service, makes this device's key
pair (in $PORCHLIGHT_HOME/device.key) and signs the household roster with this
device as its first owner. The password comes from $PORCHLIGHT_PASSWORD or a
prompt. Device names are visible to the service.`}
	fs := m.flags(spec.name)
	email := emailFlag(fs)
	name := fs.String("device-name", defaultDeviceName, "what to call this device in the household roster")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if err := checkEmail(spec.name, *email); err != nil {
		return err
	}
	if s, _ := m.loadSession(); s != nil {
		return fmt.Errorf("already logged in as %s (household %s): run `porchlight logout` first, or use another %s for another household", s.Email, s.HouseholdID, EnvHome)
	}
	if pin, err := m.loadPin(); err != nil {
		return err
	} else if pin != nil {
		return fmt.Errorf("this device already belongs to household %s: log in to it with `porchlight login`, or use another %s for a new household", pin.Household, EnvHome)
	}
	server := m.serverURL(nil)
	c, err := m.dial(server, *email)
	if err != nil {
		return err
	}
	pw, err := m.password("Choose a password", true)
	if err != nil {
		return err
	}
	// The key is saved before the household exists, so it is never lost to
	// an interrupted signup.
	dev, _, err := m.loadOrCreateDevice(*name)
	if err != nil {
		return err
	}
	resp, err := c.c.Signup(ctx, api.SignupRequest{Email: *email, Password: pw, DeviceName: dev.Name, DeviceID: dev.ID})
	if err != nil {
		switch {
		case apiclient.IsStatus(err, http.StatusConflict):
			return fmt.Errorf("signup: %w: to use that account here, run `porchlight login --email %s`", err, *email)
		case apiclient.IsStatus(err, http.StatusTooManyRequests):
			return fmt.Errorf("signup: too many attempts from this address; try again in %s", minutes(apiclient.RetryAfter(err)))
		}
		return c.explain("signup", err)
	}
	sess := &session{Server: server, Token: resp.Token, SessionID: resp.SessionID, AccountID: resp.AccountID,
		HouseholdID: resp.HouseholdID, Role: resp.Role, Email: *email, ExpiresAt: resp.ExpiresAt, NeedsRoster: true}
	if err := m.saveSession(sess); err != nil {
		return err
	}
	m.keepDeviceToken(server, resp, *email)
	c.useSession(sess)
	rec, passphrase, kitErr := m.makeRecoveryKit(ctx, c, resp.HouseholdID, dev)
	h := &household{m: m, conn: c, sess: sess, dev: dev, recovery: rec}
	if err := h.refreshRoster(ctx); err != nil {
		return fmt.Errorf("your account was created, but the household roster was not: %w (run `porchlight whoami` to finish)", err)
	}
	home, _ := m.home()
	fmt.Fprintf(m.Stdout, "Signed up as %s.\nHousehold: %s\nThis device (%s, %s) is the household's first owner; its keys are in %s.\n",
		*email, resp.HouseholdID, clean(dev.Name), dev.ID, home)
	m.printRecoveryKit(home, passphrase, kitErr)
	fmt.Fprint(m.Stdout, "\nNext: run `porchlight hub claim` to add your hub, and `porchlight totp add` to protect\n"+
		"your account with a second factor.\n")
	return nil
}

// keepDeviceToken saves the device token a sign-in returned; failing to is
// only a warning (the next sign-in counts as a new device).
func (m *Main) keepDeviceToken(server string, resp *api.SessionResponse, email string) {
	if resp.DeviceToken == "" {
		return
	}
	if err := m.saveDeviceToken(server, resp.AccountID, email, resp.DeviceToken); err != nil {
		fmt.Fprintf(m.Stderr, "porchlight: warning: this device's token was not saved (%v): your next login will count as a new device\n", err)
	}
}

func cmdLogin(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "login", synopsis: "--email E [--device-name N]", about: `
Opens a session on this device. The password comes from $PORCHLIGHT_PASSWORD
or a prompt; if your account has an authenticator app, its code (or one of
your recovery codes) comes from $PORCHLIGHT_TOTP or a prompt. Passkeys work
only in the web app. On a device without a key, a new key pair is made; it
sees video only once an owner device adds it to the household.

This device stays known to the service (in $PORCHLIGHT_HOME/devices.json):
a sign-in from a new device notifies your other devices, and while someone
is trying passwords on your account, a known device can still sign in.`}
	fs := m.flags(spec.name)
	email := emailFlag(fs)
	name := fs.String("device-name", defaultDeviceName, "what to call this device if it has no key yet")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if err := checkEmail(spec.name, *email); err != nil {
		return err
	}
	pin, err := m.loadPin()
	if err != nil {
		return err
	}
	old, _ := m.loadSession()
	server := m.serverURL(old)
	c, err := m.dial(server, *email)
	if err != nil {
		return err
	}
	pw, err := m.password("Password for "+*email, false)
	if err != nil {
		return err
	}
	// A new device's key is made before the sign-in, so the session is
	// bound to it from the start (removing the device from the roster ends
	// it); it is saved only if the account has a household (staff need no
	// key).
	dev, created := (*keys.Pair)(nil), false
	if dev, err = m.loadDevice(); err != nil {
		if dev, err = keys.Generate(*name); err != nil {
			return err
		}
		created = true
	}
	devName, devID := dev.Name, dev.ID
	known := m.deviceTokenFor(server, *email)
	lr, err := c.c.Login(ctx, api.LoginRequest{Email: *email, Password: pw, DeviceName: devName, DeviceToken: known, DeviceID: devID})
	if err != nil {
		return c.explainSignIn("login", err)
	}
	resp := lr.Session
	if lr.MFA != nil {
		resp, err = c.answerMFA(ctx, "login", lr.MFA, api.MFAAnswer{DeviceName: devName, DeviceToken: known, DeviceID: devID})
		if err != nil {
			return err
		}
	}
	if resp == nil || resp.Token == "" {
		return errors.New("login: the service answered without a session: try again")
	}
	m.keepDeviceToken(server, resp, *email)
	if pin != nil && pin.Household != resp.HouseholdID {
		nc, _ := m.dial(server, *email)
		nc.c.Token = resp.Token
		_ = nc.c.Logout(ctx)
		return fmt.Errorf("this device's state belongs to household %s, but %s is not in that household: use another %s for that account", pin.Household, *email, EnvHome)
	}
	sess := &session{Server: server, Token: resp.Token, SessionID: resp.SessionID, AccountID: resp.AccountID,
		HouseholdID: resp.HouseholdID, Role: resp.Role, Email: *email, ExpiresAt: resp.ExpiresAt}
	if created && resp.HouseholdID != "" {
		p, err := m.statePath(deviceKeyFile)
		if err != nil {
			return err
		}
		if err := dev.Save(p); err != nil {
			return fmt.Errorf("save this device's key: %w", err)
		}
	}
	if err := m.saveSession(sess); err != nil {
		return err
	}
	if old != nil && old.Token != resp.Token {
		// End the session this one replaces, if it is still open.
		if oc, err := m.dial(normalizeURL(old.Server), old.Email); err == nil {
			oc.c.Token = old.Token
			_ = oc.c.Logout(ctx)
		}
	}
	if resp.HouseholdID == "" {
		fmt.Fprintf(m.Stdout, "Logged in as %s (%s account, no household).\n", *email, clean(resp.Role))
		m.recoveryNote(m.Stdout, resp)
		return nil
	}
	fmt.Fprintf(m.Stdout, "Logged in as %s (household %s).\n", *email, resp.HouseholdID)
	m.recoveryNote(m.Stdout, resp)
	c.useSession(sess)
	h := &household{m: m, conn: c, sess: sess, dev: dev}
	if err := h.refreshRoster(ctx); err != nil {
		return err
	}
	switch self := h.self(); {
	case self != nil:
		fmt.Fprintf(m.Stdout, "This device (%s) is %s %s in roster version %d.\n", dev.ID, article(self.Role), self.Role, h.roster.Version)
	case created:
		fmt.Fprintf(m.Stdout, "This device has a new key (%s) and is not in your household's roster yet, so it cannot open video: run `porchlight device pair` here and `porchlight device approve CODE` on an owner device.\n", dev.ID)
	default:
		fmt.Fprintf(m.Stdout, "This device (%s) is not in your household's roster, so it cannot open video.\n", dev.ID)
	}
	return nil
}

func article(role string) string {
	if role == seal.RoleOwner {
		return "an"
	}
	return "a"
}

func cmdLogout(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "logout", about: "Ends this device's session on the service and forgets it. The device key, the pinned roster and the device token stay."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, err := m.loadSession()
	if err != nil {
		return err
	}
	c, err := m.dial(normalizeURL(sess.Server), sess.Email)
	if err != nil {
		return err
	}
	c.c.Token = sess.Token
	lerr := c.c.Logout(ctx)
	if err := m.removeSession(); err != nil {
		return err
	}
	if lerr != nil && !apiclient.IsStatus(lerr, http.StatusUnauthorized) {
		if errors.Is(lerr, context.Canceled) {
			return lerr
		}
		fmt.Fprintf(m.Stderr, "porchlight: warning: the service did not confirm the end of the session (%v); it was removed from this device\n", c.explain("logout", lerr))
	}
	fmt.Fprintf(m.Stdout, "Logged out %s.\n", sess.Email)
	return nil
}

func cmdWhoami(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "whoami", about: `
Shows the account, its role and second factors, the household and the device
in use, after verifying the household roster.`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	var h *household
	if sess.HouseholdID != "" {
		if h, err = m.household(ctx, sess, c); err != nil {
			return err
		}
	}
	me, err := c.c.Me(ctx)
	if err != nil {
		return c.explain("whoami", err)
	}
	w := m.Stdout
	fmt.Fprintf(w, "e-mail:    %s\n", clean(me.Email))
	fmt.Fprintf(w, "account:   %s\n", me.AccountID)
	if me.HouseholdID != "" {
		fmt.Fprintf(w, "household: %s\n", me.HouseholdID)
	} else {
		fmt.Fprintln(w, "household: none (staff account)")
	}
	fmt.Fprintf(w, "role:      %s\n", clean(me.Role))
	fmt.Fprintf(w, "factors:   %s\n", factors(me))
	if me.TOTP || me.Passkeys > 0 {
		switch me.RecoveryCodesLeft {
		case 0:
			fmt.Fprintln(w, "recovery:  no codes left: run `porchlight recovery-codes` to make new ones")
		default:
			fmt.Fprintf(w, "recovery:  %s left\n", plural(me.RecoveryCodesLeft, "code"))
		}
	}
	if !me.AuthAt.IsZero() {
		fmt.Fprintf(w, "signed in: %s\n", m.when(me.AuthAt))
	}
	if me.HouseholdID != "" {
		storage := humanize.IBytes(uint64(me.UsedBytes)) + " stored"
		if me.QuotaBytes > 0 {
			storage += fmt.Sprintf(" of a %s quota (%.0f%%)", humanize.IBytes(uint64(me.QuotaBytes)), 100*float64(me.UsedBytes)/float64(me.QuotaBytes))
			if me.UsedBytes >= me.QuotaBytes {
				storage += ": FULL — new recordings wait on the hub; delete some (porchlight delete) or shorten retention"
			}
		}
		fmt.Fprintf(w, "storage:   %s\n", storage)
	}
	if h != nil {
		if self := h.self(); self != nil {
			fmt.Fprintf(w, "device:    %s (%s), %s in roster version %d\n", clean(self.Name), h.dev.ID, self.Role, h.roster.Version)
		} else {
			fmt.Fprintf(w, "device:    %s (%s), not in roster version %d\n", clean(h.dev.Name), h.dev.ID, h.roster.Version)
		}
		fmt.Fprintf(w, "roster:    version %d, %d device(s), %d hub(s), rooted in key %s\n", h.roster.Version, countKind(h, seal.KindDevice), countKind(h, seal.KindHub), seal.KeyID(h.pin.Root))
	}
	fmt.Fprintf(w, "server:    %s\n", c.server)
	return nil
}

// factors describes how the account signs in.
func factors(me *api.Me) string {
	f := []string{"password"}
	if me.TOTP {
		f = append(f, "authenticator app")
	}
	if me.Passkeys > 0 {
		f = append(f, plural(me.Passkeys, "passkey"))
	}
	if len(f) == 1 {
		return "password only: add a second factor with `porchlight totp add`"
	}
	return strings.Join(f, ", ")
}

// countKind counts the roster's entries of a kind; the recovery key is not
// counted as a device.
func countKind(h *household, kind string) int {
	n := 0
	for _, e := range h.roster.Entries {
		if e.Kind == kind && e.Role != seal.RoleRecovery {
			n++
		}
	}
	return n
}

func cmdPasswd(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "passwd", about: `
Changes your account's password. You confirm the current one first (from
$PORCHLIGHT_PASSWORD or a prompt, plus a code if you have an authenticator);
the new one comes from $PORCHLIGHT_NEW_PASSWORD or a prompt, twice. Every
other session of your account is signed out at once; this one stays.`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "Changing the password of %s: first confirm it is you.\n", sess.Email)
	tok, err := c.reauth(ctx, "Current password")
	if err != nil {
		return err
	}
	c.c.Token = tok
	pw, err := m.secret(EnvNewPassword, "New password", true)
	if err != nil {
		return err
	}
	if err := c.c.ChangePassword(ctx, pw); err != nil {
		return c.explain("passwd", err)
	}
	fmt.Fprintf(m.Stdout, "Password changed for %s. Every other session of your account was signed out:\n"+
		"sign in there again with the new password.\n", sess.Email)
	return nil
}

func cmdAccountEmail(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "account email", synopsis: "NEW", minArgs: 1, maxArgs: 1, about: `
Changes the e-mail address you sign in with to NEW. It needs a recent
sign-in: you are asked for your password (and a code) if yours is older than
five minutes.`}
	rest, err := m.parse(m.flags(spec.name), spec, args)
	if err != nil {
		return err
	}
	email := rest[0]
	if !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		return usagef(spec.name, "%q does not look like an e-mail address", email)
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if err := c.c.ChangeEmail(ctx, email); err != nil {
		if apiclient.IsStatus(err, http.StatusConflict) {
			return fmt.Errorf("account email: %w: another account uses %s", err, email)
		}
		return c.explain("account email", err)
	}
	old := sess.Email
	sess.Email, c.email = email, email
	if err := m.saveSession(sess); err != nil {
		return err
	}
	if err := m.saveDeviceToken(c.server, sess.AccountID, email, ""); err != nil {
		fmt.Fprintf(m.Stderr, "porchlight: warning: %v\n", err)
	}
	fmt.Fprintf(m.Stdout, "Your account's e-mail address is now %s (was %s): log in with it from now on.\n", email, old)
	return nil
}
