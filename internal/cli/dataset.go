package cli

// Dataset export, the annotating organisation's side: an annotator's
// session lists its campaign's copies (the service lists only unwithdrawn,
// unexpired ones), downloads each, opens it with the campaign key on this
// machine, extracts the labelled frames as JPEG and writes a COCO dataset
// whose every image and annotation carries its consent id. Plaintext
// exists only here and in DIR.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // frame sizes
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// cocoCategories are the dataset's categories, in id order (1, 2, 3).
var cocoCategories = []string{"person", "animal", "vehicle"}

// cocoFile is DIR/annotations.json (COCO object detection, with
// Porchlight's consent_id on every image and annotation).
type cocoFile struct {
	Info        cocoInfo         `json:"info"`
	Images      []cocoImage      `json:"images"`
	Annotations []cocoAnnotation `json:"annotations"`
	Categories  []cocoCategory   `json:"categories"`
}

type cocoInfo struct {
	Description string    `json:"description"`
	Campaign    string    `json:"campaign"`
	Purpose     string    `json:"purpose"`
	Org         string    `json:"org"`
	Created     time.Time `json:"date_created"`
}

type cocoImage struct {
	ID        int    `json:"id"`
	FileName  string `json:"file_name"` // under images/
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	ConsentID string `json:"consent_id"`
	TMS       int64  `json:"t_ms"`
}

type cocoAnnotation struct {
	ID         int        `json:"id"`
	ImageID    int        `json:"image_id"`
	CategoryID int        `json:"category_id"`
	BBox       [4]float64 `json:"bbox"` // x, y, width, height in pixels
	Area       float64    `json:"area"`
	IsCrowd    int        `json:"iscrowd"`
	ConsentID  string     `json:"consent_id"`
}

type cocoCategory struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// datasetSource is what the export needs from the service (an annotator's
// *apiclient.Client).
type datasetSource interface {
	AnnotateCampaigns(ctx context.Context) ([]api.Campaign, error)
	AnnotateTasks(ctx context.Context, campaign string) ([]api.Task, error)
	TaskMedia(ctx context.Context, task string) ([]byte, error)
}

func cmdDatasetExport(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "dataset export", synopsis: "--campaign ID --key FILE -o DIR", about: `
Annotators: writes a campaign's labelled frames as a COCO dataset:
DIR/annotations.json (images, annotations and the categories person,
animal, vehicle; every image and annotation carries the consent id of the
clip it came from) and DIR/images/*.jpg. Only copies whose owners have not
withdrawn and whose retention has not run out are exported; each is opened
with the campaign key (FILE, from ` + "`porchlight campaign key`" + `) on this
machine. DIR must be new or empty, so nothing of an earlier export — a
clip withdrawn since — is mixed in. ` + "`porchlight-hub eval --coco DIR`" + `
evaluates the detector on it.`}
	fs := m.flags(spec.name)
	campaign := fs.String("campaign", "", "the campaign `ID`")
	keyFile := fs.String("key", "", "the campaign key `FILE`")
	out := fs.String("o", "", "write the dataset to `DIR`")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	switch {
	case !seal.ValidID(*campaign):
		return usagef(spec.name, "--campaign ID is required (see the web tool or GET /v1/annotate/campaigns)")
	case *keyFile == "":
		return usagef(spec.name, "--key FILE is required")
	case *out == "":
		return usagef(spec.name, "-o DIR is required")
	}
	key, err := loadCampaignKey(*keyFile)
	if err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	st, err := exportDataset(ctx, c.c, *campaign, key, *out, m.Stderr, m.Now())
	if err != nil {
		return c.explain("export the dataset", err)
	}
	fmt.Fprintf(m.Stdout, "Wrote %d images with %d boxes from %d consented clips to %s.\n", st.images, st.boxes, st.clips, *out)
	return nil
}

type datasetStats struct{ clips, images, boxes int }

