package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// maxRetentionDays bounds `cameras retention` (ten years).
const maxRetentionDays = 3650

func cmdCameras(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "cameras", about: `
Lists your cameras with their names, decrypted on this device from
descriptors the hub signed. Set retention with
` + "`porchlight cameras retention NAME DAYS`."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireViewer(); err != nil {
		return err
	}
	cams, err := h.loadCameras(ctx)
	if err != nil {
		return err
	}
	if len(cams) == 0 {
		fmt.Fprintln(m.Stdout, "No cameras yet. Claim a hub with `porchlight hub claim` and start it with --camera NAME=rtsp://…")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tHUB\tLAST UPLOAD\tRETENTION")
	bad := 0
	for _, c := range cams {
		name := clean(c.Name)
		if c.err != nil {
			name, bad = "(unverified)", bad+1
		}
		hub := clean(c.HubName)
		if hub == "" {
			hub = c.HubID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, c.ID, hub, m.when(c.LastUpload), retention(c.RetentionDays))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range cams {
		if c.err != nil {
			fmt.Fprintf(m.Stderr, "porchlight: warning: %v\n", c.err)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d camera(s) could not be verified: see the warnings above", bad)
	}
	return nil
}

func retention(days int) string {
	switch days {
	case 0:
		return "forever"
	case 1:
		return "1 day"
	}
	return strconv.Itoa(days) + " days"
}

// when formats a time for a table: local, to the second; "never" if zero.
func (m *Main) when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(m.loc).Format(time.DateTime)
}

func cmdCamerasRetention(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "cameras retention", synopsis: "NAME DAYS", minArgs: 2, maxArgs: 2, about: `
Keeps a camera's recordings for DAYS days; the service deletes older ones
(their ciphertext and manifests). 0 keeps them forever.`}
	rest, err := m.parse(m.flags(spec.name), spec, args)
	if err != nil {
		return err
	}
	days, err := strconv.Atoi(rest[1])
	if err != nil || days < 0 || days > maxRetentionDays {
		return usagef(spec.name, "DAYS must be a whole number of days from 0 (forever) to %d, not %q", maxRetentionDays, rest[1])
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	c, err := h.camera(ctx, rest[0])
	if err != nil {
		return err
	}
	if err := h.conn.c.UpdateCamera(ctx, c.ID, api.CameraUpdate{RetentionDays: &days}); err != nil {
		return h.conn.explain("set retention", err)
	}
	if days == 0 {
		fmt.Fprintf(m.Stdout, "Camera %s now keeps its recordings forever.\n", clean(c.Name))
	} else {
		fmt.Fprintf(m.Stdout, "Camera %s now keeps its recordings for %s.\n", clean(c.Name), retention(days))
	}
	return nil
}
