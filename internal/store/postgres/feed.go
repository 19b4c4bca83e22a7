package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds the neighbours feed: posts (public MP4s with their
// owner-signed records) and reports. EndFeedPost locks the post's row FOR
// UPDATE first, so of an owner's withdrawal and an operator's removal
// racing, the second waits and then sees the first's state.

const feedCols = `id, household, record, blob_id, sha256, size, title, category, cell, pseudonym, state, reason, created, ended`

func scanFeedPost(row pgx.Row) (store.FeedPost, error) {
	var p store.FeedPost
	var created, ended int64
	if err := row.Scan(&p.ID, &p.HouseholdID, &p.Record, &p.BlobID, &p.SHA256, &p.Size, &p.Title, &p.Category, &p.Cell, &p.Pseudonym,
		&p.State, &p.Reason, &created, &ended); err != nil {
		return store.FeedPost{}, err
	}
	p.Created, p.Ended = fromMicro(created), fromMicro(ended)
	return p, nil
}

func (s *Store) feedPosts(ctx context.Context, what, query string, args ...any) ([]store.FeedPost, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	out := []store.FeedPost{}
	for rows.Next() {
		p, err := scanFeedPost(rows)
		if err != nil {
			return nil, mapErr(err, what)
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err(), what)
}

// CreateFeedPost implements store.Store.
func (s *Store) CreateFeedPost(ctx context.Context, p store.FeedPost) error {
	if p.State == "" {
		p.State = store.FeedPublished
	}
	_, err := s.db.Exec(ctx, `INSERT INTO feed_posts (`+feedCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, p.HouseholdID, p.Record, p.BlobID, p.SHA256, p.Size, p.Title, p.Category, p.Cell, p.Pseudonym, p.State, p.Reason,
		micro(p.Created), micro(p.Ended))
	return mapErr(err, "create feed post")
}

// FeedPost implements store.Store.
func (s *Store) FeedPost(ctx context.Context, id string) (store.FeedPost, error) {
	p, err := scanFeedPost(s.db.QueryRow(ctx, `SELECT `+feedCols+` FROM feed_posts WHERE id = $1`, id))
	return p, mapErr(err, "feed post")
}

// FeedPosts implements store.Store.
func (s *Store) FeedPosts(ctx context.Context, cells []string, limit int) ([]store.FeedPost, error) {
	if len(cells) == 0 || limit <= 0 {
		return []store.FeedPost{}, nil
	}
	return s.feedPosts(ctx, "list feed posts", `SELECT `+feedCols+` FROM feed_posts
		WHERE state = $1 AND cell = ANY($2) ORDER BY created DESC, id LIMIT $3`, store.FeedPublished, cells, limit)
}

// HouseholdFeedPosts implements store.Store.
func (s *Store) HouseholdFeedPosts(ctx context.Context, household string) ([]store.FeedPost, error) {
	return s.feedPosts(ctx, "list household feed posts", `SELECT `+feedCols+` FROM feed_posts WHERE household = $1 ORDER BY created DESC, id`, household)
}

// EndFeedPost implements store.Store.
func (s *Store) EndFeedPost(ctx context.Context, id, state, reason string, t time.Time) (store.FeedPost, error) {
	if state != store.FeedWithdrawn && state != store.FeedRemoved {
		return store.FeedPost{}, fmt.Errorf("end feed post: state %q is not an end state", state)
	}
	var before store.FeedPost
	err := s.tx(ctx, func(tx pgx.Tx) error {
		p, err := scanFeedPost(tx.QueryRow(ctx, `SELECT `+feedCols+` FROM feed_posts WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(err, "end feed post")
		}
		if p.State != store.FeedPublished {
			return fmt.Errorf("end feed post: it is %s: %w", p.State, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE feed_posts SET state = $1, reason = $2, ended = $3 WHERE id = $4`, state, reason, micro(t), id); err != nil {
			return mapErr(err, "end feed post")
		}
		before = p
		return nil
	})
	return before, err
}

// AddFeedReport implements store.Store.
func (s *Store) AddFeedReport(ctx context.Context, r store.FeedReport) error {
	_, err := s.db.Exec(ctx, `INSERT INTO feed_reports (id, post, reporter, reason, created) VALUES ($1, $2, $3, $4, $5)`,
		r.ID, r.PostID, r.Reporter, r.Reason, micro(r.Created))
	return mapErr(err, "add feed report")
}

// FeedReports implements store.Store.
func (s *Store) FeedReports(ctx context.Context, limit int) ([]store.FeedReport, error) {
	rows, err := s.db.Query(ctx, `SELECT r.id, r.post, r.reporter, r.reason, r.created FROM feed_reports r
		JOIN feed_posts p ON p.id = r.post WHERE p.state = $1 ORDER BY r.created, r.id LIMIT $2`, store.FeedPublished, limit)
	if err != nil {
		return nil, mapErr(err, "list feed reports")
	}
	defer rows.Close()
	out := []store.FeedReport{}
	for rows.Next() {
		var r store.FeedReport
		var created int64
		if err := rows.Scan(&r.ID, &r.PostID, &r.Reporter, &r.Reason, &created); err != nil {
			return nil, mapErr(err, "list feed reports")
		}
		r.Created = fromMicro(created)
		out = append(out, r)
	}
	return out, mapErr(rows.Err(), "list feed reports")
}
