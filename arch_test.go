package porchlight_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath string
	Name       string
	Doc        string
	Deps       []string
	GoFiles    []string
}

func goList(t *testing.T, args ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestPackageDocs fails on any package without a package doc comment.
func TestPackageDocs(t *testing.T) {
	for _, p := range goList(t, "./...") {
		if len(p.GoFiles) == 0 {
			continue
		}
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command "
		}
		if !strings.HasPrefix(p.Doc, want) {
			t.Errorf("%s: package doc is %q; start it with %q and say what the package is for", p.ImportPath, p.Doc, want)
		}
	}
}

const mod = "github.com/porchlight/porchlight/"

// rules: which packages a program or package must never depend on.
var rules = []struct {
	pkg       string
	forbidden []string
	why       string
}{
	{"./cmd/porchlightd", []string{mod + "internal/keys", mod + "internal/cli", mod + "internal/hub"},
		"the service never holds client key code: it is trusted with availability, never confidentiality"},
	{"./cmd/porchlight-hub", []string{mod + "internal/store", mod + "internal/httpapi", mod + "internal/server", mod + "internal/blob"},
		"the hub talks to the service only over its API"},
	{"./internal/store/sqlite", []string{mod + "internal/store/postgres"}, "backends share a conformance suite, not code"},
	{"./internal/store/postgres", []string{mod + "internal/store/sqlite"}, "backends share a conformance suite, not code"},
}

func TestDependencyRules(t *testing.T) {
	for _, r := range rules {
		pkgs := goList(t, "-e", r.pkg)
		if len(pkgs) == 0 || len(pkgs[0].GoFiles) == 0 {
			continue // not written yet
		}
		for _, dep := range pkgs[0].Deps {
			for _, f := range r.forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s imports %s: %s", r.pkg, dep, r.why)
				}
			}
		}
	}
}

// TestServiceBinaryHasNoDecryption builds porchlightd and lists its symbols:
// no age decryption and no identity unwrapping may be linked in. Encrypting
// to owners' public keys is allowed.
func TestServiceBinaryHasNoDecryption(t *testing.T) {
	if pkgs := goList(t, "-e", "./cmd/porchlightd"); len(pkgs) == 0 || len(pkgs[0].GoFiles) == 0 {
		t.Skip("cmd/porchlightd not written yet")
	}
	bin := filepath.Join(t.TempDir(), "porchlightd")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/porchlightd").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	forbidden := []string{
		"filippo.io/age.Decrypt",
		"filippo.io/age.DecryptReaderAt",
		"filippo.io/age.DecryptHeader",
		"filippo.io/age.(*HybridIdentity).Unwrap",
		"filippo.io/age.(*X25519Identity).Unwrap",
		"filippo.io/age.(*ScryptIdentity).Unwrap",
		"filippo.io/age.ParseIdentities",
		"filippo.io/age.GenerateHybridIdentity",
		mod + "internal/keys.",
	}
	var found []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sawAge := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		sym := f[len(f)-1]
		if strings.HasPrefix(sym, "filippo.io/age.") {
			sawAge = true
		}
		for _, bad := range forbidden {
			if strings.HasPrefix(sym, bad) && !slices.Contains(found, sym) {
				found = append(found, sym)
			}
		}
	}
	if !sawAge {
		t.Fatal("no filippo.io/age symbol at all: the symbol scan is not looking at the right thing")
	}
	if len(found) > 0 {
		t.Errorf("porchlightd links decryption code:\n  %s", strings.Join(found, "\n  "))
	}
}