// exportDataset writes the COCO dataset of one campaign to dir.
func exportDataset(ctx context.Context, src datasetSource, campaignID string, key *age.HybridIdentity, dir string, log io.Writer, now time.Time) (datasetStats, error) {
	var st datasetStats
	if err := emptyDir(dir); err != nil {
		return st, err
	}
	camps, err := src.AnnotateCampaigns(ctx)
	if err != nil {
		return st, err
	}
	i := slices.IndexFunc(camps, func(c api.Campaign) bool { return c.ID == campaignID })
	if i < 0 {
		return st, fmt.Errorf("campaign %s is not one of your organisation's", campaignID)
	}
	camp := camps[i]
	if camp.Recipient != key.Recipient().String() {
		return st, fmt.Errorf("this key is not campaign %s's: its copies are sealed to %s", camp.ID, camp.Recipient)
	}
	tasks, err := src.AnnotateTasks(ctx, camp.ID)
	if err != nil {
		return st, err
	}
	imgDir := filepath.Join(dir, "images")
	if err := os.MkdirAll(imgDir, 0o700); err != nil {
		return st, err
	}
	coco := cocoFile{Info: cocoInfo{Description: "Porchlight annotation campaign export: consented, unwithdrawn clips only",
		Campaign: camp.ID, Purpose: camp.Purpose, Org: camp.Org, Created: now.UTC()},
		Images: []cocoImage{}, Annotations: []cocoAnnotation{}}
	for i, name := range cocoCategories {
		coco.Categories = append(coco.Categories, cocoCategory{ID: i + 1, Name: name})
	}
	for _, t := range tasks {
		if len(t.Labels) == 0 {
			continue
		}
		ct, err := src.TaskMedia(ctx, t.ID)
		if err != nil {
			return st, fmt.Errorf("download copy %s: %w", t.ID, err)
		}
		if seal.SHA256Hex(ct) != t.SHA256 {
			return st, fmt.Errorf("copy %s does not match the hash the service listed: refusing it", t.ID)
		}
		pt, err := keys.Decrypt(ct, key)
		if err != nil {
			return st, fmt.Errorf("open copy %s with the campaign key: %w", t.ID, err)
		}
		hdr, mp4, err := splitCopy(pt)
		if err != nil {
			return st, fmt.Errorf("copy %s: %w", t.ID, err)
		}
		if hdr.Campaign != camp.ID || hdr.Purpose != "donate" {
			return st, fmt.Errorf("copy %s was made for campaign %q (%s), not this one: refusing it", t.ID, hdr.Campaign, hdr.Purpose)
		}
		st.clips++
		byTime := map[int64][]api.LabelBox{}
		var times []int64
		for _, b := range t.Labels {
			if _, ok := byTime[b.TMS]; !ok {
				times = append(times, b.TMS)
			}
			byTime[b.TMS] = append(byTime[b.TMS], b)
		}
		slices.Sort(times)
		for _, tms := range times {
			name := fmt.Sprintf("%s-%08d.jpg", t.Consent, tms)
			w, h, err := extractFrame(ctx, mp4, tms, filepath.Join(imgDir, name))
			if err != nil {
				fmt.Fprintf(log, "skipped %s at %d ms: %v\n", t.Consent, tms, err)
				continue
			}
			img := cocoImage{ID: len(coco.Images) + 1, FileName: name, Width: w, Height: h, ConsentID: t.Consent, TMS: tms}
			coco.Images = append(coco.Images, img)
			st.images++
			for _, b := range byTime[tms] {
				cat := slices.Index(cocoCategories, b.Class) + 1
				if cat == 0 {
					continue
				}
				x, y := b.X0*float64(w), b.Y0*float64(h)
				bw, bh := (b.X1-b.X0)*float64(w), (b.Y1-b.Y0)*float64(h)
				coco.Annotations = append(coco.Annotations, cocoAnnotation{ID: len(coco.Annotations) + 1, ImageID: img.ID, CategoryID: cat,
					BBox: [4]float64{x, y, bw, bh}, Area: bw * bh, ConsentID: t.Consent})
				st.boxes++
			}
		}
	}
	b, err := json.MarshalIndent(coco, "", " ")
	if err != nil {
		return st, err
	}
	if err := keys.WriteFileAtomic(filepath.Join(dir, "annotations.json"), append(b, '\n'), 0o600); err != nil {
		return st, fmt.Errorf("write annotations.json: %w", err)
	}
	return st, nil
}

// emptyDir makes dir if missing and refuses one that holds anything.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return fmt.Errorf("read %s: %w", dir, err)
	case len(ents) > 0:
		return fmt.Errorf("%s is not empty: export into a new directory, so nothing of an earlier export (a clip withdrawn since) is mixed in", dir)
	}
	return nil
}

// splitCopy splits a campaign copy's plaintext (uint32 BE header length ‖
// hub-signed seal.Redaction ‖ MP4) and checks the MP4 against the header's
// hash and size. The annotator has no roster, so the hub's signature is
// not checked here; the owner's device checked it before consenting.
func splitCopy(pt []byte) (*seal.Redaction, []byte, error) {
	if len(pt) < 4 {
		return nil, nil, errors.New("truncated: not a redaction result")
	}
	n := binary.BigEndian.Uint32(pt)
	if n == 0 || int64(n) > int64(len(pt)-4) {
		return nil, nil, errors.New("malformed header length: not a redaction result")
	}
	env, err := seal.ParseSigned(pt[4:4+n], seal.TypeRedaction)
	if err != nil {
		return nil, nil, err
	}
	var h seal.Redaction
	if err := env.Decode(&h); err != nil {
		return nil, nil, err
	}
	mp4 := pt[4+n:]
	if int64(len(mp4)) != h.Size || seal.SHA256Hex(mp4) != h.MP4SHA256 {
		return nil, nil, errors.New("the MP4 does not match its header's hash and size")
	}
	return &h, mp4, nil
}

// extractFrame writes the frame at tms of mp4 as a JPEG file and returns
// its size (ffmpeg decodes; the MP4 goes through a private temp file next
// to the output).
func extractFrame(ctx context.Context, mp4 []byte, tms int64, out string) (int, int, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".clip-*.mp4")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(mp4); err != nil {
		tmp.Close()
		return 0, 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, 0, err
	}
	sec := strconv.FormatFloat(float64(tms)/1000, 'f', 3, 64)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", sec, "-i", tmp.Name(),
		"-frames:v", "1", "-q:v", "2", "-an", "-map_metadata", "-1", "-y", out)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("ffmpeg: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	f, err := os.Open(out)
	if err != nil {
		return 0, 0, fmt.Errorf("no frame at %s s (past the clip's end?)", sec)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("frame at %s s: %w", sec, err)
	}
	return cfg.Width, cfg.Height, nil
}
