package httpapi

// Web Push. A browser that is a roster device subscribes
// (PUT /v1/push/subscriptions) in a session bound to that device; the
// subscription lives as long as the session (the store deletes it with the
// session: sign-out, revocation, the device leaving the roster, a disabled
// account, timeouts). When a hub uploads a new event object, every
// subscription of the household's owner and of members whose membership
// covers the camera gets a push — if its device is in the household's
// latest verified roster and may see the camera. The payload
// (api.PushPayload) says only what the service knows, and is sealed to that
// device's recipient before it is encrypted for the push service (RFC
// 8291): the push service sees ciphertext twice over.
//
// Sending never blocks an upload: each event's fan-out runs in the
// background, at most Push.MaxInFlight at once (more are dropped and
// logged; clients list events anyway). Each push is tried at most
// Push.Attempts times with a per-try timeout; a 404 or 410 from the push
// service deletes the subscription.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
	"github.com/porchlight/porchlight/internal/webpush"
)

const (
	// maxPushSubscriptions bounds an account's subscriptions.
	maxPushSubscriptions = 32
	// maxPushEndpoint bounds an endpoint URL.
	maxPushEndpoint = 2048
	// maxPushTargets bounds the pushes of one event.
	maxPushTargets = 256
)

// Push configures Web Push notifications. Set VAPID; other fields have
// working defaults. Do not change fields after the first push.
type Push struct {
	// VAPID signs requests to push services. Required.
	VAPID *webpush.VAPID
	// Client makes requests to push services. It defaults to a client
	// that dials public addresses only (an endpoint comes from a browser,
	// so it must not reach the service's own network), follows no
	// redirects and gives up after Timeout.
	Client *http.Client
	// Timeout bounds one try. It defaults to 10 s.
	Timeout time.Duration
	// Attempts bounds the tries of one push (network errors, 429 and 5xx
	// are tried again). It defaults to 3.
	Attempts int
	// Backoff is the wait before the second try; it doubles, and a
	// Retry-After up to a minute is honoured. It defaults to 2 s.
	Backoff time.Duration
	// TTL is how long a push service keeps a message for a browser that
	// is offline. It defaults to 1 h.
	TTL time.Duration
	// MaxInFlight bounds the events being pushed at once. It defaults to
	// 64.
	MaxInFlight int

	once   sync.Once
	sender *webpush.Sender
	slots  chan struct{}
	wg     sync.WaitGroup
}

func (p *Push) init(now func() time.Time) {
	p.once.Do(func() {
		if p.Timeout <= 0 {
			p.Timeout = 10 * time.Second
		}
		if p.Client == nil {
			p.Client = publicClient(p.Timeout)
		}
		if p.Attempts <= 0 {
			p.Attempts = 3
		}
		if p.Backoff <= 0 {
			p.Backoff = 2 * time.Second
		}
		if p.TTL <= 0 {
			p.TTL = time.Hour
		}
		if p.MaxInFlight <= 0 {
			p.MaxInFlight = 64
		}
		p.slots = make(chan struct{}, p.MaxInFlight)
		p.sender = &webpush.Sender{VAPID: p.VAPID, Client: p.Client, Now: now}
	})
}

// Wait returns when the pushes in flight are done (for shutdown and
// tests).
func (p *Push) Wait() { p.wg.Wait() }

// publicClient is an HTTP client that refuses to connect to loopback,
// private, link-local and other non-public addresses.
func publicClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		a := ap.Addr().Unmap()
		if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
			return fmt.Errorf("push endpoint resolves to %s, which is not a public address", a)
		}
		return nil
	}}
	tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("push services do not redirect")
	}}
}

// errPushOff answers the push routes when push is not set up.
var errPushOff = &httpError{http.StatusNotFound, "not_found", "push notifications are off on this service: the operator has not set them up", nil}

