package apiclient

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/api"
)

// TestLogAndGrantRoutes checks the paths, queries and bodies of the audit
// log and grant methods against a recording server, and the size bounds of
// the log's raw answers.
func TestLogAndGrantRoutes(t *testing.T) {
	var got []string
	tile := bytes.Repeat([]byte{7}, 5*32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		got = append(got, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+body.String()))
		switch r.URL.Path {
		case "/v1/log/tile/0/x001/234.p/5":
			w.Write(tile)
		case "/v1/log/tile/1/000":
			w.Write(make([]byte, MaxTile+1))
		case "/v1/log/checkpoint":
			fmt.Fprint(w, "origin\n3\nhash\n\n— sig\n")
		case "/v1/audit":
			fmt.Fprint(w, `{"checkpoint":"Y3A=","entries":[{"index":4,"entry":"ZQ=="}],"pending":1,"next":5}`)
		case "/v1/grants/gid/epochs":
			fmt.Fprint(w, `{"epochs":[{"id":"e1","camera_id":"c1","announcement":"YQ==","wrap":"dw=="}]}`)
		case "/v1/grants/gid/objects/oid":
			fmt.Fprint(w, "ciphertext")
		default:
			fmt.Fprint(w, `{"id":"gid","state":"pending"}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "pls_token")
	ctx := t.Context()

	b, err := c.LogTile(ctx, 0, 1234, 5)
	if err != nil || !bytes.Equal(b, tile) {
		t.Errorf("LogTile = %d bytes, %v", len(b), err)
	}
	if _, err := c.LogTile(ctx, 1, 0, 0); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LogTile of an oversized tile: %v, want an error", err)
	}
	if cp, err := c.LogCheckpoint(ctx); err != nil || !strings.HasPrefix(string(cp), "origin\n3\n") {
		t.Errorf("LogCheckpoint = %q, %v", cp, err)
	}
	l, err := c.Audit(ctx, 4, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := &api.AuditList{Checkpoint: []byte("cp"), Entries: []api.AuditEntry{{Index: 4, Entry: []byte("e")}}, Pending: 1, Next: 5}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("Audit (-want +got):\n%s", diff)
	}
	from := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if _, err := c.CreateSupportRequest(ctx, api.SupportRequest{OwnerEmail: "o@example.com"}); err != nil {
		t.Error(err)
	}
	if _, err := c.ApproveGrant(ctx, "gid", api.GrantApproval{Signed: []byte("s")}); err != nil {
		t.Error(err)
	}
	if _, err := c.DenyGrant(ctx, "gid"); err != nil {
		t.Error(err)
	}
	if _, err := c.RevokeGrant(ctx, "gid"); err != nil {
		t.Error(err)
	}
	eps, err := c.GrantEpochs(ctx, "gid")
	if err != nil || len(eps) != 1 || string(eps[0].Wrap) != "w" {
		t.Errorf("GrantEpochs = %+v, %v", eps, err)
	}
	if _, err := c.GrantManifests(ctx, "gid", from, from.Add(time.Minute), true); err != nil {
		t.Error(err)
	}
	rc, _, err := c.GrantObjectReader(ctx, "gid", "oid")
	if err != nil {
		t.Fatal(err)
	}
	var obj bytes.Buffer
	obj.ReadFrom(rc)
	rc.Close()
	if obj.String() != "ciphertext" {
		t.Errorf("GrantObjectReader read %q", obj.String())
	}
	wantCalls := []string{
		"GET /v1/log/tile/0/x001/234.p/5",
		"GET /v1/log/tile/1/000",
		"GET /v1/log/checkpoint",
		"GET /v1/audit?from=4&limit=100",
		`POST /v1/support/requests {"owner_email":"o@example.com","reason":"","ticket":"","camera":"","from":"0001-01-01T00:00:00Z","to":"0001-01-01T00:00:00Z","video":false,"recipient":""}`,
		`POST /v1/grants/gid/approve {"signed":"cw==","wraps":null}`,
		"POST /v1/grants/gid/deny {}",
		"POST /v1/grants/gid/revoke {}",
		"GET /v1/grants/gid/epochs",
		"GET /v1/grants/gid/manifests?from=2026-11-23T10%3A00%3A00Z&include=data&to=2026-11-23T10%3A01%3A00Z",
		"GET /v1/grants/gid/objects/oid",
	}
	if diff := cmp.Diff(wantCalls, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
