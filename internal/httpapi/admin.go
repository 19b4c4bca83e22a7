package httpapi

// The admin API: staff accounts and account actions for the operator, on
// porchlightd's local Unix socket only (internal/server serves
// AdminHandler there, mode 0600). It has no authentication of its own:
// reaching the socket is the credential. It is never part of Handler.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// AdminHandler returns the admin API for the local Unix socket:
//
//	POST /admin/staff                     api.AdminStaffCreate → api.AdminStaffCreated (201)
//	GET  /admin/staff                     api.AdminStaffList
//	POST /admin/accounts/disable          api.AdminAccountAction → api.AdminAccount
//	POST /admin/accounts/enable           api.AdminAccountAction → api.AdminAccount
//	POST /admin/accounts/revoke-sessions  api.AdminAccountAction → api.AdminAccount
//	POST /admin/accounts/quota            api.AdminQuota → api.AdminAccount
//	GET  /admin/feed/reports              api.FeedReports
//	POST /admin/feed/remove               api.AdminFeedRemove → api.FeedPost
//	POST /admin/campaigns                 api.AdminCampaignCreate → api.Campaign (201)
//	GET  /admin/campaigns                 api.Campaigns
//
// Disabling an account or revoking its sessions ends them at once,
// streams included. Every action is logged.
func (s *Server) AdminHandler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	handle := func(pattern string, h handlerFunc) { mux.Handle(pattern, s.wrap(pattern, h)) }
	handle("POST /admin/staff", s.adminCreateStaff)
	handle("GET /admin/staff", s.adminListStaff)
	handle("POST /admin/accounts/disable", s.adminAccount(s.adminDisable))
	handle("POST /admin/accounts/enable", s.adminAccount(s.adminEnable))
	handle("POST /admin/accounts/revoke-sessions", s.adminAccount(s.adminRevoke))
	handle("POST /admin/accounts/quota", s.adminQuota)
	handle("GET /admin/feed/reports", s.adminFeedReports)
	handle("POST /admin/feed/remove", s.adminFeedRemove)
	handle("POST /admin/campaigns", s.adminCreateCampaign)
	handle("GET /admin/campaigns", s.adminListCampaigns)
	handle("/", func(w http.ResponseWriter, r *http.Request) error { return errNotFound("no such admin route") })
	return mux
}

func isStaffRole(role string) bool {
	return role == api.RoleSupport || role == api.RoleAnnotator || role == api.RoleOperator
}

