package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/store"
)

func feedPost(h store.Household, cell string, created time.Time) store.FeedPost {
	return store.FeedPost{ID: id("post"), HouseholdID: h.ID, Record: []byte(`{"signed":"record"}`), BlobID: id("blob"),
		SHA256: "ab12", Size: 1000, Title: "Parcel taken", Category: "crime", Cell: cell, Pseudonym: "quiet-heron-0042", Created: created}
}

// testFeed: posts are listed by cell, newest first, published only; a
// post ends once (withdrawn or removed) and stays as a tombstone; ids and
// blob ids are unique; a post needs its household; a cell is 6
// characters, nothing finer.
func testFeed(t *testing.T, s store.Store) {
	_, h := household(t, s)
	_, other := household(t, s)
	p1 := feedPost(h, "u4pruy", t0)
	p2 := feedPost(h, "u4pruz", t0.Add(time.Minute))
	p3 := feedPost(other, "u4pruy", t0.Add(2*time.Minute))
	far := feedPost(other, "9q8yyk", t0.Add(3*time.Minute))
	for _, p := range []store.FeedPost{p1, p2, p3, far} {
		must(t, s.CreateFeedPost(ctx(t), p), "create post")
	}
	dup := feedPost(h, "u4pruy", t0)
	dup.ID = p1.ID
	wantErr(t, s.CreateFeedPost(ctx(t), dup), store.ErrConflict, "duplicate post id")
	dupBlob := feedPost(h, "u4pruy", t0)
	dupBlob.BlobID = p1.BlobID
	wantErr(t, s.CreateFeedPost(ctx(t), dupBlob), store.ErrConflict, "duplicate blob id")
	wantErr(t, s.CreateFeedPost(ctx(t), feedPost(store.Household{ID: id("hh")}, "u4pruy", t0)), store.ErrNotFound, "post of no household")
	if err := s.CreateFeedPost(ctx(t), feedPost(h, "u4pruyd", t0)); err == nil {
		t.Error("a 7-character cell was stored")
	}

	got, err := s.FeedPost(ctx(t), p1.ID)
	must(t, err, "post")
	p1.State = store.FeedPublished
	if diff := cmp.Diff(p1, got); diff != "" {
		t.Errorf("post round trip (-want +got):\n%s", diff)
	}
	_, err = s.FeedPost(ctx(t), id("post"))
	wantErr(t, err, store.ErrNotFound, "unknown post")

	ids := func(ps []store.FeedPost) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	list, err := s.FeedPosts(ctx(t), []string{"u4pruy", "u4pruz"}, 10)
	must(t, err, "list")
	if diff := cmp.Diff([]string{p3.ID, p2.ID, p1.ID}, ids(list)); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
	if list, _ = s.FeedPosts(ctx(t), []string{"u4pruy", "u4pruz"}, 2); len(list) != 2 || list[0].ID != p3.ID {
		t.Errorf("limited feed = %v", ids(list))
	}
	if list, _ = s.FeedPosts(ctx(t), nil, 10); list == nil || len(list) != 0 {
		t.Errorf("feed of no cells = %#v, want empty", list)
	}

	// Reports.
	reporter, _ := household(t, s)
	r1 := store.FeedReport{ID: id("rep"), PostID: p1.ID, Reporter: reporter.ID, Reason: "shows a face", Created: t0.Add(time.Hour)}
	must(t, s.AddFeedReport(ctx(t), r1), "report")
	wantErr(t, s.AddFeedReport(ctx(t), store.FeedReport{ID: id("rep"), PostID: p1.ID, Reporter: reporter.ID, Reason: "again", Created: t0}), store.ErrConflict, "second report by the same account")
	wantErr(t, s.AddFeedReport(ctx(t), store.FeedReport{ID: id("rep"), PostID: id("post"), Reporter: reporter.ID, Reason: "x", Created: t0}), store.ErrNotFound, "report of no post")
	r2 := store.FeedReport{ID: id("rep"), PostID: p3.ID, Reporter: reporter.ID, Reason: "spam", Created: t0.Add(2 * time.Hour)}
	must(t, s.AddFeedReport(ctx(t), r2), "report 2")
	reps, err := s.FeedReports(ctx(t), 10)
	must(t, err, "reports")
	if diff := cmp.Diff([]store.FeedReport{r1, r2}, reps); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}

	// Ending: once, as a tombstone.
	end := t0.Add(3 * time.Hour)
	before, err := s.EndFeedPost(ctx(t), p1.ID, store.FeedWithdrawn, "", end)
	must(t, err, "withdraw")
	if before.BlobID != p1.BlobID || before.State != store.FeedPublished {
		t.Errorf("withdraw returned %+v, want the post as it was", before)
	}
	_, err = s.EndFeedPost(ctx(t), p1.ID, store.FeedRemoved, "too late", end)
	wantErr(t, err, store.ErrConflict, "remove a withdrawn post")
	_, err = s.EndFeedPost(ctx(t), id("post"), store.FeedRemoved, "x", end)
	wantErr(t, err, store.ErrNotFound, "end an unknown post")
	if _, err := s.EndFeedPost(ctx(t), p2.ID, store.FeedPublished, "", end); err == nil {
		t.Error("ending to published succeeded")
	}
	_, err = s.EndFeedPost(ctx(t), p3.ID, store.FeedRemoved, "shows a face", end)
	must(t, err, "remove")
	got, err = s.FeedPost(ctx(t), p3.ID)
	must(t, err, "removed post")
	if got.State != store.FeedRemoved || got.Reason != "shows a face" || !got.Ended.Equal(end) {
		t.Errorf("removed post = %+v", got)
	}
	list, _ = s.FeedPosts(ctx(t), []string{"u4pruy", "u4pruz"}, 10)
	if diff := cmp.Diff([]string{p2.ID}, ids(list)); diff != "" {
		t.Errorf("feed after ending two (-want +got):\n%s", diff)
	}
	if reps, _ = s.FeedReports(ctx(t), 10); len(reps) != 0 {
		t.Errorf("reports of ended posts still listed: %+v", reps)
	}
	mine, err := s.HouseholdFeedPosts(ctx(t), h.ID)
	must(t, err, "household posts")
	if diff := cmp.Diff([]string{p2.ID, p1.ID}, ids(mine)); diff != "" || mine[1].State != store.FeedWithdrawn {
		t.Errorf("household posts (-want +got):\n%s (states %v)", diff, mine)
	}

	// A withdrawal and a removal racing: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan string, 2)
	for _, st := range []string{store.FeedWithdrawn, store.FeedRemoved} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.EndFeedPost(ctx(t), p2.ID, st, "race", end); err == nil {
				wins <- st
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Errorf("%d of two racing ends won, want 1", n)
	}
}
