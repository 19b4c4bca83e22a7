package api

import "time"

// PushVAPID answers GET /v1/push/vapid: the service's VAPID public key,
// the applicationServerKey a browser passes to PushManager.subscribe
// (uncompressed P-256 point, base64url without padding).
type PushVAPID struct {
	PublicKey string `json:"public_key"`
}

// PushSubscriptionPut is the body of PUT /v1/push/subscriptions: the
// browser's PushSubscription (keys in base64url, as its toJSON gives them)
// and the roster device it belongs to, which must be the session's device.
type PushSubscriptionPut struct {
	Endpoint string `json:"endpoint"`
	P256DH   string `json:"p256dh"`
	Auth     string `json:"auth"`
	DeviceID string `json:"device_id"`
}

// PushSubscription answers PUT /v1/push/subscriptions. The endpoint and
// keys are not echoed.
type PushSubscription struct {
	ID        string    `json:"id"`
	DeviceID  string    `json:"device_id"`
	CreatedAt time.Time `json:"created_at"`
}

// PushPayload is the plaintext of a push message: strict JSON, sealed (an
// age file) to the receiving device's recipient from the household's
// latest verified roster, then encrypted for the browser's push service
// (RFC 8291). It says no more than the service knows: a new event object
// of a camera at a minute. The device fetches, decrypts and verifies the
// event itself before trusting what happened. Priority is PriorityNormal
// unless the service learns more (it does not today).
type PushPayload struct {
	V        int       `json:"v"`        // 1
	Kind     string    `json:"kind"`     // NoticeCameraEvent
	Camera   string    `json:"camera"`   // camera id
	Object   string    `json:"object"`   // the event object's id
	Minute   time.Time `json:"minute"`   // the object's coarse time
	Priority string    `json:"priority"` // "normal" or "high"
}
