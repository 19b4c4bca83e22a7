package cli

// Households that share cameras with this account: the member's side. The
// member's device pins each household's root key (the signer of its roster
// version 1) when accepting the invite, covered by the authentication
// string the owner compared, and verifies the household's whole roster
// chain against it before trusting a hub key or opening a descriptor.

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

// sharedFile holds the pins of shared households.
const sharedFile = "shared.json"

// sharedPins is shared.json: household id → its pinned roster.
type sharedPins struct {
	V          int                      `json:"v"`
	Households map[string]*pinnedRoster `json:"households"`
}

func (m *Main) loadSharedPins() (*sharedPins, error) {
	var p sharedPins
	ok, err := m.readJSON(sharedFile, &p)
	if err != nil {
		return nil, err
	}
	if ok && p.V != stateVersion {
		return nil, fmt.Errorf("%s has version %d, this porchlight reads %d: upgrade porchlight", sharedFile, p.V, stateVersion)
	}
	if p.Households == nil {
		p.Households = map[string]*pinnedRoster{}
	}
	return &p, nil
}

func (m *Main) saveSharedPins(p *sharedPins) error {
	p.V = stateVersion
	return m.writeJSON(sharedFile, p)
}

// pinShared records a shared household's root key (at accept). A
// different root for a household pinned before is refused.
func (m *Main) pinShared(household string, root ed25519.PublicKey) error {
	if !seal.ValidID(household) || len(root) != ed25519.PublicKeySize {
		return errors.New("the service sent a malformed household id or root key: refusing the invite")
	}
	p, err := m.loadSharedPins()
	if err != nil {
		return err
	}
	if old := p.Households[household]; old != nil {
		if !old.Root.Equal(root) {
			return fmt.Errorf("%w: household %s was pinned to root key %s, the service now says %s; refusing it", errRosterAlarm, household, seal.KeyID(old.Root), seal.KeyID(root))
		}
		return nil
	}
	p.Households[household] = &pinnedRoster{Household: household, Root: root}
	return m.saveSharedPins(p)
}

// sharedHouseholds opens the households sharing cameras with this account
// as households whose cameras (only those in scope) are already loaded.
// A household whose roster does not verify is an error: nothing of it is
// shown.
func (m *Main) sharedHouseholds(ctx context.Context, own *household) ([]*household, []api.Shared, error) {
	list, err := own.conn.c.Shared(ctx)
	if err != nil {
		return nil, nil, own.conn.explain("list the cameras shared with you", err)
	}
	pins, err := m.loadSharedPins()
	if err != nil {
		return nil, nil, err
	}
	var out []*household
	for _, s := range list {
		pin := pins.Households[s.Household]
		if pin == nil {
			return nil, nil, fmt.Errorf("household %s shares cameras with you, but this device did not accept its invite, so it has no pinned key to verify it: accept the invite on this device", clean(s.Household))
		}
		latest, err := checkChain(pin, s.Roster)
		if err != nil {
			return nil, nil, err
		}
		if latest.Household != s.Household {
			return nil, nil, fmt.Errorf("%w: the roster served for household %s names household %s; refusing it", errRosterAlarm, clean(s.Household), clean(latest.Household))
		}
		if len(s.Roster) > len(pin.Versions) {
			pin.Versions = s.Roster
			if err := m.saveSharedPins(pins); err != nil {
				return nil, nil, err
			}
		}
		h := &household{m: m, conn: own.conn, sess: own.sess, dev: own.dev, pin: pin, chain: s.Roster, roster: latest,
			epochs: map[string]map[string]*epoch{}, keys: map[string]*age.HybridIdentity{}}
		h.cams = []*camera{}
		for _, a := range s.Cameras {
			c := &camera{Camera: a}
			c.hub, c.HubName, c.err = h.hubKey(a.HubID)
			if c.err == nil {
				c.err = h.openDescriptor(c)
			}
			h.cams = append(h.cams, c)
		}
		sort.SliceStable(h.cams, func(i, j int) bool { return h.cams[i].Name < h.cams[j].Name })
		out = append(out, h)
	}
	return out, list, nil
}

// sharedCamera finds a camera by name (or id) among the cameras shared
// with this account. ok is false if there is none or more than one.
func (m *Main) sharedCamera(ctx context.Context, own *household, name string) (*household, *camera, bool, error) {
	hs, _, err := m.sharedHouseholds(ctx, own)
	if err != nil {
		return nil, nil, false, err
	}
	var fh *household
	var fc *camera
	n := 0
	for _, h := range hs {
		if h.self() == nil {
			continue
		}
		for _, c := range h.cams {
			if c.err == nil && (c.Name == name || c.ID == name) {
				fh, fc = h, c
				n++
			}
		}
	}
	return fh, fc, n == 1, nil
}

func cmdShared(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "shared", about: `
Lists the cameras other households share with you (after
` + "`porchlight members accept`" + `), verified against each household's roster:
the household, each camera's name and when your access ends. Use
` + "`porchlight recordings`" + ` and ` + "`porchlight export`" + ` with a shared camera's name
as with your own.`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	own, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	hs, list, err := m.sharedHouseholds(ctx, own)
	if err != nil {
		return err
	}
	if len(hs) == 0 {
		fmt.Fprintln(m.Stdout, "No cameras are shared with you.")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOUSEHOLD\tCAMERAS\tEXPIRES")
	for i, h := range hs {
		var names []string
		for _, c := range h.cams {
			if c.err != nil {
				fmt.Fprintf(m.Stderr, "porchlight: warning: %v\n", c.err)
				continue
			}
			names = append(names, clean(c.Name))
		}
		if h.self() == nil {
			names = []string{"(this device is not in its roster)"}
		}
		expires := "never"
		if list[i].Expires != nil {
			expires = list[i].Expires.In(m.loc).Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", h.roster.Household, orDash(strings.Join(names, ",")), expires)
	}
	return tw.Flush()
}
