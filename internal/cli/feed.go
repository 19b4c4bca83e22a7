package cli

// The neighbours feed, the reader's side: list the posts around a
// neighbourhood cell, save a post's video, report a post, list and
// withdraw your own. Coordinates given with --lat/--lon are turned into the
// cell on this device; only the 6-character cell is sent.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/geocell"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// locationFlags are --near and --lat/--lon.
type locationFlags struct {
	near, lat, lon *string
}

func (m *Main) locationFlags(fs interface {
	String(name, value, usage string) *string
}) locationFlags {
	return locationFlags{
		near: fs.String("near", "", "neighbourhood `CELL`: a 6-character geohash (e.g. u4pruy)"),
		lat:  fs.String("lat", "", "latitude in degrees; turned into the cell on this device, never sent"),
		lon:  fs.String("lon", "", "longitude in degrees; turned into the cell on this device, never sent"),
	}
}

// cell returns the neighbourhood cell the flags name. Coordinates are
// coarsened here; nothing finer than the cell leaves this function.
func (l locationFlags) cell(cmd string) (string, error) {
	near := strings.ToLower(strings.TrimSpace(*l.near))
	switch {
	case near != "" && (*l.lat != "" || *l.lon != ""):
		return "", usagef(cmd, "give --near CELL or --lat and --lon, not both")
	case near != "":
		if !geocell.Valid(near) {
			return "", usagef(cmd, "--near %q is not a neighbourhood cell: give %d geohash characters (a longer geohash is too precise; cut it to %d), or --lat and --lon", clean(*l.near), geocell.Precision, geocell.Precision)
		}
		return near, nil
	case *l.lat == "" && *l.lon == "":
		return "", usagef(cmd, "a location is required: --near CELL, or --lat and --lon (turned into a neighbourhood cell on this device)")
	case *l.lat == "" || *l.lon == "":
		return "", usagef(cmd, "--lat and --lon go together")
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(*l.lat), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(*l.lon), 64)
	if err1 != nil || err2 != nil {
		return "", usagef(cmd, "--lat and --lon must be decimal degrees, e.g. --lat 48.137 --lon 11.575")
	}
	if err := geocell.Check(lat, lon); err != nil {
		return "", usagef(cmd, "%v", err)
	}
	return geocell.Cell(lat, lon), nil
}

// postFirst lets a command take its POST id before its flags, as in
// `porchlight feed report POST --reason TEXT`: a leading argument that is
// not a flag moves to the end, where the flag parser expects it.
func postFirst(args []string) []string {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") {
		return args
	}
	return append(append([]string(nil), args[1:]...), args[0])
}

// categoryNames are the categories as people read them.
var categoryNames = map[string]string{
	seal.CategorySafety: "safety", seal.CategorySuspicious: "suspicious activity", seal.CategoryLostPet: "lost pet",
	seal.CategoryCrime: "crime", seal.CategoryOther: "other",
}

func cmdFeed(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "feed", synopsis: "(--near CELL | --lat DEG --lon DEG) [--radius N] [--json]", about: `
Lists the neighbours feed: clips owners published around a neighbourhood
cell (a 6-character geohash, about 1.2 × 0.6 km) and --radius rings of
cells around it, newest first. Coordinates given with --lat and --lon are
turned into the cell on this device; only the cell is sent. Save a post's
video with ` + "`porchlight feed save POST -o FILE`" + `, report one with
` + "`porchlight feed report POST --reason TEXT`" + `. Posters are shown under
a pseudonym made for each post.`}
	fs := m.flags(spec.name)
	loc := m.locationFlags(fs)
	radius := fs.Int("radius", 1, "rings of neighbouring cells to include, 0 to "+strconv.Itoa(geocell.MaxRadius))
	asJSON := fs.Bool("json", false, "print the posts as JSON")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	cell, err := loc.cell(spec.name)
	if err != nil {
		return err
	}
	if *radius < 0 || *radius > geocell.MaxRadius {
		return usagef(spec.name, "--radius must be 0 to %d", geocell.MaxRadius)
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	feed, err := c.c.Feed(ctx, cell, *radius)
	if err != nil {
		return c.explain("read the feed", err)
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(feed.Posts)
	}
	if len(feed.Posts) == 0 {
		fmt.Fprintf(m.Stdout, "No posts around cell %s (radius %d).\n", cell, *radius)
		return nil
	}
	m.printPosts(feed.Posts, false)
	return nil
}

