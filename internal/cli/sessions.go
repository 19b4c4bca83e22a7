package cli

import (
	"context"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/porchlight/porchlight/internal/apiclient"
)

func cmdSessions(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "sessions", about: `
Lists where your account is signed in: each session's id, device name, client
program, address (shortened to its network), when it started and when it was
last used. * marks this device's session. End one with
` + "`porchlight sessions revoke ID`" + `, or all but this one with
` + "`porchlight sessions revoke --all-others`."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	list, err := c.c.Sessions(ctx)
	if err != nil {
		return c.explain("list sessions", err)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tDEVICE\tCLIENT\tADDRESS\tCREATED\tLAST USED")
	for _, s := range list {
		mark := ""
		if s.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, clean(s.ID), orDash(clean(s.DeviceName)), orDash(clean(s.Client)),
			orDash(clean(s.AddrPrefix)), m.when(s.CreatedAt), m.when(s.LastUsed))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdSessionsRevoke(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "sessions revoke", synopsis: "ID | --all-others", maxArgs: 1, about: `
Signs out one session of your account (its id from ` + "`porchlight sessions`" + `),
or with --all-others every session but this device's. The next request of a
signed-out session is refused, and its open connections close within a
second. To end this device's own session, use ` + "`porchlight logout`."}
	fs := m.flags(spec.name)
	others := fs.Bool("all-others", false, "sign out every session of your account except this one")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	switch {
	case *others && len(rest) == 1:
		return usagef(spec.name, "give a session ID or --all-others, not both")
	case !*others && len(rest) == 0:
		return usagef(spec.name, "missing session ID (see `porchlight sessions`), or --all-others")
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if *others {
		n, err := c.c.RevokeOtherSessions(ctx)
		if err != nil {
			return c.explain("sign out the other sessions", err)
		}
		fmt.Fprintf(m.Stdout, "Signed out %s; this device stays signed in.\n", plural(n, "other session"))
		return nil
	}
	id := rest[0]
	if id == sess.SessionID {
		return fmt.Errorf("session %s is this device's own: to end it, run `porchlight logout`", id)
	}
	if err := c.c.RevokeSession(ctx, id); err != nil {
		if apiclient.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("your account has no session %s: see `porchlight sessions` for the list", id)
		}
		return c.explain("sign out session "+id, err)
	}
	fmt.Fprintf(m.Stdout, "Signed out session %s.\n", id)
	return nil
}
