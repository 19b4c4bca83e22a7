package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

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
	_, err := s.w.ExecContext(ctx, `INSERT INTO campaigns (`+campaignCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Purpose, strings.Join(c.Classes, ","), c.RetentionDays, c.Org, c.Country, c.Recipient, micro(c.Created))
	return mapErr(err, "create campaign")
}

// Campaign implements store.Store.
func (s *Store) Campaign(ctx context.Context, id string) (store.Campaign, error) {
	c, err := scanCampaign(s.r.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = ?`, id))
	return c, mapErr(err, "campaign")
}

// Campaigns implements store.Store.
func (s *Store) Campaigns(ctx context.Context) ([]store.Campaign, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY created, id`)
	if err != nil {
		return nil, mapErr(err, "list campaigns")
	}
	defer rows.Close()
	var out []store.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, mapErr(err, "list campaigns")
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err(), "list campaigns")
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
	_, err := s.w.ExecContext(ctx, `INSERT INTO donations (`+donationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.HouseholdID, d.CampaignID, d.CameraID, d.Job, d.Consent, d.BlobKey, d.Size, d.SHA256, d.State,
		micro(d.Created), micro(d.Expires), micro(d.Ended), d.Labels, d.LabelsBy, micro(d.LabelsUpdated))
	return mapErr(err, "create donation")
}

// Donation implements store.Store.
func (s *Store) Donation(ctx context.Context, id string) (store.Donation, error) {
	d, err := scanDonation(s.r.QueryRowContext(ctx, `SELECT `+donationCols+` FROM donations WHERE id = ?`, id))
	return d, mapErr(err, "donation")
}

func (s *Store) donations(ctx context.Context, query string, args ...any) ([]store.Donation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+donationCols+` FROM donations WHERE `+query, args...)
	if err != nil {
		return nil, mapErr(err, "list donations")
	}
	defer rows.Close()
	var out []store.Donation
	for rows.Next() {
		d, err := scanDonation(rows)
		if err != nil {
			return nil, mapErr(err, "list donations")
		}
		out = append(out, d)
	}
	return out, mapErr(rows.Err(), "list donations")
}

// HouseholdDonations implements store.Store.
func (s *Store) HouseholdDonations(ctx context.Context, household string) ([]store.Donation, error) {
	return s.donations(ctx, `household = ? ORDER BY created DESC, id DESC`, household)
}

// ActiveDonations implements store.Store.
func (s *Store) ActiveDonations(ctx context.Context, campaign string) ([]store.Donation, error) {
	return s.donations(ctx, `campaign = ? AND state = ? ORDER BY created, id`, campaign, donationActive)
}

// DueDonations implements store.Store.
func (s *Store) DueDonations(ctx context.Context, t time.Time) ([]store.Donation, error) {
	return s.donations(ctx, `state = ? AND expires <= ? ORDER BY expires, id`, donationActive, micro(t))
}

// PutLabels implements store.Store.
func (s *Store) PutLabels(ctx context.Context, id string, labels []byte, by string, t time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM donations WHERE id = ?`, id).Scan(&state); err != nil {
			return mapErr(err, "put labels")
		}
		if state != donationActive {
			return fmt.Errorf("put labels: donation is %s: %w", state, store.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `UPDATE donations SET labels = ?, labels_by = ?, labels_updated = ? WHERE id = ?`, labels, by, micro(t), id)
		return mapErr(err, "put labels")
	})
}

// EndDonation implements store.Store.
func (s *Store) EndDonation(ctx context.Context, id, state string, t time.Time) (store.Donation, error) {
	var d store.Donation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDonation(tx.QueryRowContext(ctx, `SELECT `+donationCols+` FROM donations WHERE id = ?`, id))
		if err != nil {
			return mapErr(err, "end donation")
		}
		if d.State != donationActive {
			return fmt.Errorf("end donation: it is already %s: %w", d.State, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE donations SET state = ?, ended = ?, blob_key = '', labels = NULL, labels_by = '', labels_updated = 0
			WHERE id = ?`, state, micro(t), id)
		return mapErr(err, "end donation")
	})
	return d, err
}

// ScanWraps implements store.Store.
func (s *Store) ScanWraps(ctx context.Context, fn func(epochID string, w store.Wrap) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT epoch, device_id, data FROM wraps ORDER BY epoch, device_id`)
	if err != nil {
		return mapErr(err, "scan wraps")
	}
	defer rows.Close()
	for rows.Next() {
		var epoch string
		var w store.Wrap
		if err := rows.Scan(&epoch, &w.DeviceID, &w.Data); err != nil {
			return mapErr(err, "scan wraps")
		}
		if err := fn(epoch, w); err != nil {
			return err
		}
	}
	return mapErr(rows.Err(), "scan wraps")
}
