package cli

// Publishing to the neighbours feed: a deliberate declassification done on
// this owner device. The hub redacts the clip (faces and people other than
// the subject blurred, audio and metadata stripped, re-encoded) and seals
// the result to this device only (redact.go); this device writes the
// preview, asks to publish exactly that file, signs a seal.Publication of
// its SHA-256 and size with a title, category, neighbourhood cell and a
// pseudonym made for this post, and uploads record and file. Coordinates
// are turned into the cell here and never sent.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// publishOptions is what the owner chose for a post.
type publishOptions struct {
	title, category, cell string
	preview               string // where the preview goes; "" for a temporary file
	yes                   bool
}

func cmdPublish(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "publish", synopsis: "(--event ID | --camera NAME --from T --to T) --title TEXT --category CAT (--near CELL | --lat DEG --lon DEG) [-o preview.mp4] [--yes]", about: `
Publishes a clip to the neighbours feed. Your hub makes a redacted copy:
trimmed to the clip, faces and people other than the event's subject
blurred (with --camera: every person), audio and metadata stripped,
re-encoded. Only this device can open it. It is written to -o (default: a
file in the temporary directory) for you to watch; then you are asked to
publish exactly that file, and this device signs a record of its SHA-256.
The service publishes nothing without that signature.

The post shows the title, the category (safety, suspicious, lost_pet,
crime, other), the time and a neighbourhood cell (a 6-character geohash,
about 1.2 × 0.6 km), under a pseudonym made for this post alone. --lat and
--lon are turned into the cell on this device and never sent. Withdraw it
with ` + "`porchlight withdraw POST`" + `. Every step is in your audit log.

` + timeHelp}
	fs := m.flags(spec.name)
	eventID := fs.String("event", "", "publish the clip around the camera event `ID` (see `porchlight events`)")
	camName := fs.String("camera", "", "camera `NAME` (or id), with --from and --to")
	fromS := fs.String("from", "", "start `T`")
	toS := fs.String("to", "", "end `T`")
	title := fs.String("title", "", "the post's title (required)")
	category := fs.String("category", "", "one of "+strings.Join(seal.Categories, ", ")+" (required)")
	loc := m.locationFlags(fs)
	out := fs.String("o", "", "write the preview to `FILE`")
	yes := fs.Bool("yes", false, "publish without asking (after writing the preview)")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	var clip clipSpec
	switch {
	case *eventID != "" && (*camName != "" || *fromS != "" || *toS != ""):
		return usagef(spec.name, "--event does not go with --camera, --from or --to: the event names its camera and time")
	case *eventID != "":
		if !seal.ValidID(*eventID) {
			return usagef(spec.name, "%q is not an event id (see `porchlight events`)", clean(*eventID))
		}
		clip.Event = *eventID
	case *camName == "":
		return usagef(spec.name, "say what to publish: --event ID, or --camera NAME --from T --to T")
	case *fromS == "" || *toS == "":
		return usagef(spec.name, "--camera needs --from and --to: %s", timeSyntax)
	default:
		from, to, err := parseRange(*fromS, *toS, m.Now(), m.loc, 0)
		if err != nil {
			return usagef(spec.name, "%v", err)
		}
		clip.Camera, clip.From, clip.To = *camName, from, to
	}
	opts := publishOptions{title: strings.TrimSpace(*title), category: strings.TrimSpace(*category), preview: *out, yes: *yes}
	if err := checkPostText(spec.name, opts); err != nil {
		return err
	}
	cell, err := loc.cell(spec.name)
	if err != nil {
		return err
	}
	opts.cell = cell
	if opts.preview != "" {
		if err := m.checkOutput(spec.name, opts.preview); err != nil {
			return err
		}
		if opts.preview == "-" {
			return usagef(spec.name, "-o needs a FILE to watch, not standard output")
		}
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("publish clips"); err != nil {
		return err
	}
	red, err := h.redact(ctx, clip, seal.PurposePublish, "", nil)
	if err != nil {
		return err
	}
	return m.publishRedacted(ctx, h, red.Job, red.Header, red.MP4, opts)
}

