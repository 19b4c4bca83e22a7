package apiclient

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// PutOwnerEpoch creates an epoch signed by an owner device (re-keyed
// history) with its wraps: PUT /v1/epochs/{id}. Needs a recent sign-in.
func (c *Client) PutOwnerEpoch(ctx context.Context, id string, in api.EpochPut) error {
	return c.callJSON(ctx, http.MethodPut, "/v1/epochs/"+seg(id), in, nil)
}

// PutOwnerObject uploads one object an owner device sealed (a re-sealed
// segment or an owner-signed manifest): PUT /v1/objects/{id}, with the
// same headers and idempotence as PutObject. Needs a recent sign-in.
func (c *Client) PutOwnerObject(ctx context.Context, id string, m ObjectMeta, body []byte) (*api.UploadResult, error) {
	return c.putObjectAt(ctx, "/v1/objects/"+seg(id), m, body)
}

func (c *Client) putObjectAt(ctx context.Context, path string, m ObjectMeta, body []byte) (*api.UploadResult, error) {
	sum := m.SHA256
	if sum == "" {
		sum = sha256Hex(body)
	}
	h := http.Header{}
	h.Set(api.HeaderCamera, m.Camera)
	h.Set(api.HeaderEpoch, m.Epoch)
	h.Set(api.HeaderKind, m.Kind)
	h.Set(api.HeaderTime, m.Time.UTC().Format(time.RFC3339))
	h.Set(api.HeaderSHA256, sum)
	if len(m.Refs) > 0 {
		h.Set(api.HeaderRefs, strings.Join(m.Refs, ","))
	}
	if body == nil {
		body = []byte{}
	}
	r := request{method: http.MethodPut, path: path, body: body, ctype: "application/octet-stream", header: h}
	var out api.UploadResult
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetireEpochs deletes objects of epochs that were re-keyed and
// crypto-shreds those epochs. Needs a recent sign-in.
func (c *Client) RetireEpochs(ctx context.Context, cameraID string, in api.EpochRetire) (api.DeletionReceipt, error) {
	var rc api.DeletionReceipt
	err := c.callJSON(ctx, http.MethodPost, "/v1/cameras/"+seg(cameraID)+"/retire-epochs", in, &rc)
	return rc, err
}
