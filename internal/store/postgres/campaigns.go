package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds annotation campaigns and their donations (migration
// 0012). The store does not import api: the donation states are spelled
// here as api.DonationActive is.

const donationActive = "active"

const campaignCols = `id, purpose, classes, retention_days, org, country, recipient, created`

func scanCampaign(sc interface{ Scan(...any) error }) (store.Campaign, error) {
	var c store.Campaign
	var classes string
	var created int64
	err := sc.Scan(&c.ID, &c.Purpose, &classes, &c.RetentionDays, &c.Org, &c.Country, &c.Recipient, &created)
	if classes != "" {
		c.Classes = strings.Split(classes, ",")
	}
	c.Created = fromMicro(created)
	return c, err
}

// CreateCampaign implements store.Store.
func (s *Store) CreateCampaign(ctx context.Context, c store.Campaign) error {
	_, err := s.db.Exec(ctx, `INSERT INTO campaigns (`+campaignCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.Purpose, strings.Join(c.Classes, ","), c.RetentionDays, c.Org, c.Country, c.Recipient, micro(c.Created))
	return mapErr(err, "create campaign")
}

// Campaign implements store.Store.
func (s *Store) Campaign(ctx context.Context, id string) (store.Campaign, error) {
	c, err := scanCampaign(s.db.QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
	return c, mapErr(err, "campaign")
}

// Campaigns implements store.Store.
func (s *Store) Campaigns(ctx context.Context) ([]store.Campaign, error) {
	rows, err := s.db.Query(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY created, id`)
	if err != nil {
		return nil, mapErr(err, "list campaigns")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Campaign, error) { return scanCampaign(row) })
	return out, mapErr(err, "list campaigns")
}

const donationCols = `id, household, campaign, camera, job, consent, blob_key, size, sha256, state, created, expires, ended,
	labels, labels_by, labels_updated`

func scanDonation(sc interface{ Scan(...any) error }) (store.Donation, error) {
	var d store.Donation
	var created, expires, ended, updated int64
	err := sc.Scan(&d.ID, &d.HouseholdID, &d.CampaignID, &d.CameraID, &d.Job, &d.Consent, &d.BlobKey, &d.Size, &d.SHA256, &d.State,
		&created, &expires, &ended, &d.Labels, &d.LabelsBy, &updated)
	d.Created, d.Expires, d.Ended, d.LabelsUpdated = fromMicro(created), fromMicro(expires), fromMicro(ended), fromMicro(updated)
	return d, err
}

// CreateDonation implements store.Store.
func (s *Store) CreateDonation(ctx context.Context, d store.Donation) error {
	if d.State == "" {
		d.State = donationActive
	}
	_, err := s.db.Exec(ctx, `INSERT INTO donations (`+donationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		d.ID, d.HouseholdID, d.CampaignID, d.CameraID, d.Job, d.Consent, d.BlobKey, d.Size, d.SHA256, d.State,
		micro(d.Created), micro(d.Expires), micro(d.Ended), d.Labels, d.LabelsBy, micro(d.LabelsUpdated))
	return mapErr(err, "create donation")
}

// Donation implements store.Store.
func (s *Store) Donation(ctx context.Context, id string) (store.Donation, error) {
	d, err := scanDonation(s.db.QueryRow(ctx, `SELECT `+donationCols+` FROM donations WHERE id = $1`, id))
	return d, mapErr(err, "donation")
}

func (s *Store) donations(ctx context.Context, query string, args ...any) ([]store.Donation, error) {
	rows, err := s.db.Query(ctx, `SELECT `+donationCols+` FROM donations WHERE `+query, args...)
	if err != nil {
		return nil, mapErr(err, "list donations")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Donation, error) { return scanDonation(row) })
	return out, mapErr(err, "list donations")
}

// HouseholdDonations implements store.Store.
func (s *Store) HouseholdDonations(ctx context.Context, household string) ([]store.Donation, error) {
	return s.donations(ctx, `household = $1 ORDER BY created DESC, id DESC`, household)
}

// ActiveDonations implements store.Store.
func (s *Store) ActiveDonations(ctx context.Context, campaign string) ([]store.Donation, error) {
	return s.donations(ctx, `campaign = $1 AND state = $2 ORDER BY created, id`, campaign, donationActive)
}

// DueDonations implements store.Store.
func (s *Store) DueDonations(ctx context.Context, t time.Time) ([]store.Donation, error) {
	return s.donations(ctx, `state = $1 AND expires <= $2 ORDER BY expires, id`, donationActive, micro(t))
}

// PutLabels implements store.Store: one conditional UPDATE, then a read
// to tell a missing donation from an ended one.
func (s *Store) PutLabels(ctx context.Context, id string, labels []byte, by string, t time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE donations SET labels = $1, labels_by = $2, labels_updated = $3 WHERE id = $4 AND state = $5`,
		labels, by, micro(t), id, donationActive)
	if err != nil {
		return mapErr(err, "put labels")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	d, err := s.Donation(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("put labels: donation is %s: %w", d.State, store.ErrConflict)
}

// EndDonation implements store.Store; the row is locked FOR UPDATE so two
// racing ends (a withdrawal and the sweep) cannot both win.
func (s *Store) EndDonation(ctx context.Context, id, state string, t time.Time) (store.Donation, error) {
	var d store.Donation
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDonation(tx.QueryRow(ctx, `SELECT `+donationCols+` FROM donations WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(err, "end donation")
		}
		if d.State != donationActive {
			return fmt.Errorf("end donation: it is already %s: %w", d.State, store.ErrConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE donations SET state = $1, ended = $2, blob_key = '', labels = NULL, labels_by = '', labels_updated = 0
			WHERE id = $3`, state, micro(t), id)
		return mapErr(err, "end donation")
	})
	return d, err
}

// ScanWraps implements store.Store.
func (s *Store) ScanWraps(ctx context.Context, fn func(epochID string, w store.Wrap) error) error {
	rows, err := s.db.Query(ctx, `SELECT epoch, device_id, data FROM wraps ORDER BY epoch, device_id`)
	if err != nil {
		return mapErr(err, "scan wraps")
	}
	type row struct {
		epoch string
		w     store.Wrap
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.epoch, &x.w.DeviceID, &x.w.Data)
	})
	if err != nil {
		return mapErr(err, "scan wraps")
	}
	for _, x := range all {
		if err := fn(x.epoch, x.w); err != nil {
			return err
		}
	}
	return nil
}
