package cli

// Annotation campaigns, the annotating organisation's side: its campaign
// key. The organisation makes the key on its own machine and hands only the
// printed recipient to the service's operator, who creates the campaign
// with it. Copies donated to the campaign are sealed to that recipient;
// the service never holds the private half, which `porchlight dataset
// export --key` (and the web tool) use to open them.

import (
	"context"
	"errors"
	"fmt"
	"os"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
)

func cmdCampaignKey(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "campaign key", synopsis: "-o FILE", about: `
Makes a campaign key for an annotating organisation: a post-quantum age
identity written to FILE (mode 0600, never overwritten), and prints its
recipient (age1pq1…). Give the operator only the recipient, for
` + "`porchlightd admin campaign create --recipient`" + `; keep the file with the
organisation's annotators. Whoever holds the file can open every copy
donated to the campaign; the service never sees it.`}
	fs := m.flags(spec.name)
	out := fs.String("o", "", "write the key to `FILE`")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef(spec.name, "-o FILE is required")
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("%s exists: a campaign key is never overwritten (move it away or choose another name)", *out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check %s: %w", *out, err)
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return fmt.Errorf("make the campaign key: %w", err)
	}
	body := fmt.Sprintf("# porchlight campaign key\n# recipient: %s\n%s\n", id.Recipient(), id)
	if err := keys.WriteFileAtomic(*out, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write the campaign key: %w", err)
	}
	fmt.Fprintf(m.Stderr, "Wrote the campaign key to %s (keep it secret: it opens every copy donated to the campaign).\n", *out)
	fmt.Fprintln(m.Stdout, id.Recipient())
	return nil
}

// loadCampaignKey reads a campaign key file made by `campaign key`.
func loadCampaignKey(path string) (*age.HybridIdentity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the campaign key: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a campaign key file: %w", path, err)
	}
	for _, id := range ids {
		if h, ok := id.(*age.HybridIdentity); ok {
			return h, nil
		}
	}
	return nil, fmt.Errorf("%s holds no post-quantum age identity: make campaign keys with `porchlight campaign key`", path)
}
