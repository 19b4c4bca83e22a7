package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// TestAdminAndStaff creates staff over the admin handler and checks what
// staff may and may not do.
func TestAdminAndStaff(t *testing.T) {
	e := startAccounts(t)
	ctx := t.Context()
	ts := httptest.NewServer(e.srv.AdminHandler())
	defer ts.Close()
	admin := &acctEnv{t: t, url: ts.URL}

	owner := e.signup(call{})
	newStaff := func(role string) (email, password string, secret []byte, codes []string) {
		email, password = role+"-"+randomHex(4)+"@example.com", "staff badge "+randomHex(6)+" corridor"
		var out api.AdminStaffCreated
		admin.must(http.StatusCreated, call{}, "POST", "/admin/staff", api.AdminStaffCreate{Email: email, Role: role, Password: password}, &out)
		secret, err := base32Raw.DecodeString(out.TOTPSecret)
		if err != nil || len(out.RecoveryCodes) != auth.RecoveryCodeCount || !strings.HasPrefix(out.TOTPURI, "otpauth://totp/") || out.AccountID == "" {
			t.Fatalf("staff created: %+v, %v", out, err)
		}
		return email, password, secret, out.RecoveryCodes
	}
	email, password, secret, _ := newStaff(api.RoleSupport)
	if st, _ := admin.status(call{}, "POST", "/admin/staff", api.AdminStaffCreate{Email: "x-" + email, Role: "owner", Password: password}); st != http.StatusBadRequest {
		t.Errorf("staff with role owner: %d, want 400", st)
	}
	if st, _ := admin.status(call{}, "POST", "/admin/staff", api.AdminStaffCreate{Email: email, Role: api.RoleSupport, Password: password}); st != http.StatusConflict {
		t.Errorf("staff with a taken e-mail: %d, want 409", st)
	}
	var list api.AdminStaffList
	admin.must(http.StatusOK, call{}, "GET", "/admin/staff", nil, &list)
	if len(list.Staff) != 1 || list.Staff[0].Email != email || list.Staff[0].Role != api.RoleSupport {
		t.Errorf("staff list %+v", list)
	}

	// Staff sign in with the code; the password alone gives only a challenge.
	sup := e.loginTOTP(email, password, secret, "support desk")
	var me api.Me
	e.must(http.StatusOK, call{token: sup.token}, "GET", "/v1/me", nil, &me)
	if me.Role != api.RoleSupport || me.HouseholdID != "" || !me.TOTP {
		t.Errorf("staff me %+v", me)
	}
	// No household data for staff: 403 and an "access denied" log line.
	for _, r := range [][2]string{{"GET", "/v1/roster"}, {"GET", "/v1/cameras"}, {"GET", "/v1/objects/" + seal.NewID()}, {"POST", "/v1/claims"}} {
		if st, _ := e.status(call{token: sup.token}, r[0], r[1], nil); st != http.StatusForbidden {
			t.Errorf("support on %s %s: %d, want 403", r[0], r[1], st)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `msg="access denied" role=support route="GET /v1/roster" account=`+me.AccountID) {
		t.Errorf("no access-denied log line for support on GET /v1/roster:\n%s", logs)
	}
	if st, _ := e.status(call{token: sup.token}, "GET", "/v1/ops/overview", nil); st != http.StatusForbidden {
		t.Errorf("support on ops: %d", st)
	}
	if st, _ := e.status(call{token: owner.dev.token}, "GET", "/v1/ops/overview", nil); st != http.StatusForbidden {
		t.Errorf("owner on ops: %d", st)
	}
	// Staff keep their last factor.
	if st, code := e.status(call{token: sup.token}, "DELETE", "/v1/me/totp", nil); st != http.StatusForbidden || code != api.CodeFactorRequired {
		t.Errorf("staff removing their only factor: %d %s", st, code)
	}

	// The operator sees counts.
	oEmail, oPassword, oSecret, _ := newStaff(api.RoleOperator)
	op := e.loginTOTP(oEmail, oPassword, oSecret, "ops")
	var ov api.OpsOverview
	e.must(http.StatusOK, call{token: op.token}, "GET", "/v1/ops/overview", nil, &ov)
	if ov.Accounts != 3 || ov.Households != 1 {
		t.Errorf("overview %+v", ov)
	}

	// A staff account without a factor cannot sign in.
	hash, _ := auth.HashPassword(password)
	bare := store.Account{ID: seal.NewID(), Email: "bare-" + email, PasswordHash: hash, Role: store.RoleAnnotator, Created: time.Now()}
	if err := e.st.CreateAccount(ctx, bare, store.Household{}); err != nil {
		t.Fatal(err)
	}
	if st, code := e.status(call{}, "POST", "/v1/login", api.LoginRequest{Email: bare.Email, Password: password}); st != http.StatusForbidden || code != api.CodeFactorRequired {
		t.Errorf("staff without a factor: %d %s, want 403 %s", st, code, api.CodeFactorRequired)
	}

	// Revoke and enable over the socket.
	var acct api.AdminAccount
	admin.must(http.StatusOK, call{}, "POST", "/admin/accounts/revoke-sessions", api.AdminAccountAction{Email: email}, &acct)
	if acct.SessionsEnded != 1 {
		t.Errorf("revoke: %+v", acct)
	}
	e.requireDead(sup.token, "revoked staff session")
	admin.must(http.StatusOK, call{}, "POST", "/admin/accounts/disable", api.AdminAccountAction{Email: email}, &acct)
	admin.must(http.StatusOK, call{}, "POST", "/admin/accounts/enable", api.AdminAccountAction{Email: email}, &acct)
	if acct.Disabled {
		t.Errorf("enable: %+v", acct)
	}
	e.loginTOTP(email, password, secret, "back")
	if st, _ := admin.status(call{}, "POST", "/admin/accounts/disable", api.AdminAccountAction{Email: "nobody@example.com"}); st != http.StatusNotFound {
		t.Errorf("disable of an unknown e-mail: %d", st)
	}
	admin.must(http.StatusOK, call{}, "GET", "/admin/staff", nil, &list)
	if !slices.ContainsFunc(list.Staff, func(a api.AdminAccount) bool { return a.Email == bare.Email && a.Role == api.RoleAnnotator }) {
		t.Errorf("staff list %+v lacks the annotator", list.Staff)
	}
	e.noSecrets(map[string]string{"staff e-mail": email, "staff password": password, "totp secret": base32Raw.EncodeToString(secret), "operator e-mail": oEmail})
	// The admin API is not part of the public handler.
	if st, _ := e.status(call{}, "GET", "/admin/staff", nil); st != http.StatusNotFound {
		t.Errorf("GET /admin/staff on the public API: %d, want 404", st)
	}
}
