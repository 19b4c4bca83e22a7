package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/porchlight/porchlight/internal/apiclient"
)

const recentNote = `It needs a recent sign-in: if yours is older than five minutes, you are asked
for your password (and a code) first.`

func cmdTOTPAdd(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "totp add", synopsis: "[--no-qr]", about: `
Adds an authenticator app (TOTP, as in Aegis, Google Authenticator or a
password manager) as a second factor. It shows a QR code, the secret and its
otpauth:// URI to add to the app, then asks for the code the app shows. Once
the code is confirmed, signing in needs a code from the app, every other
session of your account is signed out, and you get ten one-time recovery
codes, shown only then. Without a code on standard input, confirm later with
` + "`porchlight totp confirm CODE`." + `

` + recentNote}
	fs := m.flags(spec.name)
	noQR := fs.Bool("no-qr", false, "do not draw the QR code")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	setup, err := c.c.TOTPSetup(ctx)
	if err != nil {
		return c.explain("add an authenticator app", err)
	}
	w := m.Stdout
	fmt.Fprintln(w, "Add your account to your authenticator app: scan the QR code, or type the secret.")
	if !*noQR {
		if q, err := terminalQR(setup.URI); err == nil {
			fmt.Fprintf(w, "\n%s", q)
		}
	}
	fmt.Fprintf(w, "\nSecret: %s\nURI:    %s\n\n", groupSecret(setup.Secret), setup.URI)
	code, err := m.askCode("Code shown by the app: ", "no code")
	if err != nil {
		fmt.Fprintln(w, "The authenticator app is not active yet: when it shows a code, run `porchlight totp confirm CODE`.")
		return nil
	}
	return confirmTOTP(ctx, m, c, code)
}

// groupSecret shows a base32 secret in groups of four, as apps accept it.
func groupSecret(s string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), " ")
}

func cmdTOTPConfirm(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "totp confirm", synopsis: "CODE", minArgs: 1, maxArgs: 1, about: `
Activates the authenticator app added with ` + "`porchlight totp add`" + ` with a code
it shows. Then signing in needs a code from the app, every other session of
your account is signed out, and you get ten one-time recovery codes, shown
only now.

` + recentNote}
	rest, err := m.parse(m.flags(spec.name), spec, args)
	if err != nil {
		return err
	}
	code := normalizeCode(rest[0])
	if !isTOTPCode(code) {
		return usagef(spec.name, "CODE is the six digits your authenticator app shows, not %q", rest[0])
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	return confirmTOTP(ctx, m, c, code)
}

func confirmTOTP(ctx context.Context, m *Main, c *conn, code string) error {
	rc, err := c.c.TOTPConfirm(ctx, code)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnprocessableEntity) {
			return fmt.Errorf("confirm the authenticator app: %w: check that the app and this computer show the right time, then run `porchlight totp confirm CODE` with the next code", err)
		}
		return c.explain("confirm the authenticator app", err)
	}
	fmt.Fprintln(m.Stdout, "Authenticator app added: from now on, signing in needs a code from it.\n"+
		"Every other session of your account was signed out.")
	printRecoveryCodes(m.Stdout, rc.Codes)
	return nil
}

// printRecoveryCodes shows new recovery codes, once, with what to do with
// them.
func printRecoveryCodes(w io.Writer, codes []string) {
	fmt.Fprintf(w, "\nYour recovery codes, shown only now. Each works once, in place of a code from your app:\n\n")
	for _, c := range codes {
		fmt.Fprintf(w, "    %s\n", clean(c))
	}
	fmt.Fprint(w, "\nKeep them somewhere safe and away from this device: printed, or in a password manager.\n"+
		"Using one signs out every other session; `porchlight recovery-codes` makes a new set.\n")
}

func cmdTOTPRemove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "totp remove", about: `
Removes the authenticator app: its codes no longer work, and every other
session of your account is signed out. Staff accounts must keep a second
factor.

` + recentNote}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	if err := c.c.DeleteTOTP(ctx); err != nil {
		return c.explain("remove the authenticator app", err)
	}
	fmt.Fprintln(m.Stdout, "Authenticator app removed: its codes no longer work, and every other session of your\n"+
		"account was signed out. Without a second factor, your password alone signs in: add one\n"+
		"again with `porchlight totp add`.")
	return nil
}

func cmdRecoveryCodes(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "recovery-codes", about: `
Makes a new set of ten one-time recovery codes and shows them once. Each gets
you in once in place of a code from your authenticator app. The old codes
stop working, and every other session of your account is signed out. Your
account needs a second factor for this.

` + recentNote}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	rc, err := c.c.RecoveryCodes(ctx)
	if err != nil {
		return c.explain("make new recovery codes", err)
	}
	fmt.Fprintln(m.Stdout, "New recovery codes made: the old ones no longer work, and every other session of your\n"+
		"account was signed out.")
	printRecoveryCodes(m.Stdout, rc.Codes)
	return nil
}

func cmdPasskeys(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "passkeys", about: `
Lists your account's passkeys. Passkeys are added in the web app (they need a
browser or a security key); remove one here with ` + "`porchlight passkeys remove ID`."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	list, err := c.c.Passkeys(ctx)
	if err != nil {
		return c.explain("list passkeys", err)
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "No passkeys. Add one in the web app: passkeys need a browser or a security key.")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED")
	for _, p := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", clean(p.ID), orDash(clean(p.Name)), m.when(p.CreatedAt), m.when(p.LastUsed))
	}
	return tw.Flush()
}

func cmdPasskeysRemove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "passkeys remove", synopsis: "ID", minArgs: 1, maxArgs: 1, about: `
Removes a passkey (its id from ` + "`porchlight passkeys`" + `): it no longer signs in,
and every other session of your account is signed out. Staff accounts must
keep a second factor.

` + recentNote}
	rest, err := m.parse(m.flags(spec.name), spec, args)
	if err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	if err := c.c.DeletePasskey(ctx, rest[0]); err != nil {
		if apiclient.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("your account has no passkey %s: see `porchlight passkeys` for the list", rest[0])
		}
		return c.explain("remove passkey "+rest[0], err)
	}
	fmt.Fprintf(m.Stdout, "Passkey %s removed. Every other session of your account was signed out.\n", rest[0])
	return nil
}
