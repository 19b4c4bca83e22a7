package eval

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/porchlight/porchlight/internal/detect"
)

// DefaultClips are the clips `porchlight-hub eval` runs without --clip.
var DefaultClips = []string{
	"/usr/share/doc/opencv-doc/examples/data/tree.avi",
	"/usr/share/doc/opencv-doc/examples/data/vtest.avi",
}

type clipList []string

func (c *clipList) String() string     { return strings.Join(*c, ",") }
func (c *clipList) Set(v string) error { *c = append(*c, v); return nil }

// Command is `porchlight-hub eval [--labels FILE | --coco DIR] [--clip FILE]…
// [--assets DIR] [--min-score S]`: it prints the per-class table over the
// labelled images and the alerts on each clip. It returns the exit code.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porchlight-hub eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	labels := fs.String("labels", defaultLabels(), "labelled images (JSON; see testdata/detect/README.md)")
	assets := fs.String("assets", "", "model assets directory (default: $PORCHLIGHT_ASSETS or the repository's .assets)")
	minScore := fs.Float64("min-score", 0, "detector score threshold (default: the detector's, 0.4)")
	coco := fs.String("coco", "", "evaluate on a COCO dataset `DIR` (annotations.json + images/, as `porchlight dataset export` writes) instead of --labels; clips only if --clip is given")
	var clips clipList
	fs.Var(&clips, "clip", "a video clip to run the whole chain over (repeatable; default: opencv-doc's tree.avi and vtest.avi)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: porchlight-hub eval [--labels FILE | --coco DIR] [--clip FILE]… [--assets DIR] [--min-score S]")
		fmt.Fprintln(stderr, "Runs the detector over labelled images (per-class precision, recall, false alerts) and clips (alerts).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(clips) == 0 && *coco == "" {
		clips = DefaultClips
	}
	det, err := detect.Open(detect.Config{Dir: *assets, MinScore: float32(*minScore)})
	if err != nil {
		fmt.Fprintln(stderr, "porchlight-hub eval:", err)
		return 1
	}
	defer det.Close()
	source := *labels
	var l *Labels
	if *coco != "" {
		source = *coco
		l, err = LoadCOCO(*coco)
	} else {
		l, err = LoadLabels(*labels)
	}
	if err != nil {
		fmt.Fprintln(stderr, "porchlight-hub eval:", err)
		return 1
	}
	res, err := Images(det, l)
	if err != nil {
		fmt.Fprintln(stderr, "porchlight-hub eval:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Images (%s):\n", source)
	FormatImages(stdout, res)
	if len(clips) > 0 {
		fmt.Fprintln(stdout, "\nClips (motion → detector → tracker, 5 fps, 320 px):")
	}
	for _, c := range clips {
		r, err := Clip(ctx, det, c, ClipConfig{})
		if err != nil {
			fmt.Fprintln(stderr, "porchlight-hub eval:", err)
			return 1
		}
		FormatClip(stdout, filepath.Base(c), r)
	}
	return 0
}

// defaultLabels finds testdata/detect/labels.json above the working
// directory (the repository), else returns the relative path.
func defaultLabels() string {
	dir, err := os.Getwd()
	for err == nil {
		p := filepath.Join(dir, "testdata", "detect", "labels.json")
		if _, serr := os.Stat(p); serr == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return filepath.Join("testdata", "detect", "labels.json")
}
