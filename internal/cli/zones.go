package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// zonesFile is what `cameras zones --set` reads (and `--json` prints).
type zonesFile struct {
	Zones []seal.SettingsZone `json:"zones"`
}

func cmdCamerasZones(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "cameras zones", synopsis: "[--set FILE | --clear] [--json] NAME", minArgs: 1, maxArgs: 1, about: `
Shows or sets where a camera alerts. Zones are polygons in frame
coordinates (0..1, x right, y down) with the classes that alert in them;
an object is in a zone when the bottom centre of its box is. FILE (or - for
standard input) is JSON: {"zones":[{"name":"path","points":[[0,0.5],[1,0.5],
[1,1],[0,1]],"classes":["person"]}]}. --clear alerts everywhere again.
This device signs the zones and seals them to the camera's hub and your
owner devices: the service cannot read or change them, and the hub applies
only zones an owner device signed. The web app draws them on a snapshot.`}
	fs := m.flags(spec.name)
	set := fs.String("set", "", "set the zones from this JSON file (- for standard input)")
	clear := fs.Bool("clear", false, "remove every zone: objects alert anywhere in the frame")
	asJSON := fs.Bool("json", false, "print the zones as JSON (the --set format)")
	rest, err := m.parse(fs, spec, args)
	if err != nil {
		return err
	}
	if *set != "" && *clear {
		return usagef(spec.name, "give --set or --clear, not both")
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if err := h.requireOwner("set a camera's zones"); err != nil {
		return err
	}
	c, err := h.camera(ctx, rest[0])
	if err != nil {
		return err
	}
	cur, err := h.cameraSettings(ctx, c)
	if err != nil {
		return err
	}
	if *set == "" && !*clear {
		if *asJSON {
			zf := zonesFile{Zones: []seal.SettingsZone{}}
			if cur != nil {
				zf.Zones = cur.Zones
			}
			return json.NewEncoder(m.Stdout).Encode(zf)
		}
		printZones(m, c, cur)
		return nil
	}
	var zf zonesFile
	if *set != "" {
		var b []byte
		if *set == "-" {
			b, err = readAllLimited(m.in, seal.MaxSettings)
		} else {
			b, err = os.ReadFile(*set)
		}
		if err != nil {
			return fmt.Errorf("read zones: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&zf); err != nil {
			return fmt.Errorf("zones file %s: %v (see porchlight cameras zones --help for the format)", *set, err)
		}
	}
	next := seal.CameraSettings{Household: h.roster.Household, Camera: c.ID, Version: 1, Zones: zf.Zones, Created: time.Now().UTC()}
	if next.Zones == nil {
		next.Zones = []seal.SettingsZone{}
	}
	if cur != nil {
		next.Version = cur.Version + 1
	}
	if err := next.Check(); err != nil {
		return err
	}
	to, err := h.settingsRecipients(c)
	if err != nil {
		return err
	}
	sealed, err := seal.SealCameraSettings(h.dev.Sign, next, to...)
	if err != nil {
		return err
	}
	err = h.conn.c.PutCameraSettings(ctx, c.ID, api.CameraSettings{Version: next.Version, Sealed: sealed})
	if apiclient.IsStatus(err, http.StatusConflict) {
		return errors.New("another device changed this camera's zones meanwhile: run the command again")
	}
	if err != nil {
		return h.conn.explain("set zones", err)
	}
	fmt.Fprintf(m.Stdout, "Camera %s: zones version %d signed and stored; the hub applies them within seconds.\n", clean(c.Name), next.Version)
	printZones(m, c, &next)
	return nil
}

func printZones(m *Main, c *camera, s *seal.CameraSettings) {
	if s == nil {
		fmt.Fprintf(m.Stdout, "Camera %s has no zones set from a device: its hub uses the zones in its configuration file (the whole frame if none).\n", clean(c.Name))
		return
	}
	if len(s.Zones) == 0 {
		fmt.Fprintf(m.Stdout, "Camera %s (zones version %d): no zones, objects alert anywhere in the frame.\n", clean(c.Name), s.Version)
		return
	}
	fmt.Fprintf(m.Stdout, "Camera %s (zones version %d):\n", clean(c.Name), s.Version)
	for _, z := range s.Zones {
		pts := make([]string, len(z.Points))
		for i, p := range z.Points {
			pts[i] = fmt.Sprintf("%.3g,%.3g", p[0], p[1])
		}
		fmt.Fprintf(m.Stdout, "  %-16s %-22s %s\n", clean(z.Name), strings.Join(z.Classes, ","), strings.Join(pts, " "))
	}
}

// cameraSettings fetches, opens and verifies a camera's settings; nil if
// none were set.
func (h *household) cameraSettings(ctx context.Context, c *camera) (*seal.CameraSettings, error) {
	cs, err := h.conn.c.CameraSettings(ctx, c.ID)
	if apiclient.IsStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, h.conn.explain("fetch zones", err)
	}
	pt, err := keys.Decrypt(cs.Sealed, h.dev.KEM)
	if err != nil {
		return nil, fmt.Errorf("camera %s: the stored zones do not open with this device's key (they were sealed before it was added; set them again): %w", clean(c.Name), err)
	}
	s, err := seal.VerifyCameraSettings(pt, h.roster.OwnerSigners(), h.roster.Household, c.ID)
	if err != nil {
		return nil, fmt.Errorf("camera %s: the stored zones are not signed by an owner device of your roster: %w", clean(c.Name), err)
	}
	if s.Version != cs.Version {
		return nil, fmt.Errorf("camera %s: the service labels the zones version %d, but they say %d", clean(c.Name), cs.Version, s.Version)
	}
	return s, nil
}

// settingsRecipients are the camera's hub and every owner device.
func (h *household) settingsRecipients(c *camera) ([]age.Recipient, error) {
	hub := h.roster.Entry(c.HubID)
	if hub == nil || hub.Kind != seal.KindHub {
		return nil, fmt.Errorf("camera %s: its hub is not in your roster", clean(c.Name))
	}
	var to []age.Recipient
	for _, e := range append([]seal.RosterEntry{*hub}, h.roster.Owners()...) {
		r, err := seal.ParseRecipient(e.KEM)
		if err != nil {
			return nil, fmt.Errorf("roster entry %s: %w", e.ID, err)
		}
		to = append(to, r)
	}
	return to, nil
}

// readAllLimited reads r to the end, refusing more than limit bytes.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return b, nil
}