// pushVAPID is GET /v1/push/vapid (customer).
func (s *Server) pushVAPID(w http.ResponseWriter, r *http.Request, c *caller) error {
	if s.Push == nil {
		return errPushOff
	}
	writeJSON(w, http.StatusOK, api.PushVAPID{PublicKey: s.Push.VAPID.PublicKey()})
	return nil
}

// putPushSubscription is PUT /v1/push/subscriptions (customer): subscribe
// the session's device.
func (s *Server) putPushSubscription(w http.ResponseWriter, r *http.Request, c *caller) error {
	if s.Push == nil {
		return errPushOff
	}
	var in api.PushSubscriptionPut
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if c.session.DeviceID == "" || in.DeviceID != c.session.DeviceID {
		return &httpError{http.StatusForbidden, api.CodeWrongDevice,
			"device_id must be this session's device: sign in from this browser with its device id (pair it first), then subscribe", nil}
	}
	if len(in.Endpoint) > maxPushEndpoint {
		return errInvalid(fmt.Sprintf("endpoint longer than %d bytes", maxPushEndpoint))
	}
	p256dh, err1 := decodeB64URL(in.P256DH)
	authSecret, err2 := decodeB64URL(in.Auth)
	if err1 != nil || err2 != nil {
		return errInvalid("p256dh and auth must be base64url, as PushSubscription.toJSON() gives them")
	}
	sub := webpush.Subscription{Endpoint: in.Endpoint, P256DH: p256dh, Auth: authSecret}
	if err := sub.Check(); err != nil {
		return errInvalidf(err, "%s", err.Error())
	}
	have, err := s.Store.PushSubscriptions(r.Context(), c.account)
	if err != nil {
		return err
	}
	if len(have) >= maxPushSubscriptions && !slices.ContainsFunc(have, func(p store.PushSubscription) bool { return p.Endpoint == in.Endpoint }) {
		return errConflict(fmt.Sprintf("this account has %d push subscriptions, the most it may have: sign out of browsers you no longer use", len(have)))
	}
	ps := store.PushSubscription{ID: seal.NewID(), AccountID: c.account, SessionID: c.session.ID, DeviceID: c.session.DeviceID,
		Endpoint: in.Endpoint, P256DH: p256dh, Auth: authSecret, Created: s.Now().UTC()}
	if err := s.Store.PutPushSubscription(r.Context(), ps); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errUnauthorized("session ended or unknown: sign in again")
		}
		return err
	}
	addLog(r, "push_subscription", ps.ID)
	writeJSON(w, http.StatusCreated, api.PushSubscription{ID: ps.ID, DeviceID: ps.DeviceID, CreatedAt: ps.Created})
	return nil
}

// deletePushSubscription is DELETE /v1/push/subscriptions/{id} (customer):
// the account's own only; another's is 404.
func (s *Server) deletePushSubscription(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.Store.DeletePushSubscription(r.Context(), c.account, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("no such push subscription of this account")
		}
		return err
	}
	return noContent(w)
}

// decodeB64URL decodes base64url with or without padding.
func decodeB64URL(v string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
}

// pushTarget is one push of an event: a subscription and the recipient of
// its device.
type pushTarget struct {
	sub       store.PushSubscription
	recipient string
}

// pushCameraEvent sends a push about a new event object to every
// subscribed device that may see the camera, in the background. It never
// blocks: with MaxInFlight events already being pushed, it drops this one.
func (s *Server) pushCameraEvent(ctx context.Context, household, camera, object string, at time.Time) {
	p := s.Push
	if p == nil {
		return
	}
	p.init(s.Now)
	select {
	case p.slots <- struct{}{}:
	default:
		s.Logger.WarnContext(ctx, "push: too many events being pushed; not pushing this one", "camera", camera, "object", object)
		return
	}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.slots; p.wg.Done() }()
		ctx := context.WithoutCancel(ctx)
		targets, err := s.pushTargets(ctx, household, camera)
		if err != nil {
			s.Logger.ErrorContext(ctx, "push: find subscriptions", "camera", camera, "err", err)
			return
		}
		payload, err := json.Marshal(api.PushPayload{V: 1, Kind: api.NoticeCameraEvent, Camera: camera, Object: object,
			Minute: at.UTC().Truncate(time.Minute), Priority: seal.PriorityNormal})
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		for _, t := range targets {
			wg.Go(func() { s.pushOne(ctx, t, payload) })
		}
		wg.Wait()
	}()
}

