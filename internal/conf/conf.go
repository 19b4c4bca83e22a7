// Package conf decodes Porchlight's TOML configuration files strictly: an
// unknown key is an error that names it, so a typo never silently falls
// back to a default. Defaults, environment and validation stay with each
// program's Main type.
package conf

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// DecodeFile decodes the TOML file at path over v (which holds the
// defaults). Unknown keys are an error listing them.
func DecodeFile(path string, v any) error {
	md, err := toml.DecodeFile(path, v)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return nil
}