// printPosts shows posts as a table.
func (m *Main) printPosts(posts []api.FeedPost, withState bool) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	head := "POST\tTIME\tCATEGORY\tCELL\tBY\tTITLE"
	if withState {
		head += "\tSTATE"
	}
	fmt.Fprintln(tw, head)
	for _, p := range posts {
		by := clean(p.Pseudonym)
		if p.Mine {
			by += " (you)"
		}
		cat := categoryNames[p.Category]
		if cat == "" {
			cat = clean(p.Category)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", clean(p.ID), p.Created.In(m.loc).Format(time.DateTime), cat, clean(p.Cell), by, clean(p.Title))
		if withState {
			st := clean(p.State)
			if p.Reason != "" {
				st += ": " + clean(p.Reason)
			}
			line += "\t" + st
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func cmdFeedMine(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "feed mine", about: `
Lists the posts your household published, withdrawn and removed ones
included (a removal shows the moderators' reason). Withdraw one with
` + "`porchlight withdraw POST`."}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.HouseholdID == "" {
		return fmt.Errorf("%s is a staff account: it has no household, so no posts", sess.Email)
	}
	posts, err := c.c.MyPosts(ctx)
	if err != nil {
		return c.explain("list your posts", err)
	}
	if len(posts) == 0 {
		fmt.Fprintln(m.Stdout, "Your household has published nothing. Publish a clip with `porchlight publish`.")
		return nil
	}
	m.printPosts(posts, true)
	return nil
}

func cmdFeedSave(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "feed save", synopsis: "POST -o FILE", minArgs: 1, maxArgs: 1, about: `
Saves a post's published video (an MP4, already redacted by its poster) to
FILE. The file is written under a temporary name and renamed when
complete.`}
	fs := m.flags(spec.name)
	out := fs.String("o", "", "output `FILE`")
	rest, err := m.parse(fs, spec, postFirst(args))
	if err != nil {
		return err
	}
	id := rest[0]
	if !seal.ValidID(id) {
		return usagef(spec.name, "%q is not a post id (see `porchlight feed`)", clean(id))
	}
	if *out == "" || *out == "-" {
		return usagef(spec.name, "-o FILE is required")
	}
	if err := m.checkOutput(spec.name, *out); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	p, err := c.c.FeedPost(ctx, id)
	if err != nil {
		return feedExplain(c, "fetch post "+id, err)
	}
	b, err := c.c.FeedMedia(ctx, id)
	if err != nil {
		return feedExplain(c, "download post "+id, err)
	}
	if seal.SHA256Hex(b) != p.SHA256 {
		return fmt.Errorf("the video of post %s does not match the hash its poster signed: not saved", id)
	}
	if err := keys.WriteFileAtomic(*out, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(m.Stderr, "Saved %q (%s) to %s.\n", clean(p.Title), formatBytes(int64(len(b))), *out)
	return nil
}

// feedExplain says what a 410 means.
func feedExplain(c *conn, op string, err error) error {
	if apiclient.IsStatus(err, http.StatusGone) {
		var ae *apiclient.Error
		msg := "it was withdrawn or removed"
		if errors.As(err, &ae) && ae.Message != "" {
			msg = ae.Message
		}
		return fmt.Errorf("%s: the post is gone: %s", op, msg)
	}
	return c.explain(op, err)
}

func cmdFeedReport(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "feed report", synopsis: "POST --reason TEXT", minArgs: 1, maxArgs: 1, about: `
Reports a post to the service's moderators, e.g. because it shows someone's
face or names an address. The poster learns that and why it was reported,
not by whom.`}
	fs := m.flags(spec.name)
	reason := fs.String("reason", "", "what is wrong with the post (required)")
	rest, err := m.parse(fs, spec, postFirst(args))
	if err != nil {
		return err
	}
	id := rest[0]
	if !seal.ValidID(id) {
		return usagef(spec.name, "%q is not a post id (see `porchlight feed`)", clean(id))
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef(spec.name, "--reason is required: say what is wrong with the post")
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	if err := c.c.ReportPost(ctx, id, *reason); err != nil {
		if apiclient.IsStatus(err, http.StatusConflict) {
			return fmt.Errorf("you have already reported post %s", id)
		}
		return feedExplain(c, "report post "+id, err)
	}
	fmt.Fprintf(m.Stdout, "Reported post %s to the moderators.\n", id)
	return nil
}

func cmdWithdraw(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "withdraw", synopsis: "POST [--yes]", minArgs: 1, maxArgs: 1, about: `
Withdraws a post your household published: its public video is deleted
from the service and the post answers "gone" from then on. Copies people
saved before cannot be called back. The withdrawal is in your audit log.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to confirm")
	rest, err := m.parse(fs, spec, postFirst(args))
	if err != nil {
		return err
	}
	id := rest[0]
	if !seal.ValidID(id) {
		return usagef(spec.name, "%q is not a post id (see `porchlight feed mine`)", clean(id))
	}
	sess, c, err := m.openSession()
	if err != nil {
		return err
	}
	if sess.HouseholdID == "" {
		return fmt.Errorf("%s is a staff account: it has no household, so no posts", sess.Email)
	}
	p, err := c.c.FeedPost(ctx, id)
	if err != nil {
		return feedExplain(c, "fetch post "+id, err)
	}
	if !p.Mine {
		return fmt.Errorf("post %s is not your household's: only its poster can withdraw it (report it with `porchlight feed report %s --reason TEXT`)", id, id)
	}
	if !*yes && !m.confirm(fmt.Sprintf("Withdraw %q? Its video is deleted from the service.", clean(p.Title))) {
		return fmt.Errorf("not withdrawn")
	}
	if _, err := c.c.Withdraw(ctx, id); err != nil {
		return feedExplain(c, "withdraw post "+id, err)
	}
	fmt.Fprintf(m.Stdout, "Withdrew post %s; its video is deleted from the service.\n", id)
	return nil
}
