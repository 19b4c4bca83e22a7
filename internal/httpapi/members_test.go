package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestMemberInviteFlow: the service relays an invite and the member
// device's keys, records the membership only once the owner-signed roster
// lists that device as a member (with the roster entry's scope and
// expiry), lists it in GET /v1/shared until it expires, and ends it on
// removal.
func TestMemberInviteFlow(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	h := claimHub(t, e, o)
	front, garage := h.camera(), h.camera()
	member := signup(t, e)
	stranger := signup(t, e)
	other := signup(t, e)
	otherCam := claimHub(t, e, other).camera()

	until := e.clock.Now().Add(48 * time.Hour)
	for _, tc := range []struct {
		name string
		in   api.MemberInviteCreate
	}{
		{"no cameras", api.MemberInviteCreate{Email: member.email}},
		{"another household's camera", api.MemberInviteCreate{Email: member.email, Cameras: []string{otherCam}}},
		{"malformed camera", api.MemberInviteCreate{Email: member.email, Cameras: []string{"../x"}}},
		{"past expiry", api.MemberInviteCreate{Email: member.email, Cameras: []string{front}, Expires: new(e.clock.Now().Add(-time.Hour))}},
		{"oneself", api.MemberInviteCreate{Email: o.email, Cameras: []string{front}}},
		{"bad e-mail", api.MemberInviteCreate{Email: "nobody", Cameras: []string{front}}},
	} {
		_, err := o.c.CreateInvite(ctx, tc.in)
		wantStatus(t, err, http.StatusBadRequest, "invite: "+tc.name)
	}
	code, err := o.c.CreateInvite(ctx, api.MemberInviteCreate{Email: member.email, Cameras: []string{front, front}, Expires: &until})
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	inv, err := o.c.Invite(ctx, code.Code)
	if err != nil || inv.State != api.InviteWaiting || len(inv.Cameras) != 1 || inv.Cameras[0] != front {
		t.Fatalf("invite = %+v, %v", inv, err)
	}
	_, err = other.c.Invite(ctx, code.Code)
	wantStatus(t, err, http.StatusNotFound, "another owner reads the invite")
	wantStatus(t, o.c.ConfirmInvite(ctx, code.Code), http.StatusConflict, "confirm before accept")

	accept := api.MemberAccept{Name: "phone", Sign: member.dev.SignPub(), KEM: member.dev.Recipient()}
	_, err = stranger.c.AcceptInvite(ctx, code.Code, api.MemberAccept{Name: "phone", Sign: stranger.dev.SignPub(), KEM: stranger.dev.Recipient()})
	wantStatus(t, err, http.StatusNotFound, "a stranger accepts")
	acc, err := member.c.AcceptInvite(ctx, code.Code, accept)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if acc.Household != o.household || string(acc.Root) != string(o.dev.SignPub()) {
		t.Errorf("accepted = %+v, want household %s with the owner's root", acc, o.household)
	}
	if _, err := member.c.AcceptInvite(ctx, code.Code, accept); err != nil {
		t.Errorf("accepting again with the same device: %v", err)
	}
	_, err = member.c.AcceptInvite(ctx, code.Code, api.MemberAccept{Name: "other", Sign: stranger.dev.SignPub(), KEM: stranger.dev.Recipient()})
	wantStatus(t, err, http.StatusConflict, "accept with another device")
	if inv, err = o.c.Invite(ctx, code.Code); err != nil || inv.State != api.InviteAccepted || inv.DeviceID != member.dev.ID {
		t.Fatalf("accepted invite = %+v, %v", inv, err)
	}

	// Not yet in the roster: no membership.
	wantStatus(t, o.c.ConfirmInvite(ctx, code.Code), http.StatusConflict, "confirm before the roster lists the device")
	_, err = member.c.Epochs(ctx, front, member.dev.ID)
	wantStatus(t, err, http.StatusNotFound, "member before confirm")

	entry := seal.RosterEntry{ID: member.dev.ID, Kind: seal.KindDevice, Role: seal.RoleMember, Name: member.email,
		Sign: member.dev.SignPub(), KEM: member.dev.Recipient(), Cameras: []string{front}, NotAfter: &until}
	o.appendRoster(o.deviceEntry(), entry)
	if err := o.c.ConfirmInvite(ctx, code.Code); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	wantStatus(t, o.c.ConfirmInvite(ctx, code.Code), http.StatusNotFound, "confirm twice (the code is consumed)")
	if _, err := member.c.Epochs(ctx, front, member.dev.ID); err != nil {
		t.Errorf("member on the shared camera: %v", err)
	}
	_, err = member.c.Epochs(ctx, garage, member.dev.ID)
	wantStatus(t, err, http.StatusForbidden, "member on the unshared camera")
	ro, err := o.c.Roster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := member.c.Shared(ctx)
	if err != nil || len(sh) != 1 || sh[0].Household != o.household || len(sh[0].Cameras) != 1 || sh[0].Cameras[0].ID != front ||
		sh[0].Expires == nil || !sh[0].Expires.Equal(until) || len(sh[0].Roster) != len(ro.Versions) {
		t.Errorf("shared: %d households, %v", len(sh), err)
		for _, x := range sh {
			t.Errorf("  household %s, %d cameras, expires %v, %d roster versions (want %d)", x.Household, len(x.Cameras), x.Expires, len(x.Roster), len(ro.Versions))
		}
	}
	if sh, err := o.c.Shared(ctx); err != nil || len(sh) != 0 {
		t.Errorf("owner's shared: %d households, %v", len(sh), err)
	}

	// Expiry: no longer listed or served.
	e.clock.Advance(49 * time.Hour)
	if sh, err := member.c.Shared(ctx); err != nil || len(sh) != 0 {
		t.Errorf("shared after expiry: %d households, %v", len(sh), err)
	}
	_, err = member.c.Epochs(ctx, front, member.dev.ID)
	wantStatus(t, err, http.StatusForbidden, "member after expiry")

	// Removal (after signing in again: it needs a recent sign-in).
	resp, err := o.c.Reauth(ctx, api.ReauthRequest{Password: o.password})
	if err != nil {
		t.Fatalf("reauth: %v", err)
	}
	if resp.Session != nil && resp.Session.Token != "" {
		o.c.Token = resp.Session.Token
	}
	if err := o.c.RemoveMember(ctx, member.email); err != nil {
		t.Fatalf("remove: %v", err)
	}
	wantStatus(t, o.c.RemoveMember(ctx, member.email), http.StatusNotFound, "remove twice")
	wantStatus(t, o.c.RemoveMember(ctx, "nobody-"+member.email), http.StatusNotFound, "remove an unknown address")
	_, err = member.c.Epochs(ctx, front, member.dev.ID)
	wantStatus(t, err, http.StatusNotFound, "former member")
}