// checkPostText checks title and category before any work is done.
func checkPostText(cmd string, o publishOptions) error {
	if o.title == "" {
		return usagef(cmd, "--title is required: say what the clip shows, without names or addresses")
	}
	if err := seal.CheckTitle(o.title); err != nil {
		return usagef(cmd, "--title: %v", err)
	}
	if o.category == "" {
		return usagef(cmd, "--category is required: one of %s", strings.Join(seal.Categories, ", "))
	}
	if !seal.ValidCategory(o.category) {
		return usagef(cmd, "--category %q: want one of %s", clean(o.category), strings.Join(seal.Categories, ", "))
	}
	return nil
}

// publishRedacted takes a redacted clip this device opened and verified
// (job, its hub-signed header and the MP4), writes the preview, asks, signs
// the record of exactly that file and publishes it.
func (m *Main) publishRedacted(ctx context.Context, h *household, job string, hdr seal.Redaction, mp4 []byte, o publishOptions) error {
	sum := seal.SHA256Hex(mp4)
	switch {
	case hdr.Purpose != seal.PurposePublish || hdr.Job != job || hdr.Household != h.roster.Household:
		return fmt.Errorf("the redacted clip is not the one asked for (job %s, purpose %q): nothing published", clean(hdr.Job), clean(hdr.Purpose))
	case hdr.MP4SHA256 != sum:
		return fmt.Errorf("the redacted clip does not match the hash its hub signed: nothing published")
	case len(mp4) < 12 || !bytes.Equal(mp4[4:8], []byte("ftyp")):
		return fmt.Errorf("the redacted clip is not an MP4: nothing published")
	}
	preview := o.preview
	if preview == "" {
		preview = filepath.Join(os.TempDir(), "porchlight-preview-"+job+".mp4")
	}
	if err := keys.WriteFileAtomic(preview, mp4, 0o600); err != nil {
		return fmt.Errorf("write the preview %s: %w", preview, err)
	}
	w := m.Stderr
	fmt.Fprintf(w, "Preview: %s (%s", preview, formatBytes(int64(len(mp4))))
	if hdr.Frames > 0 {
		fmt.Fprintf(w, ", %d frames, %d with blurring", hdr.Frames, hdr.Blurred)
	}
	fmt.Fprintf(w, ")\n")
	fmt.Fprintf(w, "  title:     %s\n", o.title)
	fmt.Fprintf(w, "  category:  %s\n", categoryNames[o.category])
	fmt.Fprintf(w, "  where:     neighbourhood cell %s (about 1.2 × 0.6 km)\n", o.cell)
	fmt.Fprintf(w, "  sha256:    %s\n", sum)
	fmt.Fprintln(w, "Every account of the service can watch and save a published clip; withdrawing it later cannot call back copies.")
	if !o.yes && !m.confirm("Publish exactly this file?") {
		return fmt.Errorf("not published (the preview stays at %s)", preview)
	}
	p := seal.Publication{ID: seal.NewID(), Household: h.roster.Household, SHA256: sum, Size: int64(len(mp4)), Title: o.title,
		Category: o.category, Cell: o.cell, Pseudonym: seal.NewPseudonym(), Job: job, Created: m.Now().UTC().Truncate(time.Second)}
	record, err := seal.SignPublication(h.dev.Sign, p)
	if err != nil {
		return fmt.Errorf("sign the publication: %w", err)
	}
	post, err := h.conn.c.Publish(ctx, record, mp4)
	if err != nil {
		return h.conn.explain("publish", err)
	}
	if post.ID != p.ID || post.SHA256 != sum {
		return fmt.Errorf("the service answered with another post (%s) than the one signed (%s): check `porchlight feed mine`", clean(post.ID), p.ID)
	}
	fmt.Fprintf(m.Stdout, "Published post %s as %q in cell %s.\n", p.ID, p.Pseudonym, p.Cell)
	fmt.Fprintf(m.Stdout, "Withdraw it with: porchlight withdraw %s\n", p.ID)
	return nil
}
