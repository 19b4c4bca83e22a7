package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// campaign runs `admin campaign create|list`.
func (a *adminCmd) campaign(ctx context.Context, cmd string, after []string) error {
	if cmd == "campaign list" {
		if extra, err := parse(a.flags(cmd), after); err != nil {
			return err
		} else if len(extra) > 0 {
			return usagef("campaign list: unexpected %q", extra)
		}
		var list api.Campaigns
		if err := a.call(ctx, http.MethodGet, "/admin/campaigns", nil, &list); err != nil {
			return fmt.Errorf("campaign list: %w", err)
		}
		if len(list.Campaigns) == 0 {
			fmt.Fprintln(a.stdout, "No campaigns yet. Create one with: porchlightd admin campaign create …")
			return nil
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tORG\tCOUNTRY\tCLASSES\tRETENTION\tCREATED\tPURPOSE")
		for _, c := range list.Campaigns {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%dd\t%s\t%s\n", c.ID, c.Org, c.Country, strings.Join(c.Classes, ","), c.RetentionDays,
				c.Created.UTC().Format(time.DateOnly), c.Purpose)
		}
		return tw.Flush()
	}
	fs := a.flags(cmd)
	purpose := fs.String("purpose", "", "")
	classes := fs.String("classes", "", "")
	retention := fs.String("retention", "", "")
	org := fs.String("org", "", "")
	country := fs.String("country", "", "")
	recipient := fs.String("recipient", "", "")
	if extra, err := parse(fs, after); err != nil {
		return err
	} else if len(extra) > 0 {
		return usagef("campaign create: unexpected %q", extra)
	}
	for _, f := range []struct{ name, v string }{{"purpose", *purpose}, {"classes", *classes}, {"retention", *retention},
		{"org", *org}, {"country", *country}, {"recipient", *recipient}} {
		if strings.TrimSpace(f.v) == "" {
			return usagef("campaign create: --%s is required", f.name)
		}
	}
	days, err := retentionDays(*retention)
	if err != nil {
		return usagef("campaign create: %v", err)
	}
	in := api.AdminCampaignCreate{Purpose: *purpose, Classes: strings.Split(*classes, ","), RetentionDays: days,
		Org: *org, Country: *country, Recipient: strings.TrimSpace(*recipient)}
	var c api.Campaign
	if err := a.call(ctx, http.MethodPost, "/admin/campaigns", in, &c); err != nil {
		return fmt.Errorf("campaign create: %w", err)
	}
	fmt.Fprintf(a.stderr, "Created campaign for %s (%s): %s; classes %s; copies kept %d days.\n",
		c.Org, c.Country, c.Purpose, strings.Join(c.Classes, ", "), c.RetentionDays)
	fmt.Fprintln(a.stdout, c.ID)
	return nil
}

// retentionDays reads a retention such as 90d or 90.
func retentionDays(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "d"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--retention %q: want a number of days such as 90d", s)
	}
	return n, nil
}
