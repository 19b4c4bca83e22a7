package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/segment"
)

// maxExport bounds the ciphertext one export holds in memory: segments are
// joined in memory (segment.Concat), so a longer range must be split.
const maxExport = 2 << 30

// downloadWorkers is how many segments are fetched at once.
const downloadWorkers = 4

func cmdExport(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "export", synopsis: "--camera NAME --from T [--to T] -o FILE|-\n       porchlight export --event ID [--since T] -o FILE|-\n       porchlight export --grant ID [--from T] [--to T] -o FILE|-", about: `
Downloads a camera's segments that overlap [--from, --to], verifies each
against its hub-signed manifest (SHA-256 of the ciphertext) and its sealed
header, decrypts them on this device and joins them into one MP4. The export
has segment granularity: it starts at the beginning of the first segment that
overlaps --from and ends with the last that overlaps --to (segments are 2–6 s).
Holes in the recording are reported on stderr and closed in the file.

With --event, it exports the video around a camera event (see
` + "`porchlight events`" + `): from 5 s before the event starts to 5 s after it
ends, or to 30 s after its start while it goes on or for a moment such as
a doorbell press. The event is looked for among the last 30 days (--since
to look further back).

With --grant (support accounts), it exports what an owner's approved grant
allows: the grant's camera within its window (the default range), with the
keys the owner released to this request's key, made on this device by
` + "`porchlight support request`" + `. The signed grant, every epoch key and
every manifest are verified first.

The file is written beside FILE under a temporary name and renamed when
complete, so a failed export never leaves a partial file; -o - writes to
standard output. Any verification failure stops the export.

` + timeHelp}
	fs := m.flags(spec.name)
	camName := fs.String("camera", "", "camera `NAME` (or id)")
	grantID := fs.String("grant", "", "export under the support grant `ID` instead (support accounts)")
	eventID := fs.String("event", "", "export the video around the camera event `ID` instead")
	sinceS := fs.String("since", "", "with --event: look for the event from `T` (default -30d)")
	fromS := fs.String("from", "", "start `T` (required, except with --grant: the grant's start)")
	toS := fs.String("to", "", "end `T` (default: now; with --grant: the grant's end)")
	out := fs.String("o", "", "output `FILE`, or - for standard output")
	progress := fs.Bool("progress", false, "show the progress bar even when stderr is not a terminal")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *eventID != "" {
		switch {
		case *grantID != "" || *camName != "" || *fromS != "" || *toS != "":
			return usagef(spec.name, "--event does not go with --camera, --grant, --from or --to: the event names its camera and time")
		case *out == "":
			return usagef(spec.name, "-o FILE is required (-o - writes to standard output)")
		}
		if err := m.checkOutput(spec.name, *out); err != nil {
			return err
		}
		return m.exportEvent(ctx, spec.name, *eventID, *sinceS, *out, *progress)
	}
	if *sinceS != "" {
		return usagef(spec.name, "--since is for --event: use --from")
	}
	switch {
	case *grantID != "" && *camName != "":
		return usagef(spec.name, "--grant and --camera do not go together: a grant names its camera")
	case *grantID == "" && *camName == "":
		return usagef(spec.name, "--camera is required (see `porchlight cameras`)")
	case *grantID == "" && *fromS == "":
		return usagef(spec.name, "--from is required: %s", timeSyntax)
	case *out == "":
		return usagef(spec.name, "-o FILE is required (-o - writes to standard output)")
	}
	if *grantID != "" {
		if err := m.checkOutput(spec.name, *out); err != nil {
			return err
		}
		return m.exportGrant(ctx, spec.name, *grantID, *fromS, *toS, *out, *progress)
	}
	from, to, err := parseRange(*fromS, *toS, m.Now(), m.loc, 0)
	if err != nil {
		return usagef(spec.name, "%v", err)
	}
	if err := m.checkOutput(spec.name, *out); err != nil {
		return err
	}
	h, c, segs, err := m.cameraSegments(ctx, *camName, from, to)
	if err != nil {
		return err
	}
	name := clean(c.Name)
	if len(segs) == 0 {
		return fmt.Errorf("no recordings of %s between %s and %s (see `porchlight recordings --camera %s`)",
			name, m.when(from), m.when(to), name)
	}
	return m.writeExport(ctx, h.source(c), name, segs, from, to, *out, *progress)
}

