package server_test

import (
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestAdminCampaign: the operator creates a campaign over the admin socket
// with the organisation's campaign key (printing only its id) and lists it;
// mistakes are usage errors or the service's refusal.
func TestAdminCampaign(t *testing.T) {
	data := t.TempDir()
	startMain(t, data)
	env := map[string]string{"PORCHLIGHT_DATA": data}
	key, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"campaign", "create", "--purpose", "night-time people", "--classes", "person,animal", "--retention", "90d",
		"--org", "Labelling Ltd", "--country", "de", "--recipient", key.Recipient().String()}
	code, out, errOut := admin(t, env, "", args...)
	if code != 0 || !seal.ValidID(strings.TrimSpace(out)) {
		t.Fatalf("campaign create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	id := strings.TrimSpace(out)
	code, out, errOut = admin(t, env, "", "campaign", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Labelling Ltd") || !strings.Contains(out, "DE") || !strings.Contains(out, "90d") {
		t.Errorf("campaign list: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		edit []string // flag, value
		code int
		want string
	}{
		{[]string{"--retention", "soon"}, 2, "want a number of days"},
		{[]string{"--org", ""}, 2, "--org is required"},
		{[]string{"--classes", "face"}, 1, `class "face" is not one of`},
		{[]string{"--recipient", key.String()}, 1, "recipient must be the campaign key"},
	} {
		a := append([]string(nil), args...)
		for i := range a {
			if a[i] == tc.edit[0] {
				a[i+1] = tc.edit[1]
			}
		}
		if code, _, errOut := admin(t, env, "", a...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.edit, code, errOut, tc.code, tc.want)
		}
	}
}
