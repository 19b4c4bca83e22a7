package cli

// Support grants, the owner's side: support staff ask for one camera's
// recordings in a time window; an owner device reads the request, maps the
// camera name to the household's camera, signs a grant and wraps only the
// keys of the epochs recorded in that window to the request's key. Nothing
// is released without that signature, and the service logs every step.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdGrants(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "grants", about: `
Lists the support requests for your household and what became of them:
pending requests first, then the others, newest first. Approve one with
` + "`porchlight grants approve ID`" + `, refuse it with
` + "`porchlight grants deny ID`" + `, end an approved grant early with
` + "`porchlight grants revoke ID`." + ` Every request, decision and use is in
your audit log (` + "`porchlight audit`" + `).`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.HouseholdID == "" {
		return fmt.Errorf("%s is a staff account: it has no household, so no grants (support staff see their requests with `porchlight support requests`)", sess.Email)
	}
	list, err := c.c.Grants(ctx)
	if err != nil {
		return c.explain("list support requests", err)
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "No support requests for your household.")
		return nil
	}
	slices.SortStableFunc(list, func(a, b api.Grant) int {
		ap, bp := a.State == api.GrantPending, b.State == api.GrantPending
		switch {
		case ap && !bp:
			return -1
		case bp && !ap:
			return 1
		}
		return 0
	})
	for i, g := range list {
		if i > 0 {
			fmt.Fprintln(m.Stdout)
		}
		m.printGrant(m.Stdout, g)
	}
	return nil
}

// printGrant shows a request or grant as a block of lines.
func (m *Main) printGrant(w io.Writer, g api.Grant) {
	fmt.Fprintf(w, "%s  %s  %s\n", clean(g.ID), strings.ToUpper(clean(g.State)), requester(g))
	cam := fmt.Sprintf("%q", clean(g.Camera))
	if g.CameraID != "" {
		cam += " (" + clean(g.CameraID) + ")"
	}
	fmt.Fprintf(w, "  camera:  %s\n", cam)
	fmt.Fprintf(w, "  window:  %s\n", formatSpan(g.From, g.To, m.loc))
	fmt.Fprintf(w, "  video:   %s\n", yesNo(g.Video))
	fmt.Fprintf(w, "  lasts:   %s once approved; %s\n", formatDuration(grantDuration(g)), m.grantEnds(g))
	fmt.Fprintf(w, "  reason:  %s\n", clean(g.Reason))
	fmt.Fprintf(w, "  ticket:  %s\n", orDash(clean(g.Ticket)))
}

// requester says who asked: e-mail, organisation and country.
func requester(g api.Grant) string {
	s := clean(g.Requester)
	var where []string
	for _, x := range []string{g.Org, g.Country} {
		if x != "" {
			where = append(where, clean(x))
		}
	}
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s
}

// grantDuration is how long a grant lasts once approved.
func grantDuration(g api.Grant) time.Duration {
	if g.DurationS <= 0 {
		return api.GrantDefaultDuration
	}
	return time.Duration(g.DurationS) * time.Second
}

func cmdGrantsApprove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "grants approve", synopsis: "[--yes] ID", minArgs: 1, maxArgs: 1, about: `
Approves a support request: shows it, asks to confirm, then this owner
device signs a grant for exactly the requested camera and window until the
requested duration from now, and — only if the request asked for video —
gives the request's key the keys of the recordings in that window. Needs a
recent sign-in with your second factor (you are asked for your password and
code). Revoke it early with ` + "`porchlight grants revoke ID`."}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to confirm")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	id := rest[0]
	if !seal.ValidID(id) {
		return usagef(spec.name, "%q is not a request id (see `porchlight grants`)", clean(id))
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("approve support access"); err != nil {
		return err
	}
	g, err := h.conn.c.Grant(ctx, id)
	if err != nil {
		return h.conn.explain("fetch request "+id, err)
	}
	if g.ID != id || g.Household != h.roster.Household {
		return fmt.Errorf("the service sent another request (%s of household %s) for %s: refusing it", clean(g.ID), clean(g.Household), id)
	}
	if g.State != api.GrantPending {
		return fmt.Errorf("request %s is %s, not pending: only a pending request can be approved", id, clean(g.State))
	}
	recipient, err := seal.ParseRecipient(g.Recipient)
	if err != nil {
		return fmt.Errorf("request %s carries no valid request key (%v): deny it", id, err)
	}
	dur := grantDuration(*g)
	switch {
	case g.RequesterID == "":
		return fmt.Errorf("request %s names no requesting account: deny it", id)
	case !g.From.Before(g.To):
		return fmt.Errorf("request %s asks for an empty window: deny it", id)
	case dur > api.GrantMaxDuration:
		return fmt.Errorf("request %s asks for %s of access, more than the %s allowed: deny it", id, formatDuration(dur), formatDuration(api.GrantMaxDuration))
	}
	c, err := h.camera(ctx, g.Camera)
	if err != nil {
		return fmt.Errorf("request %s names camera %q, which does not match exactly one of your cameras: %w. Deny it, and ask support to file it again with the right name", id, clean(g.Camera), err)
	}
	hub, _, err := h.hubKey(c.HubID)
	if err != nil {
		return err
	}

	// The epochs in scope: those of the segments recorded in the window.
	var epochs []string
	if g.Video {
		segs, err := h.segments(ctx, c, g.From, g.To)
		if err != nil {
			return err
		}
		for _, s := range segs {
			if !slices.Contains(epochs, s.Epoch) {
				epochs = append(epochs, s.Epoch)
			}
		}
	}

	m.printGrant(m.Stdout, *g)
	fmt.Fprintf(m.Stdout, "Approving lets %s see camera %q recorded %s, until %s.\n",
		requester(*g), clean(c.Name), formatSpan(g.From, g.To, m.loc), m.when(m.Now().Add(dur)))
	if g.Video {
		fmt.Fprintf(m.Stdout, "It releases the keys of %s of recordings in that window to the request's key, and nothing else.\n", plural(len(epochs), "epoch"))
	} else {
		fmt.Fprintln(m.Stdout, "It is for metadata only (times and sizes): no key is released.")
	}
	if !*yes && !m.confirm("Approve this request?") {
		return errors.New("not approved: the request is still pending (deny it with `porchlight grants deny " + id + "`)")
	}

	var wraps []api.GrantWrap
	for _, ep := range epochs {
		k, err := h.epochKey(ctx, c, ep)
		if err != nil {
			return err
		}
		w, err := seal.WrapEpochKey(recipient, seal.EpochKey{Household: h.roster.Household, Camera: c.ID, Epoch: ep, Identity: k.String()})
		if err != nil {
			return fmt.Errorf("wrap an epoch key to the request: %w", err)
		}
		wraps = append(wraps, api.GrantWrap{Epoch: ep, Data: w})
	}
	// Manifests and announcements are signed by the hub, or by an owner
	// device for history it re-keyed (porchlight rekey).
	signers := [][]byte{hub}
	for _, o := range h.roster.Owners() {
		signers = append(signers, o.Sign)
	}
	now := m.Now().UTC().Truncate(time.Second)
	signed, err := seal.SignGrant(h.dev.Sign, seal.Grant{
		ID: g.ID, Household: h.roster.Household, Requester: g.RequesterID, Recipient: g.Recipient,
		Camera: c.ID, From: g.From.UTC(), To: g.To.UTC(), Video: g.Video, NotAfter: now.Add(dur),
		Reason: g.Reason, Ticket: g.Ticket, Hubs: signers, Created: now,
	})
	if err != nil {
		return fmt.Errorf("sign the grant: %w", err)
	}
	out, err := h.conn.c.ApproveGrant(ctx, id, api.GrantApproval{Signed: signed, Wraps: wraps})
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.Code == api.CodeFactorRequired {
			return fmt.Errorf("approve request %s: approving support access needs a second factor on your account: add an authenticator app with `porchlight totp add`, then approve again", id)
		}
		return h.conn.explain("approve request "+id, err)
	}
	ends := now.Add(dur)
	if !out.ExpiresAt.IsZero() {
		ends = out.ExpiresAt
	}
	fmt.Fprintf(m.Stdout, "Approved request %s: %s may see camera %q recorded %s until %s (%s released).\n",
		id, clean(g.Requester), clean(c.Name), formatSpan(g.From, g.To, m.loc), m.when(ends), plural(len(wraps), "epoch key"))
	fmt.Fprintf(m.Stdout, "End it early with `porchlight grants revoke %s`; every use shows in `porchlight audit`.\n", id)
	return nil
}

func cmdGrantsDeny(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "grants deny", synopsis: "ID", minArgs: 1, maxArgs: 1, about: `
Refuses a pending support request: nothing is released, and the refusal is
in your audit log.`}
	return grantEnd(ctx, m, spec, args, "deny", func(c *apiclient.Client, ctx context.Context, id string) (*api.Grant, error) {
		return c.DenyGrant(ctx, id)
	}, "Denied request %s: nothing was released.\n")
}

func cmdGrantsRevoke(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "grants revoke", synopsis: "ID", minArgs: 1, maxArgs: 1, about: `
Ends an approved support grant now: the service deletes the keys it
released to the grant and refuses its requests from then on. Recordings
support already exported stay readable to them.`}
	return grantEnd(ctx, m, spec, args, "revoke", func(c *apiclient.Client, ctx context.Context, id string) (*api.Grant, error) {
		return c.RevokeGrant(ctx, id)
	}, "Revoked grant %s: the keys released to it were deleted from the service, and its requests are refused from now on.\n")
}

// grantEnd is deny and revoke.
func grantEnd(ctx context.Context, m *Main, spec cmdSpec, args []string, verb string,
	call func(*apiclient.Client, context.Context, string) (*api.Grant, error), done string) error {
	rest, err := m.parse(m.flags(spec.name), spec, args)
	if err != nil {
		return err
	}
	id := rest[0]
	if !seal.ValidID(id) {
		return usagef(spec.name, "%q is not a request id (see `porchlight grants`)", clean(id))
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.HouseholdID == "" {
		return fmt.Errorf("%s is a staff account: only the household's owners decide on its grants", sess.Email)
	}
	if _, err := call(c.c, ctx, id); err != nil {
		if apiclient.IsStatus(err, http.StatusConflict) {
			if g, gerr := c.c.Grant(ctx, id); gerr == nil {
				return fmt.Errorf("%s request %s: it is %s (see `porchlight grants`)", verb, id, clean(g.State))
			}
		}
		return c.explain(verb+" request "+id, err)
	}
	fmt.Fprintf(m.Stdout, done, id)
	return nil
}
