package cli

// Members: sharing some cameras with another account until an expiry. The
// owner invites an e-mail address; the member (signed in to their own
// account) accepts with this device's keys; the owner confirms after
// comparing a short authentication string, which signs a roster version
// listing the member's device as a member (its roster name is the member's
// e-mail address) and gives it the keys of the shared cameras' recordings.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
)

// parseExpiry reads --expires: a duration from now ("7d", "36h", "90m"),
// or "" for no end.
func parseExpiry(s string, now time.Time) (*time.Time, error) {
	if s == "" || s == "never" {
		return nil, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3660 {
			return nil, fmt.Errorf("--expires %q: give a number of days from 1 to 3660, e.g. 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return nil, fmt.Errorf("--expires %q: give a duration such as 7d or 36h, or never", s)
		}
	}
	t := now.Add(d).UTC().Truncate(time.Second)
	return &t, nil
}

// requireOwner fails unless this device is an owner in the roster.
func (h *household) requireOwner(what string) error {
	if e := h.self(); e == nil || e.Role != seal.RoleOwner {
		return fmt.Errorf("this device (%s) is not an owner in your household's roster, so it cannot %s: use an owner device", h.dev.ID, what)
	}
	return nil
}

// cameraNames maps camera ids to their verified names (the id itself if
// the descriptor does not open).
func (h *household) cameraNames(ctx context.Context) (map[string]string, error) {
	cams, err := h.loadCameras(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, c := range cams {
		if c.err == nil {
			names[c.ID] = c.Name
		}
	}
	return names, nil
}

func cmdMembers(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "members", about: `
Lists the members of your household, from its roster (verified on this
device): each member's e-mail address, device, the cameras shared with it
and when its access ends. Share cameras with ` + "`porchlight members invite`" + `,
take access back with ` + "`porchlight members remove EMAIL`."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	names, err := h.cameraNames(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tDEVICE\tCAMERAS\tEXPIRES")
	n := 0
	for _, e := range h.roster.Entries {
		if e.Kind != seal.KindDevice || e.Role != seal.RoleMember {
			continue
		}
		var cams []string
		for _, id := range e.Cameras {
			if name, ok := names[id]; ok {
				id = name
			}
			cams = append(cams, clean(id))
		}
		expires := "never"
		if e.NotAfter != nil {
			expires = e.NotAfter.In(m.loc).Format("2006-01-02 15:04 MST")
			if !h.m.Now().Before(*e.NotAfter) {
				expires += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", orDash(clean(e.Name)), e.ID, orDash(strings.Join(cams, ",")), expires)
		n++
	}
	if n == 0 {
		fmt.Fprintln(m.Stdout, "No members: share cameras with `porchlight members invite EMAIL --cameras NAME,…`.")
		return nil
	}
	return tw.Flush()
}

func cmdMembersInvite(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "members invite", synopsis: "--cameras NAME[,NAME…] [--expires 7d] EMAIL", minArgs: 1, maxArgs: 1, about: `
Invites the person with account EMAIL to see some of your cameras, until
--expires (a duration such as 7d or 36h; default: no end). This prints a
one-time code for them: they sign up or log in and run
` + "`porchlight members accept CODE`" + `; then you run
` + "`porchlight members confirm CODE`" + ` and compare the authentication string
both show. Members see only the cameras shared with them, and only until
their access ends.`}
	fs := m.flags(spec.name)
	cameras := fs.String("cameras", "", "comma-separated camera names (or ids) to share")
	expires := fs.String("expires", "", "when access ends: a duration from now such as 7d or 36h; default never")
	if len(args) > 1 && !strings.HasPrefix(args[0], "-") {
		// `members invite EMAIL --cameras …` reads naturally: accept the
		// e-mail address first too.
		args = append(append([]string(nil), args[1:]...), args[0])
	}
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(rest[0])
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	if strings.TrimSpace(*cameras) == "" {
		return usagef(spec.name, "--cameras is required: name the cameras to share (see `porchlight cameras`)")
	}
	until, err := parseExpiry(*expires, m.Now())
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("share cameras"); err != nil {
		return err
	}
	var ids, shown []string
	for _, name := range strings.Split(*cameras, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		c, err := h.camera(ctx, name)
		if err != nil {
			return err
		}
		if !slices.Contains(ids, c.ID) {
			ids, shown = append(ids, c.ID), append(shown, clean(c.Name))
		}
	}
	code, err := h.conn.c.CreateInvite(ctx, api.MemberInviteCreate{Email: email, Cameras: ids, Expires: until})
	if err != nil {
		return h.conn.explain("create the invite", err)
	}
	end := "no end"
	if until != nil {
		end = until.In(m.loc).Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(m.Stdout, "Invited %s to camera(s) %s until %s.\nGive them this code (valid until %s):\n\n    %s\n\n"+
		"They run `porchlight members accept %s`; then run `porchlight members confirm %s` here.\n",
		email, strings.Join(shown, ", "), end, code.ExpiresAt.In(m.loc).Format("2006-01-02 15:04 MST"), code.Code, code.Code, code.Code)
	return nil
}

func cmdMembersAccept(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "members accept", synopsis: "CODE", minArgs: 1, maxArgs: 1, about: `
Accepts an invite to see cameras of another household: CODE is what the
owner's ` + "`porchlight members invite`" + ` printed. Log in to the invited
account first. This offers this device's public keys and shows an
authentication string: tell the owner, who confirms only if their device
shows the same one.`}
	rest, err := m.parse(m.flags(spec.name), spec, args)
	if err != nil {
		return err
	}
	code, ok := auth.NormalizeClaimCode(rest[0])
	if !ok {
		return usagef(spec.name, "%q is not an invite code: it looks like ABCD-EFGH-JKLM", clean(rest[0]))
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	dev, err := m.loadDevice()
	if err != nil {
		return err
	}
	acc, err := c.c.AcceptInvite(ctx, code, api.MemberAccept{Name: dev.Name, Sign: dev.SignPub(), KEM: dev.Recipient()})
	if apiclient.IsStatus(err, http.StatusConflict) {
		return errors.New("this invite was already accepted by another device: ask the owner for a new invite")
	}
	if err != nil {
		return c.explain("accept the invite", err)
	}
	if err := m.pinShared(acc.Household, acc.Root); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Accepted the invite to household %s with this device (%s).\nAuthentication string: %s\n"+
		"Tell the owner this string: they confirm with `porchlight members confirm %s` only if their device shows the same.\n",
		clean(acc.Household), dev.ID, pairSAS(code, dev.SignPub(), dev.Recipient(), acc.Root), code)
	return nil
}

func cmdMembersConfirm(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "members confirm", synopsis: "[--yes] CODE", minArgs: 1, maxArgs: 1, about: `
Adds a member who accepted your invite: shows the authentication string,
which must equal the one the member's device shows (otherwise someone is
substituting keys), then signs a roster version listing the member's device
with the invited cameras and expiry, and gives it the keys of those
cameras' recordings this device holds. The hub gives it the keys of new
recordings until the access ends.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to compare the authentication strings (scripts; you lose the check against substituted keys)")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	code, ok := auth.NormalizeClaimCode(rest[0])
	if !ok {
		return usagef(spec.name, "%q is not an invite code: it looks like ABCD-EFGH-JKLM", clean(rest[0]))
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("add members"); err != nil {
		return err
	}
	inv, err := h.conn.c.Invite(ctx, code)
	if err != nil {
		return h.conn.explain("fetch the invite", err)
	}
	if inv.State != api.InviteAccepted {
		return fmt.Errorf("%s has not accepted the invite yet: they run `porchlight members accept %s` first", clean(inv.Email), code)
	}
	if inv.DeviceID != seal.KeyID(inv.Sign) {
		return fmt.Errorf("the service sent keys whose id (%s) does not match them: refusing them", clean(inv.DeviceID))
	}
	kem, err := seal.ParseRecipient(inv.KEM)
	if err != nil {
		return fmt.Errorf("the member device's encryption key is not valid (%v): refusing it", err)
	}
	for _, id := range inv.Cameras {
		if !seal.ValidID(id) {
			return fmt.Errorf("the invite lists a malformed camera id: refusing it")
		}
	}
	if e := h.roster.Entry(inv.DeviceID); e != nil && (e.Role != seal.RoleMember || !bytes.Equal(e.Sign, inv.Sign) || e.KEM != inv.KEM) {
		return fmt.Errorf("your household's roster (version %d) lists device %s already as %s: refusing to make it a member", h.roster.Version, inv.DeviceID, clean(e.Role))
	}
	names, err := h.cameraNames(ctx)
	if err != nil {
		return err
	}
	var shown []string
	for _, id := range inv.Cameras {
		if n, ok := names[id]; ok {
			id = n
		}
		shown = append(shown, clean(id))
	}
	end := "no end"
	if inv.Expires != nil {
		end = inv.Expires.In(m.loc).Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(m.Stdout, "Member %s, device %q (%s)\nCameras: %s, until %s\nAuthentication string: %s\n",
		clean(inv.Email), clean(inv.Name), inv.DeviceID, strings.Join(shown, ", "), end, pairSAS(code, inv.Sign, inv.KEM, h.pin.Root))
	if *yes {
		fmt.Fprintln(m.Stdout, "Confirmed without comparing (--yes).")
	} else if !m.confirm("Does the member's device show the same authentication string?") {
		return errors.New("not confirmed: the member was not added. If the strings differed, someone may be substituting keys; invite again")
	}
	entry := seal.RosterEntry{ID: inv.DeviceID, Kind: seal.KindDevice, Role: seal.RoleMember, Name: inv.Email,
		Sign: inv.Sign, KEM: inv.KEM, Cameras: inv.Cameras, NotAfter: inv.Expires}
	version, err := h.changeRoster(ctx, "add the member to the household roster", func(es []seal.RosterEntry) []seal.RosterEntry {
		return append(es, entry)
	}, func() bool { return h.roster.Entry(entry.ID) != nil })
	if err != nil {
		return err
	}
	if err := h.conn.c.ConfirmInvite(ctx, code); err != nil {
		return h.conn.explain("confirm the membership", err)
	}
	fmt.Fprintf(m.Stdout, "Added %s as a member (roster version %d).\n", clean(inv.Email), version)

	// Give the member device the keys of the shared cameras this device holds.
	cams, err := h.loadCameras(ctx)
	if err != nil {
		return fmt.Errorf("the member was added, but did not get the keys of earlier recordings: %w", err)
	}
	given := 0
	for _, c := range cams {
		if !slices.Contains(inv.Cameras, c.ID) {
			continue
		}
		list, err := h.conn.c.Epochs(ctx, c.ID, h.dev.ID)
		if err != nil {
			return h.conn.explain("list the epochs of camera "+clean(c.Name), err)
		}
		var wraps []api.Wrap
		var ids []string
		for _, ep := range list {
			if len(ep.Wrap) == 0 {
				continue
			}
			k, err := h.epochKey(ctx, c, ep.ID)
			if err != nil {
				fmt.Fprintf(m.Stderr, "porchlight: warning: camera %s: %v: not shared\n", clean(c.Name), err)
				continue
			}
			w, err := seal.WrapEpochKey(kem, seal.EpochKey{Household: h.roster.Household, Camera: c.ID, Epoch: ep.ID, Identity: k.String()})
			if err != nil {
				return fmt.Errorf("wrap an epoch key to the member: %w", err)
			}
			wraps, ids = append(wraps, api.Wrap{DeviceID: entry.ID, Data: w}), append(ids, ep.ID)
		}
		for i, w := range wraps {
			if err := h.conn.c.PutWraps(ctx, ids[i], []api.Wrap{w}); err != nil {
				return h.conn.explain("give the member an epoch key", err)
			}
			given++
		}
	}
	fmt.Fprintf(m.Stdout, "Gave the member the keys of %d recording epoch(s).\n", given)
	return nil
}

func cmdMembersRemove(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "members remove", synopsis: "[--yes] EMAIL", minArgs: 1, maxArgs: 1, about: `
Takes back a member's access: this owner device signs a roster version
without the member's devices, so the service deletes their copies of epoch
keys and ends their sessions, and the hub starts new epochs they never
receive; then the service stops serving them. Keys they already received
stay on their devices: recordings of those epochs remain readable to them.
Asks to confirm unless --yes.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to confirm")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(rest[0])
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("remove members"); err != nil {
		return err
	}
	isMember := func(e seal.RosterEntry) bool {
		return e.Kind == seal.KindDevice && e.Role == seal.RoleMember && strings.EqualFold(e.Name, email)
	}
	n := 0
	for _, e := range h.roster.Entries {
		if isMember(e) {
			n++
		}
	}
	if !*yes && !m.confirm(fmt.Sprintf("Remove member %s (%d device(s)) from your household?", email, n)) {
		return errors.New("not removed")
	}
	version, err := h.changeRoster(ctx, "remove the member from the household roster", func(es []seal.RosterEntry) []seal.RosterEntry {
		out := es[:0]
		for _, x := range es {
			if !isMember(x) {
				out = append(out, x)
			}
		}
		return out
	}, func() bool { return !slices.ContainsFunc(h.roster.Entries, isMember) })
	if err != nil {
		return err
	}
	err = h.conn.c.RemoveMember(ctx, email)
	switch {
	case apiclient.IsStatus(err, http.StatusNotFound) && n == 0:
		return fmt.Errorf("%s is not a member of your household: run `porchlight members` to see them", email)
	case apiclient.IsStatus(err, http.StatusNotFound):
	case err != nil:
		return h.conn.explain("end the membership", err)
	}
	fmt.Fprintf(m.Stdout, "Removed member %s (roster version %d): their sessions on removed devices ended and their copies of epoch keys were deleted;\n"+
		"new recordings use new keys they never receive. Recordings they could already open stay readable to them.\n", email, version)
	return nil
}
