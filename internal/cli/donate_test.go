package cli

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/server"
)

// TestDonateCommand runs the whole donation end to end against a real
// porchlightd and a test hub doing the redaction: the organisation makes
// its campaign key, the operator creates the campaign, the owner donates
// (declining first), the job is sealed to the campaign key and this device,
// the annotator of that organisation sees and labels the copy and exports
// it; after `consents withdraw` the copy is gone and the export has
// nothing of it.
func TestDonateCommand(t *testing.T) {
	segs := testSegments(t)[:2]
	dir := t.TempDir()
	data := filepath.Join(dir, "service")
	env, srv := signedUp(t, filepath.Join(dir, "home"), data)
	hub, _ := claimTestHub(t, env, srv)
	cam := hub.addCamera("front door")
	ep := hub.newEpoch(cam)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	hub.record(ep, base, segs)
	w := &redactWorker{h: hub}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	// The organisation's key and annotator; the operator's campaign.
	keyFile := filepath.Join(dir, "campaign.key")
	rcp := strings.TrimSpace(mustCLI(t, cliEnv{EnvHome: filepath.Join(dir, "org")}, "campaign", "key", "-o", keyFile).stdout)
	admin := func(args ...string) string {
		var out, errb strings.Builder
		penv := map[string]string{"PORCHLIGHT_PASSWORD": staffTestPassword}
		if code := server.Admin(t.Context(), append([]string{"--data", data}, args...), strings.NewReader(""), &out, &errb,
			func(k string) string { return penv[k] }); code != 0 {
			t.Fatalf("admin %v: exit %d\n%s\n%s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	campaign := strings.TrimSpace(admin("campaign", "create", "--purpose", "better night-time person detection", "--classes", "person,animal",
		"--retention", "30d", "--org", "Labelling Ltd", "--country", "NL", "--recipient", rcp))
	out := admin("staff", "add", "--email", "labeller@example.com", "--role", "annotator", "--org", "Labelling Ltd", "--country", "NL")
	secret, err := secretOfURI(regexp.MustCompile(`otpauth://\S+`).FindString(out))
	if err != nil {
		t.Fatal(err)
	}
	ann := userEnv(filepath.Join(dir, "annotator"), srv)
	ann[EnvPassword] = staffTestPassword
	ann[EnvTOTP] = auth.TOTPCode(secret, auth.TOTPStep(time.Now()))
	mustCLI(t, ann, "login", "--email", "labeller@example.com")

	args := []string{"donate", "--camera", "front door", "--from", base.Add(-time.Second).Format(time.RFC3339),
		"--to", base.Add(3 * time.Second).Format(time.RFC3339), "--campaign", campaign}
	r := runCLI(t, env, "n\n", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "Labelling Ltd, in NL") || !strings.Contains(r.stderr, "30 days") || w.count() != 0 {
		t.Fatalf("declined donation: exit %d, %d jobs\n%s", r.code, w.count(), r.stderr)
	}
	r = runCLI(t, env, "y\n", args...)
	if r.code != 0 || !strings.Contains(r.stdout, "Donated: consent ") {
		t.Fatalf("donate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	job := w.last()
	if job.Purpose != seal.PurposeDonate || job.Campaign != campaign || !slices.Contains(job.Output, rcp) || len(job.Output) != 2 {
		t.Errorf("redaction job: purpose %q, campaign %q, outputs %v; want donate to the campaign key and this device", job.Purpose, job.Campaign, job.Output)
	}
	r = mustCLI(t, env, "consents")
	if !strings.Contains(r.stdout, "ACTIVE") || !strings.Contains(r.stdout, "Labelling Ltd (NL)") || !strings.Contains(r.stdout, "front door") || strings.Contains(r.stdout, "NOT BY") {
		t.Errorf("consents:\n%s", r.stdout)
	}
	var consents []api.Consent
	owner := apiclient.New(srv, readSessionToken(t, env))
	if consents, err = owner.Consents(t.Context()); err != nil || len(consents) != 1 {
		t.Fatalf("consents = %+v, %v", consents, err)
	}
	id := consents[0].ID

	// The annotator sees the copy and labels it; the export opens it with
	// the campaign key.
	ac := apiclient.New(srv, readSessionToken(t, ann))
	tasks, err := ac.AnnotateTasks(t.Context(), campaign)
	if err != nil || len(tasks) != 1 || tasks[0].Consent != id {
		t.Fatalf("tasks = %+v, %v", tasks, err)
	}
	if err := ac.PutTaskLabels(t.Context(), tasks[0].ID, []api.LabelBox{{TMS: 0, Class: "person", X0: 0.1, Y0: 0.1, X1: 0.5, Y1: 0.9}}); err != nil {
		t.Fatal(err)
	}
	r = mustCLI(t, ann, "dataset", "export", "--campaign", campaign, "--key", keyFile, "-o", filepath.Join(dir, "before"))
	if !strings.Contains(r.stdout, "from 1 consented clips") {
		t.Errorf("export before withdrawal: %s%s", r.stdout, r.stderr)
	}

	mustCLI(t, env, "consents", "withdraw", "--yes", id)
	if r := mustCLI(t, env, "consents"); !strings.Contains(r.stdout, "WITHDRAWN") {
		t.Errorf("consents after withdrawal:\n%s", r.stdout)
	}
	if _, err := ac.TaskMedia(t.Context(), tasks[0].ID); !isStatus(err, 410) {
		t.Errorf("the copy after withdrawal: %v, want 410", err)
	}
	r = mustCLI(t, ann, "dataset", "export", "--campaign", campaign, "--key", keyFile, "-o", filepath.Join(dir, "after"))
	if !strings.Contains(r.stdout, "Wrote 0 images with 0 boxes from 0 consented clips") {
		t.Errorf("export after withdrawal: %s%s", r.stdout, r.stderr)
	}
}

func isStatus(err error, status int) bool {
	var ae *apiclient.Error
	return errors.As(err, &ae) && ae.Status == status
}