// checkOutput refuses an -o that cannot take the export.
func (m *Main) checkOutput(cmd, out string) error {
	if out == "-" {
		if _, tty := terminalFd(m.Stdout); tty {
			return usagef(cmd, "-o - would write video to your terminal: redirect standard output, or use -o FILE")
		}
		return nil
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("-o %s is a directory: name the file to write", out)
	}
	return nil
}

// writeExport downloads, verifies and decrypts segs from src and writes
// them joined to out, reporting gaps in [from, to] and a summary on stderr.
func (m *Main) writeExport(ctx context.Context, src segSource, name string, segs []segRef, from, to time.Time, out string, progress bool) error {
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	if total > maxExport {
		return fmt.Errorf("the range holds %s of video, more than one export handles (%s): export a shorter range", formatBytes(total), formatBytes(maxExport))
	}
	for _, g := range gaps(spans(segs), from, to) {
		fmt.Fprintf(m.Stderr, "gap %s: no recording\n", formatGap(g.Start, g.End, m.loc))
	}

	bar := newProgress(m.Stderr, progress, len(segs), total)
	media, err := fetchSegments(ctx, src, segs, bar)
	bar.done()
	if err != nil {
		return err
	}

	var size int64
	if out == "-" {
		cw := &countWriter{w: m.Stdout}
		bw := bufio.NewWriterSize(cw, 1<<20)
		if err := concat(bw, media, segs); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write to standard output: %w", err)
		}
		size = cw.n
	} else if size, err = writeAtomic(out, func(w io.Writer) error { return concat(w, media, segs) }); err != nil {
		return err
	}
	first, last := segs[0], segs[len(segs)-1]
	dest := out
	if dest == "-" {
		dest = "standard output"
	}
	var video time.Duration
	for _, s := range segs {
		video += time.Duration(s.DurationMS) * time.Millisecond
	}
	fmt.Fprintf(m.Stderr, "Exported %s: %s, %s of video recorded %s, %s to %s\n", name, plural(len(segs), "segment"),
		formatDuration(video), formatSpan(first.Start, last.End(), m.loc), formatBytes(size), dest)
	return nil
}

// concat joins the decrypted segments, naming where codec parameters change.
func concat(w io.Writer, media [][]byte, segs []segRef) error {
	err := segment.Concat(w, media)
	if errors.Is(err, segment.ErrCodecMismatch) {
		return fmt.Errorf("the camera changed codec or resolution inside the range (%v): export the parts before and after the change separately", err)
	}
	if err != nil {
		return fmt.Errorf("join %d segments (from segment %s): %w", len(segs), segs[0].ID, err)
	}
	return nil
}

// segSource is where an export's segments come from and what their sealed
// headers must name: the owner's household, or a support grant.
type segSource struct {
	conn              *conn
	household, camera string
	// key returns the verified key of an epoch.
	key func(ctx context.Context, epoch string) (*age.HybridIdentity, error)
	// open opens a segment's ciphertext.
	open func(ctx context.Context, id string) (io.ReadCloser, error)
}

// source is the household's own copy of camera c.
func (h *household) source(c *camera) segSource {
	return segSource{
		conn:      h.conn,
		household: h.roster.Household,
		camera:    c.ID,
		key:       func(ctx context.Context, epoch string) (*age.HybridIdentity, error) { return h.epochKey(ctx, c, epoch) },
		open: func(ctx context.Context, id string) (io.ReadCloser, error) {
			rc, _, err := h.conn.c.ObjectReader(ctx, id)
			return rc, err
		},
	}
}

// fetchSegments downloads, verifies and decrypts segments, in order.
func (h *household) fetchSegments(ctx context.Context, c *camera, segs []segRef, bar *progress) ([][]byte, error) {
	return fetchSegments(ctx, h.source(c), segs, bar)
}

