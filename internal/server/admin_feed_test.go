package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestAdminFeedModeration: the operator lists reported posts and removes
// one with a reason over the admin socket; the post then answers 410.
func TestAdminFeedModeration(t *testing.T) {
	data := t.TempDir()
	_, url := startMain(t, data)
	ctx := t.Context()
	signup := func(name string) (*apiclient.Client, *api.SessionResponse) {
		t.Helper()
		resp, err := apiclient.New(url, "").Signup(ctx, api.SignupRequest{Email: name + "@example.org", Password: "correct horse " + name + " battery", DeviceName: "laptop"})
		if err != nil {
			t.Fatalf("signup: %v", err)
		}
		return apiclient.New(url, resp.Token), resp
	}
	owner, or := signup("poster")
	neighbour, _ := signup("neighbour")
	dev, err := keys.Generate("laptop")
	if err != nil {
		t.Fatal(err)
	}
	roster, err := seal.SignRoster(dev.Sign, seal.Roster{Household: or.HouseholdID, Version: 1, Created: time.Now().UTC(), Entries: []seal.RosterEntry{{
		ID: dev.ID, Kind: seal.KindDevice, Role: seal.RoleOwner, Name: "laptop", Sign: dev.SignPub(), KEM: dev.Recipient(), Cameras: []string{seal.AllCameras}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.AppendRoster(ctx, roster); err != nil {
		t.Fatal(err)
	}
	media := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2 and the rest of a clip")
	rec, err := seal.SignPublication(dev.Sign, seal.Publication{ID: seal.NewID(), Household: or.HouseholdID, SHA256: seal.SHA256Hex(media), Size: int64(len(media)),
		Title: "Lost grey cat", Category: seal.CategoryLostPet, Cell: "gcpvj0", Pseudonym: seal.NewPseudonym(), Job: seal.NewID(), Created: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	post, err := owner.Publish(ctx, rec, media)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	env := map[string]string{"PORCHLIGHT_DATA": data}
	if code, out, _ := admin(t, env, "", "feed", "reports"); code != 0 || !strings.Contains(out, "No reports") {
		t.Errorf("feed reports before any: exit %d\n%s", code, out)
	}
	if err := neighbour.ReportPost(ctx, post.ID, "not a lost cat, an ad"); err != nil {
		t.Fatalf("report: %v", err)
	}
	code, out, errOut := admin(t, env, "", "feed", "reports")
	if code != 0 || !strings.Contains(out, post.ID) || !strings.Contains(out, "not a lost cat, an ad") || !strings.Contains(out, "gcpvj0") {
		t.Errorf("feed reports: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := admin(t, env, "", "feed", "remove", post.ID); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("feed remove without a reason: exit %d, %s", code, errOut)
	}
	if code, out, errOut := admin(t, env, "", "feed", "remove", post.ID, "--reason", "advertising"); code != 0 || !strings.Contains(out, "Removed post "+post.ID) {
		t.Fatalf("feed remove: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := neighbour.FeedPost(ctx, post.ID); !apiclient.IsStatus(err, http.StatusGone) {
		t.Errorf("removed post: %v, want 410", err)
	}
	if _, err := neighbour.FeedMedia(ctx, post.ID); !apiclient.IsStatus(err, http.StatusGone) {
		t.Errorf("removed post's media: %v, want 410", err)
	}
	if code, _, errOut := admin(t, env, "", "feed", "remove", post.ID, "--reason", "again"); code != 1 || !strings.Contains(errOut, "already ended") {
		t.Errorf("removing twice: exit %d, %s", code, errOut)
	}
	mine, err := owner.MyPosts(ctx)
	if err != nil || len(mine) != 1 || mine[0].State != api.FeedRemoved || mine[0].Reason != "advertising" {
		t.Errorf("owner's posts = %+v, %v", mine, err)
	}
}
