package cli

// Consents: the clips this household donated to annotation campaigns, with
// their state, and withdrawing one (the service deletes the campaign copy
// and excludes its labels from every later export).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdConsents(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "consents", about: `
Lists the clips your household donated to annotation campaigns, newest
first: the campaign's organisation, country and purpose, the camera and
time, and the state (active; withdrawn or expired: the copy is deleted and
its labels are excluded from every later export). Each consent record is
checked against your household's roster on this device. Withdraw one with
` + "`porchlight consents withdraw ID`."}
	fs := m.flags(spec.name)
	asJSON := fs.Bool("json", false, "print one JSON object per consent")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	list, err := h.conn.c.Consents(ctx)
	if err != nil {
		return h.conn.explain("list consents", err)
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		for _, c := range list {
			if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "No donations. Donate a clip with `porchlight donate --event ID --campaign ID`.")
		return nil
	}
	cams := map[string]string{}
	if cs, err := h.loadCameras(ctx); err == nil {
		for _, c := range cs {
			cams[c.ID] = c.Name
		}
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tCAMPAIGN\tORGANISATION\tCAMERA\tCLIP\tEXPIRES\tSIGNED")
	for _, c := range list {
		signed := "ok"
		if _, err := seal.VerifyConsent(c.Signed, h.roster); err != nil {
			signed = "NOT BY A CURRENT OWNER DEVICE"
		}
		expires := c.ExpiresAt.In(m.loc).Format("2006-01-02")
		if c.State != api.DonationActive {
			expires = "-"
		}
		cam := cams[c.Camera]
		if cam == "" {
			cam = c.Camera
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%s)\t%s\t%s\t%s\t%s\n", clean(c.ID), strings.ToUpper(clean(c.State)), clean(c.Purpose),
			clean(c.Org), clean(c.Country), clean(cam), formatSpan(c.From, c.To, m.loc), expires, signed)
	}
	return tw.Flush()
}

func cmdConsentsWithdraw(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "consents withdraw", synopsis: "[--yes] ID", minArgs: 1, maxArgs: 1, about: `
Withdraws a donation: the service deletes the campaign copy at once and
excludes its labels from every later listing and export (a tombstone of
the consent stays, so the withdrawal shows in ` + "`porchlight consents`" + ` and
in your audit log). Copies an annotating organisation already exported are
outside the service's reach.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to confirm")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	id := rest[0]
	if !seal.ValidID(id) {
		return usagef(spec.name, "%q is not a consent id (see `porchlight consents`)", id)
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	if !*yes && !m.confirm(fmt.Sprintf("Withdraw consent %s and delete its campaign copy?", id)) {
		return fmt.Errorf("not withdrawn")
	}
	out, err := c.c.WithdrawConsent(ctx, id)
	if err != nil {
		return c.explain("withdraw consent", err)
	}
	fmt.Fprintf(m.Stdout, "Withdrew consent %s: the campaign copy is deleted and its labels are excluded from every later export (%s).\n",
		clean(out.ID), clean(out.State))
	return nil
}
