package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// Moderation of the neighbours feed on the admin socket: `feed reports`
// lists what accounts reported, `feed remove POST --reason TEXT` takes a
// post down. The removal and its reason go into the poster's audit log.

// feed runs `porchlightd admin feed reports|remove`.
func (a *adminCmd) feed(ctx context.Context, cmd string, args []string) error {
	fs := a.flags(cmd)
	reason := fs.String("reason", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if cmd == "feed reports" {
		if len(pos) > 0 || *reason != "" {
			return usagef("feed reports: takes no arguments")
		}
		return a.feedReports(ctx)
	}
	if len(pos) != 1 {
		return usagef("feed remove: want one POST id (see `porchlightd admin feed reports`)")
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("feed remove: --reason is required: it is shown to the poster in their audit log")
	}
	var p api.FeedPost
	if err := a.call(ctx, http.MethodPost, "/admin/feed/remove", api.AdminFeedRemove{Post: pos[0], Reason: *reason}, &p); err != nil {
		return fmt.Errorf("feed remove: %w", err)
	}
	fmt.Fprintf(a.stdout, "Removed post %s (%q); its public video is deleted. The removal and its reason are in the poster's audit log.\n", p.ID, p.Title)
	return nil
}

func (a *adminCmd) feedReports(ctx context.Context) error {
	var list api.FeedReports
	if err := a.call(ctx, http.MethodGet, "/admin/feed/reports", nil, &list); err != nil {
		return fmt.Errorf("feed reports: %w", err)
	}
	if len(list.Reports) == 0 {
		fmt.Fprintln(a.stdout, "No reports of published posts.")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POST\tREPORTED\tCATEGORY\tCELL\tTITLE\tREASON")
	for _, r := range list.Reports {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Post.ID, r.Created.UTC().Format(time.DateTime), r.Post.Category, r.Post.Cell,
			printable(r.Post.Title), printable(r.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "\nRemove one with: porchlightd admin feed remove POST --reason TEXT")
	return nil
}

// printable quotes text from accounts for a terminal table.
func printable(s string) string {
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