// fetchSegments downloads, verifies and decrypts segments from src, in
// order.
func fetchSegments(ctx context.Context, src segSource, segs []segRef, bar *progress) ([][]byte, error) {
	// Unwrap every epoch key first (sequentially: it fills caches).
	keys := map[string]*age.HybridIdentity{}
	for _, s := range segs {
		if _, ok := keys[s.Epoch]; ok {
			continue
		}
		k, err := src.key(ctx, s.Epoch)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.ID, err)
		}
		keys[s.Epoch] = k
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	media := make([][]byte, len(segs))
	errs := make([]error, len(segs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(downloadWorkers, len(segs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				media[i], errs[i] = fetchSegment(ctx, src, keys[segs[i].Epoch], segs[i], bar)
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range segs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	// Report the first failure in order, not a cancellation it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return media, nil
}

// fetchSegment downloads one segment and checks it: size and SHA-256 of the
// ciphertext against the manifest, then the sealed header against the
// manifest entry. It returns the fMP4 media.
func fetchSegment(ctx context.Context, src segSource, key *age.HybridIdentity, s segRef, bar *progress) ([]byte, error) {
	rc, err := src.open(ctx, s.ID)
	if err != nil {
		return nil, src.conn.explain(fmt.Sprintf("download segment %s", s.ID), err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(s.Size))
	sum := sha256.New()
	// Read at most one byte more than the manifest says, to detect a longer object.
	_, err = io.Copy(io.MultiWriter(&buf, sum, bar.bytesWriter()), io.LimitReader(rc, s.Size+1))
	if err != nil {
		return nil, src.conn.explain(fmt.Sprintf("download segment %s", s.ID), err)
	}
	if int64(buf.Len()) != s.Size {
		return nil, fmt.Errorf("segment %s (seq %d): the service sent %d bytes, its manifest %s lists %d: refusing it", s.ID, s.Seq, buf.Len(), s.Manifest, s.Size)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != s.SHA256 {
		return nil, fmt.Errorf("segment %s (seq %d): SHA-256 of the ciphertext is %s, its manifest %s lists %s: the object was altered or swapped; refusing it", s.ID, s.Seq, got, s.Manifest, s.SHA256)
	}
	hdr, media, err := keys.OpenSegment(buf.Bytes(), key)
	if err != nil {
		return nil, fmt.Errorf("segment %s (seq %d): does not decrypt with the key of epoch %s: %w", s.ID, s.Seq, s.Epoch, err)
	}
	switch {
	case hdr.Household != src.household, hdr.Camera != src.camera, hdr.Epoch != s.Epoch:
		return nil, fmt.Errorf("segment %s (seq %d): its sealed header names household %s, camera %s, epoch %s, not the manifest's: refusing it", s.ID, s.Seq, hdr.Household, hdr.Camera, hdr.Epoch)
	case hdr.Seq != s.Seq, !hdr.Start.Equal(s.Start), hdr.DurationMS != s.DurationMS, hdr.Codec != s.Codec, hdr.Frames != s.Frames:
		return nil, fmt.Errorf("segment %s: its sealed header (seq %d, start %s, %d ms, %d frames, %s) does not match manifest %s (seq %d, start %s, %d ms, %d frames, %s): refusing it",
			s.ID, hdr.Seq, hdr.Start.Format("15:04:05.000"), hdr.DurationMS, hdr.Frames, hdr.Codec,
			s.Manifest, s.Seq, s.Start.Format("15:04:05.000"), s.DurationMS, s.Frames, s.Codec)
	}
	bar.segmentDone()
	return media, nil
}

// writeAtomic writes a file through a temporary file beside it, renamed
// over path only when write succeeded; it returns the bytes written.
func writeAtomic(path string, write func(io.Writer) error) (int64, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.part")
	if err != nil {
		return 0, fmt.Errorf("create the output file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	cw := &countWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if err := write(bw); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