// adminCreateStaff creates a staff account with a password and an
// authenticator enrolled at once, and recovery codes: staff must have a
// second factor from the start.
func (s *Server) adminCreateStaff(w http.ResponseWriter, r *http.Request) error {
	var in api.AdminStaffCreate
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if !isStaffRole(in.Role) {
		return errInvalid("role must be " + api.RoleSupport + ", " + api.RoleAnnotator + " or " + api.RoleOperator)
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	if err := auth.CheckPassword(in.Password, email); err != nil {
		return err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	ctx := r.Context()
	now := s.Now().UTC()
	org, country, err := staffOrg(in.Org, in.Country)
	if err != nil {
		return err
	}
	a := store.Account{ID: seal.NewID(), Email: email, PasswordHash: hash, Role: in.Role, Org: org, Country: country, Created: now}
	if err := s.Store.CreateAccount(ctx, a, store.Household{}); errors.Is(err, store.ErrConflict) {
		return errConflict("an account with this e-mail address exists")
	} else if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	secret := auth.NewTOTPSecret()
	codes, hashes := auth.NewRecoveryCodes(a.ID)
	// Step 0: the first code the new staff member types is accepted. Until
	// this completes, the account has no factor and cannot sign in.
	if err := s.Store.PutPendingTOTP(ctx, store.TOTP{AccountID: a.ID, Secret: secret, Created: now}); err != nil {
		return fmt.Errorf("store authenticator: %w", err)
	}
	if _, err := s.Store.ConfirmTOTP(ctx, a.ID, 0, hashes, ""); err != nil {
		return fmt.Errorf("confirm authenticator: %w", err)
	}
	addLog(r, "account", a.ID, "role", a.Role)
	s.Logger.InfoContext(ctx, "admin: staff account created", "account", a.ID, "role", a.Role)
	writeJSON(w, http.StatusCreated, api.AdminStaffCreated{
		AccountID: a.ID, TOTPSecret: auth.EncodeTOTPSecret(secret), TOTPURI: auth.TOTPURI(secret, totpIssuer, a.Email), RecoveryCodes: codes,
	})
	return nil
}

func adminAccount(a store.Account) api.AdminAccount {
	return api.AdminAccount{AccountID: a.ID, Email: a.Email, Role: apiRole(a.Role), Org: a.Org, Country: a.Country, Disabled: a.Disabled, CreatedAt: a.Created}
}

// staffOrg checks a staff account's organisation (free text) and office
// country (ISO 3166-1 alpha-2, upper-cased).
func staffOrg(org, country string) (string, string, error) {
	org = strings.TrimSpace(org)
	if len(org) > 100 || strings.ContainsFunc(org, unicode.IsControl) {
		return "", "", errInvalid("org must be at most 100 characters without control characters")
	}
	country = strings.ToUpper(strings.TrimSpace(country))
	if country != "" && (len(country) != 2 || strings.ContainsFunc(country, func(r rune) bool { return r < 'A' || r > 'Z' })) {
		return "", "", errInvalid("country must be a two-letter ISO 3166-1 code, e.g. DE or US")
	}
	return org, country, nil
}

func (s *Server) adminListStaff(w http.ResponseWriter, r *http.Request) error {
	as, err := s.Store.StaffAccounts(r.Context())
	if err != nil {
		return fmt.Errorf("list staff: %w", err)
	}
	out := api.AdminStaffList{Staff: make([]api.AdminAccount, 0, len(as))}
	for _, a := range as {
		out.Staff = append(out.Staff, adminAccount(a))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminAccount decodes an AdminAccountAction, loads its account, runs act
// and answers the account as it is afterwards.
func (s *Server) adminAccount(act func(ctx context.Context, a store.Account) (ended int, err error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in api.AdminAccountAction
		if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
			return err
		}
		ctx := r.Context()
		a, err := s.adminLookup(ctx, in.Email)
		if err != nil {
			return err
		}
		ended, err := act(ctx, a)
		if err != nil {
			return err
		}
		if a, err = s.Store.Account(ctx, a.ID); err != nil {
			return fmt.Errorf("reload account: %w", err)
		}
		addLog(r, "account", a.ID, "sessions_ended", ended)
		s.Logger.InfoContext(ctx, "admin: account action", "route", r.Pattern, "account", a.ID, "sessions_ended", ended)
		s.recordAccount(ctx, a.ID, api.AuditStaff, auditlog.Body{
			Actor:  auditlog.Actor{Kind: api.ActorOperator},
			Action: strings.TrimPrefix(r.Pattern, "POST /admin/accounts/"), Resource: "account:" + a.ID, Decision: "done",
			Detail: fmt.Sprintf("by the service's operator on the admin socket; %d sessions ended", ended),
		})
		out := adminAccount(a)
		out.SessionsEnded = ended
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (s *Server) adminDisable(ctx context.Context, a store.Account) (int, error) {
	ended, err := s.Store.SetDisabled(ctx, a.ID, true)
	if err != nil {
		return 0, fmt.Errorf("disable account: %w", err)
	}
	s.EndSessions(ended)
	return len(ended), nil
}

func (s *Server) adminEnable(ctx context.Context, a store.Account) (int, error) {
	if _, err := s.Store.SetDisabled(ctx, a.ID, false); err != nil {
		return 0, fmt.Errorf("enable account: %w", err)
	}
	return 0, nil
}

func (s *Server) adminRevoke(ctx context.Context, a store.Account) (int, error) {
	ended, err := s.Store.DeleteSessions(ctx, a.ID, "")
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	s.EndSessions(ended)
	return len(ended), nil
}

// adminQuota sets the storage quota of the household an account owns; the
// change is logged in that household's audit log.
func (s *Server) adminQuota(w http.ResponseWriter, r *http.Request) error {
	var in api.AdminQuota
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if in.Bytes < 0 {
		return errInvalid("bytes must be 0 (no limit) or more")
	}
	ctx := r.Context()
	a, err := s.adminLookup(ctx, in.Email)
	if err != nil {
		return err
	}
	h, err := s.Store.HouseholdOf(ctx, a.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalid("staff accounts own no household, so they have no quota")
	}
	if err != nil {
		return fmt.Errorf("load household: %w", err)
	}
	if err := s.Store.SetQuota(ctx, h.ID, in.Bytes); err != nil {
		return fmt.Errorf("set quota: %w", err)
	}
	out := adminAccount(a)
	if out.QuotaBytes, out.UsedBytes, err = s.usage(ctx, h.ID); err != nil {
		return err
	}
	addLog(r, "account", a.ID, "quota", in.Bytes)
	s.Logger.InfoContext(ctx, "admin: quota set", "account", a.ID, "bytes", in.Bytes)
	s.recordAsync(ctx, h.ID, api.AuditStaff, auditlog.Body{
		Actor: auditlog.Actor{Kind: api.ActorOperator}, Action: "quota", Resource: "account:" + a.ID, Decision: "done",
		Detail: fmt.Sprintf("storage quota set to %d bytes (0: none) by the service's operator on the admin socket; %d bytes stored", in.Bytes, out.UsedBytes),
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminLookup finds the account an admin command names by e-mail.
func (s *Server) adminLookup(ctx context.Context, email string) (store.Account, error) {
	email, err := auth.NormalizeEmail(email)
	if err != nil {
		return store.Account{}, err
	}
	a, err := s.Store.AccountByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, errNotFound("no account with this e-mail address")
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("load account: %w", err)
	}
	return a, nil
}
