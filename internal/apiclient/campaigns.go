package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
)

// MaxCampaignCopy bounds a campaign copy's download (a redaction result).
const MaxCampaignCopy = 512 << 20

// Campaigns lists the annotation campaigns an owner may donate to
// (customers).
func (c *Client) Campaigns(ctx context.Context) ([]api.Campaign, error) {
	var out api.Campaigns
	if err := c.callJSON(ctx, http.MethodGet, "/v1/campaigns", nil, &out); err != nil {
		return nil, err
	}
	return out.Campaigns, nil
}

// Donate gives a done redaction job's result to a campaign under an
// owner-signed consent (owner). 403 when the consent does not verify
// against the household's roster; 400 when it names something else.
func (c *Client) Donate(ctx context.Context, campaign string, in api.DonationCreate) (*api.Consent, error) {
	var out api.Consent
	if err := c.callJSON(ctx, http.MethodPost, "/v1/campaigns/"+seg(campaign)+"/donations", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Consents lists the household's donations, ended ones included, newest
// first (owner).
func (c *Client) Consents(ctx context.Context) ([]api.Consent, error) {
	var out api.Consents
	if err := c.callJSON(ctx, http.MethodGet, "/v1/consents", nil, &out); err != nil {
		return nil, err
	}
	return out.Consents, nil
}

// WithdrawConsent withdraws a donation (owner): its copy is deleted and
// its labels excluded from every later export.
func (c *Client) WithdrawConsent(ctx context.Context, id string) (*api.Consent, error) {
	var out api.Consent
	if err := c.callJSON(ctx, http.MethodPost, "/v1/consents/"+seg(id)+"/withdraw", struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AnnotateCampaigns lists the campaigns of the annotator's organisation.
func (c *Client) AnnotateCampaigns(ctx context.Context) ([]api.Campaign, error) {
	var out api.Campaigns
	if err := c.callJSON(ctx, http.MethodGet, "/v1/annotate/campaigns", nil, &out); err != nil {
		return nil, err
	}
	return out.Campaigns, nil
}

// AnnotateTasks lists a campaign's active copies with their labels
// (annotator of its organisation).
func (c *Client) AnnotateTasks(ctx context.Context, campaign string) ([]api.Task, error) {
	var out api.Tasks
	if err := c.callJSON(ctx, http.MethodGet, "/v1/annotate/campaigns/"+seg(campaign)+"/tasks", nil, &out); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// TaskMedia downloads a copy, sealed to the campaign key (annotator of
// its organisation); 410 once withdrawn or expired.
func (c *Client) TaskMedia(ctx context.Context, task string) ([]byte, error) {
	r := request{method: http.MethodGet, path: "/v1/annotate/tasks/" + seg(task) + "/media", header: http.Header{}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxCampaignCopy+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", r.path, err)
	}
	if len(b) > MaxCampaignCopy {
		return nil, fmt.Errorf("GET %s: copy larger than %d bytes", r.path, MaxCampaignCopy)
	}
	return b, nil
}

// TaskLabels returns a copy's labels (annotator).
func (c *Client) TaskLabels(ctx context.Context, task string) ([]api.LabelBox, error) {
	var out api.Labels
	if err := c.callJSON(ctx, http.MethodGet, "/v1/annotate/tasks/"+seg(task)+"/labels", nil, &out); err != nil {
		return nil, err
	}
	return out.Boxes, nil
}

// PutTaskLabels replaces a copy's labels (annotator).
func (c *Client) PutTaskLabels(ctx context.Context, task string, boxes []api.LabelBox) error {
	if boxes == nil {
		boxes = []api.LabelBox{}
	}
	return c.callJSON(ctx, http.MethodPut, "/v1/annotate/tasks/"+seg(task)+"/labels", api.Labels{Boxes: boxes}, nil)
}
