package cli

// Donating a clip to an annotation campaign: this owner device shows the
// campaign (purpose, organisation, country, retention), asks, has the
// camera's hub make a redacted copy sealed to the campaign key and this
// device (a redaction job of purpose donate, household.redact), signs a
// consent naming exactly that campaign, key and job, and hands both to the
// service, which accepts the copy into the campaign only with it.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

func cmdDonate(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "donate", synopsis: "(--event ID | --camera NAME --from T --to T) --campaign ID [-o preview.mp4] [--yes]", about: `
Gives one clip to an annotation campaign, to help improve detection. Shows
what the campaign is for, which organisation labels the clips, in which
country and for how long, and asks. Then the camera's hub makes a redacted
copy (people other than the event's subject blurred, no audio, no
metadata) sealed to the campaign's key and to this device, this device
signs a consent record for exactly that copy, and the service adds it to
the campaign. -o writes the redacted copy for you to check. Withdraw it any
time with ` + "`porchlight consents withdraw ID`" + `: the copy is deleted and its
labels are excluded from every later export. Every step is in your audit
log.`}
	fs := m.flags(spec.name)
	event := fs.String("event", "", "donate the clip of event `ID`")
	camName := fs.String("camera", "", "donate a clip of camera `NAME` (with --from and --to)")
	fromS := fs.String("from", "", "start of the clip, `T`")
	toS := fs.String("to", "", "end of the clip, `T`")
	campaignID := fs.String("campaign", "", "the campaign `ID` (see GET /v1/campaigns)")
	preview := fs.String("o", "", "also write the redacted copy to `FILE`")
	yes := fs.Bool("yes", false, "do not ask to confirm")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	var clip clipSpec
	switch {
	case *event != "" && (*camName != "" || *fromS != "" || *toS != ""):
		return usagef(spec.name, "give --event, or --camera with --from and --to, not both")
	case *event != "":
		if !seal.ValidID(*event) {
			return usagef(spec.name, "%q is not an event id (see `porchlight events`)", *event)
		}
		clip.Event = *event
	case *camName != "" && *fromS != "" && *toS != "":
		from, to, err := parseRange(*fromS, *toS, m.Now(), m.loc, 0)
		if err != nil {
			return usagef(spec.name, "%v", err)
		}
		clip.Camera, clip.From, clip.To = *camName, from, to
	default:
		return usagef(spec.name, "give --event ID, or --camera NAME --from T --to T")
	}
	if !seal.ValidID(*campaignID) {
		return usagef(spec.name, "--campaign ID is required")
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if self := h.self(); self == nil || !self.MaySign() {
		return fmt.Errorf("only an owner device of the household can consent to a donation")
	}
	camps, err := h.conn.c.Campaigns(ctx)
	if err != nil {
		return h.conn.explain("list campaigns", err)
	}
	i := slices.IndexFunc(camps, func(c api.Campaign) bool { return c.ID == *campaignID })
	if i < 0 {
		return fmt.Errorf("no campaign %s: the service lists %d campaigns", *campaignID, len(camps))
	}
	camp := camps[i]
	rcp, err := seal.ParseRecipient(camp.Recipient)
	if err != nil {
		return fmt.Errorf("campaign %s has no valid key: %w", camp.ID, err)
	}
	w := m.Stderr
	fmt.Fprintf(w, "Campaign %s\n", clean(camp.ID))
	fmt.Fprintf(w, "  purpose:       %s\n", clean(camp.Purpose))
	fmt.Fprintf(w, "  labelled by:   %s, in %s\n", clean(camp.Org), clean(camp.Country))
	fmt.Fprintf(w, "  classes:       %s\n", clean(strings.Join(camp.Classes, ", ")))
	fmt.Fprintf(w, "  kept for:      %d days, unless you withdraw it sooner\n", camp.RetentionDays)
	fmt.Fprintln(w, "The clip is redacted by your hub and sealed to the campaign's key; the service cannot open it.")
	if !*yes && !m.confirm("Donate this clip to the campaign?") {
		return fmt.Errorf("not donated")
	}
	red, err := h.redact(ctx, clip, "donate", camp.ID, []age.Recipient{rcp})
	if err != nil {
		return err
	}
	if red.Header.Purpose != "donate" || red.Header.Campaign != camp.ID {
		return fmt.Errorf("the hub's result is for %q (campaign %q), not this donation: nothing donated", red.Header.Purpose, red.Header.Campaign)
	}
	if *preview != "" {
		if err := keys.WriteFileAtomic(*preview, red.MP4, 0o600); err != nil {
			return fmt.Errorf("write the preview: %w", err)
		}
		fmt.Fprintf(w, "Wrote the redacted copy to %s.\n", *preview)
	}
	con := seal.Consent{ID: seal.NewID(), Household: h.roster.Household, Campaign: camp.ID, Recipient: camp.Recipient,
		Purpose: camp.Purpose, Org: camp.Org, Country: camp.Country, RetentionDays: camp.RetentionDays,
		Camera: red.Header.Camera, Event: clip.Event, From: red.Header.From, To: red.Header.To, Job: red.Job, Created: m.Now().UTC()}
	signed, err := seal.SignConsent(h.dev.Sign, con)
	if err != nil {
		return fmt.Errorf("sign the consent: %w", err)
	}
	out, err := h.conn.c.Donate(ctx, camp.ID, api.DonationCreate{Consent: signed, Job: red.Job})
	if err != nil {
		return h.conn.explain("donate", err)
	}
	fmt.Fprintf(m.Stdout, "Donated: consent %s (campaign %s, %s). Withdraw it with `porchlight consents withdraw %s`.\n",
		clean(out.ID), clean(camp.ID), clean(camp.Org), clean(out.ID))
	return nil
}
