package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
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
	server := m.serverURL(nil)
	c := m.dial(server, "", *email)
	resp, err := c.c.Signup(ctx, api.SignupRequest{Email: *email, Password: pw, DeviceName: dev.Name})
	if err != nil {
		if apiclient.IsStatus(err, http.StatusConflict) {
			return fmt.Errorf("signup: %w: to use that account here, run `porchlight login --email %s`", err, *email)
		}
		return c.explain("signup", err)
	}
	sess := &session{Server: server, Token: resp.Token, AccountID: resp.AccountID, HouseholdID: resp.HouseholdID,
		Email: *email, ExpiresAt: resp.ExpiresAt, NeedsRoster: true}
	if err := m.saveSession(sess); err != nil {
		return err
	}
	h := &household{m: m, conn: m.dial(server, resp.Token, *email), sess: sess, dev: dev}
	if err := h.refreshRoster(ctx); err != nil {
		return fmt.Errorf("your account was created, but the household roster was not: %w (run `porchlight whoami` to finish)", err)
	}
	home, _ := m.home()
	fmt.Fprintf(m.Stdout, "Signed up as %s.\nHousehold: %s\nThis device (%s, %s) is the household's first owner; its keys are in %s.\n",
		*email, resp.HouseholdID, clean(dev.Name), dev.ID, home)
	fmt.Fprintf(m.Stdout, "\nWARNING: your video can only be decrypted with the keys of your devices. If you lose\n"+
		"every device (this one and any you add later), your video is lost: nobody, not even the\n"+
		"service, can recover it. Back up %s. Recovery keys come in a later release.\n", home)
	fmt.Fprint(m.Stdout, "\nNext: run `porchlight hub claim` to add your hub.\n")
	return nil
}

func cmdLogin(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "login", synopsis: "--email E", about: `
Opens a session on this device. The password comes from $PORCHLIGHT_PASSWORD
or a prompt. On a device without a key, a new key pair is made; it sees video
only once an owner device adds it to the household.`}
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
	pw, err := m.password("Password for "+*email, false)
	if err != nil {
		return err
	}
	old, _ := m.loadSession()
	server := m.serverURL(old)
	c := m.dial(server, "", *email)
	devName := *name
	if d, err := m.loadDevice(); err == nil {
		devName = d.Name
	}
	resp, err := c.c.Login(ctx, api.LoginRequest{Email: *email, Password: pw, DeviceName: devName})
	if err != nil {
		return c.explain("login", err)
	}
	if pin != nil && pin.Household != resp.HouseholdID {
		h := &household{conn: m.dial(server, resp.Token, *email)}
		_ = h.conn.c.Logout(ctx)
		return fmt.Errorf("this device's state belongs to household %s, but %s is in household %s: use another %s for that account", pin.Household, *email, resp.HouseholdID, EnvHome)
	}
	dev, created, err := m.loadOrCreateDevice(devName)
	if err != nil {
		return err
	}
	sess := &session{Server: server, Token: resp.Token, AccountID: resp.AccountID, HouseholdID: resp.HouseholdID,
		Email: *email, ExpiresAt: resp.ExpiresAt}
	if err := m.saveSession(sess); err != nil {
		return err
	}
	if old != nil && old.Token != resp.Token {
		// End the session this one replaces, if it is still open.
		_ = m.dial(normalizeURL(old.Server), old.Token, old.Email).c.Logout(ctx)
	}
	fmt.Fprintf(m.Stdout, "Logged in as %s (household %s).\n", *email, resp.HouseholdID)
	h := &household{m: m, conn: m.dial(server, resp.Token, *email), sess: sess, dev: dev}
	if err := h.refreshRoster(ctx); err != nil {
		return err
	}
	switch self := h.self(); {
	case self != nil:
		fmt.Fprintf(m.Stdout, "This device (%s) is %s %s in roster version %d.\n", dev.ID, article(self.Role), self.Role, h.roster.Version)
	case created:
		fmt.Fprintf(m.Stdout, "This device has a new key (%s) and is not in your household's roster yet, so it cannot open video: adding devices comes in a later release.\n", dev.ID)
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
	spec := cmdSpec{name: "logout", about: "Ends this device's session on the service and forgets it. The device key and the pinned roster stay."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, err := m.loadSession()
	if err != nil {
		return err
	}
	c := m.dial(normalizeURL(sess.Server), sess.Token, sess.Email)
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
	spec := cmdSpec{name: "whoami", about: "Shows the account, household, role and device in use, after verifying the household roster."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	me, err := h.conn.c.Me(ctx)
	if err != nil {
		return h.conn.explain("whoami", err)
	}
	w := m.Stdout
	fmt.Fprintf(w, "e-mail:    %s\n", clean(me.Email))
	fmt.Fprintf(w, "account:   %s\n", me.AccountID)
	fmt.Fprintf(w, "household: %s\n", me.HouseholdID)
	fmt.Fprintf(w, "role:      %s\n", clean(me.Role))
	if self := h.self(); self != nil {
		fmt.Fprintf(w, "device:    %s (%s), %s in roster version %d\n", clean(self.Name), h.dev.ID, self.Role, h.roster.Version)
	} else {
		fmt.Fprintf(w, "device:    %s (%s), not in roster version %d\n", clean(h.dev.Name), h.dev.ID, h.roster.Version)
	}
	fmt.Fprintf(w, "roster:    version %d, %d device(s), %d hub(s), rooted in key %s\n", h.roster.Version, countKind(h, seal.KindDevice), countKind(h, seal.KindHub), seal.KeyID(h.pin.Root))
	fmt.Fprintf(w, "server:    %s\n", h.conn.server)
	return nil
}

func countKind(h *household, kind string) int {
	n := 0
	for _, e := range h.roster.Entries {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
