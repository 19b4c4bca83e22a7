package conf_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porchlight/porchlight/internal/conf"
)

func TestDecodeFile(t *testing.T) {
	type cfg struct {
		Listen string `toml:"listen"`
		Max    int    `toml:"max"`
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body, wantErr string
		want                cfg
	}{
		{"defaults kept", ``, "", cfg{"a", 1}},
		{"override", "listen = \"b\"\nmax = 3\n", "", cfg{"b", 3}},
		{"unknown key", "listen = \"b\"\nlisten_addr = \"c\"\n", "unknown keys: listen_addr", cfg{}},
		{"wrong type", "max = \"x\"\n", "config", cfg{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			got := cfg{"a", 1}
			err := conf.DecodeFile(p, &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if err := conf.DecodeFile(filepath.Join(dir, "missing.toml"), &struct{}{}); err == nil {
		t.Fatal("missing file decoded")
	}
}