// pushTargets lists the subscriptions an event of camera goes to: those of
// the household's owner and of members whose live membership covers the
// camera, whose device is in the latest verified roster and may see the
// camera now (a member's subscription, only for a member device).
func (s *Server) pushTargets(ctx context.Context, household, camera string) ([]pushTarget, error) {
	ro, err := s.currentRoster(ctx, household)
	if err != nil || ro == nil {
		return nil, err // no roster yet: no devices
	}
	type acct struct {
		id    string
		owner bool
	}
	var accounts []acct
	if owner := s.householdOwner(ctx, household); owner != "" {
		accounts = append(accounts, acct{owner, true})
	}
	ms, err := s.Store.HouseholdMemberships(ctx, household)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	for _, m := range ms {
		if (m.Expires.IsZero() || now.Before(m.Expires)) && slices.Contains(m.Cameras, camera) {
			accounts = append(accounts, acct{m.AccountID, false})
		}
	}
	var out []pushTarget
	for _, a := range accounts {
		subs, err := s.Store.PushSubscriptions(ctx, a.id)
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			e := ro.Entry(sub.DeviceID)
			if e == nil || !e.InScope(camera, now) || !a.owner && e.Role != seal.RoleMember {
				continue
			}
			if len(out) == maxPushTargets {
				s.Logger.WarnContext(ctx, "push: too many subscriptions for one event; pushing to the first ones", "camera", camera, "max", maxPushTargets)
				return out, nil
			}
			out = append(out, pushTarget{sub, e.KEM})
		}
	}
	return out, nil
}

// pushOne seals the payload to the target's device and sends it, trying
// again on temporary failures; a subscription the push service no longer
// knows is deleted.
func (s *Server) pushOne(ctx context.Context, t pushTarget, payload []byte) {
	p := s.Push
	rcpt, err := seal.ParseRecipient(t.recipient)
	if err != nil {
		s.Logger.ErrorContext(ctx, "push: device recipient", "subscription", t.sub.ID, "err", err)
		return
	}
	sealed, err := seal.SealTo(payload, rcpt)
	if err != nil {
		s.Logger.ErrorContext(ctx, "push: seal payload", "subscription", t.sub.ID, "err", err)
		return
	}
	sub := webpush.Subscription{Endpoint: t.sub.Endpoint, P256DH: t.sub.P256DH, Auth: t.sub.Auth}
	msg := webpush.Message{Payload: sealed, TTL: p.TTL, Urgency: "high"}
	delay := p.Backoff
	for attempt := 1; ; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, p.Timeout)
		err := p.sender.Send(tctx, sub, msg)
		cancel()
		if err == nil {
			return
		}
		if errors.Is(err, webpush.ErrGone) {
			if derr := s.Store.DeletePushSubscription(ctx, t.sub.AccountID, t.sub.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
				s.Logger.ErrorContext(ctx, "push: delete gone subscription", "subscription", t.sub.ID, "err", derr)
				return
			}
			s.Logger.InfoContext(ctx, "push: subscription gone; deleted", "subscription", t.sub.ID)
			return
		}
		var se *webpush.StatusError
		temporary := !errors.As(err, &se) || se.Temporary()
		if !temporary || attempt >= p.Attempts {
			s.Logger.WarnContext(ctx, "push failed", "subscription", t.sub.ID, "attempts", attempt, "err", err)
			return
		}
		wait := delay
		if se != nil && se.RetryAfter > wait {
			wait = min(se.RetryAfter, time.Minute)
		}
		delay *= 2
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}
