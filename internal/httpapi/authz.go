package httpapi

// Authorization. Roles (api.Role*): a customer account is the owner of its
// own household and may be a member of others (store.Membership: some
// cameras, until an expiry); staff accounts (support, annotator, operator)
// own nothing.
//
//   - Household routes (roster, claims, cameras, epochs, manifests,
//     objects) are for customers: staff get 403 and an "access denied" log
//     line (support reaches household data only through owner-signed
//     grants, a later issue).
//   - Each handler loads the object and its household from the store, no
//     cache, and checks the caller's relation to that household: the owner
//     may do everything; a member may use the read routes of a camera in
//     their scope before the membership expires (other routes: 403);
//     anyone else gets 404, exactly like a missing object.
//   - Ops routes are for the operator: everyone else gets 403.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/store"
)

// denied logs an access denial (role, route, account) and returns a 403.
func (s *Server) denied(r *http.Request, c *caller, msg string) error {
	s.Logger.WarnContext(r.Context(), "access denied", "role", c.role, "route", r.Pattern, "account", c.account)
	return errForbidden(msg)
}

// customer runs h for customer accounts; staff get 403.
func (s *Server) customer(h func(http.ResponseWriter, *http.Request, *caller) error) handlerFunc {
	return s.user(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if c.isStaff() {
			return s.denied(r, c, "staff accounts have no access to household data")
		}
		return h(w, r, c)
	})
}

// staffOnly runs h for accounts of the given staff role only.
func (s *Server) staffOnly(role string, h func(http.ResponseWriter, *http.Request, *caller) error) handlerFunc {
	return s.user(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if c.role != role {
			return s.denied(r, c, "this is for the service's "+role+" only")
		}
		return h(w, r, c)
	})
}

// fresh runs h only for a session that signed in within api.ReauthWindow.
func (s *Server) fresh(h func(http.ResponseWriter, *http.Request, *caller) error) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if err := s.recent(c); err != nil {
			return err
		}
		return h(w, r, c)
	}
}

// membership returns c's relation to cam's household as a member:
// member is true if c has a membership of that household at all (expired
// or not), live if it has not expired, inScope if cam is shared with c.
func (s *Server) membership(ctx context.Context, c *caller, cam store.Camera) (member, live, inScope bool, err error) {
	m, err := s.Store.Membership(ctx, cam.HouseholdID, c.account)
	if errors.Is(err, store.ErrNotFound) {
		return false, false, false, nil
	}
	if err != nil {
		return false, false, false, fmt.Errorf("load membership: %w", err)
	}
	live = m.Expires.IsZero() || s.Now().Before(m.Expires)
	return true, live, slices.Contains(m.Cameras, cam.ID), nil
}

// cameraAccess checks c's access to a loaded camera: nil for the owner,
// and for a live member with the camera in scope when read is set. A
// member of the household gets 403 for anything else (a camera not
// shared with them, an expired membership, a route that changes
// something); anyone else gets notFound, exactly as for a missing camera.
func (s *Server) cameraAccess(r *http.Request, c *caller, cam store.Camera, read bool, notFound error) error {
	if cam.HouseholdID == c.household && c.household != "" {
		return nil
	}
	member, live, inScope, err := s.membership(r.Context(), c, cam)
	switch {
	case err != nil:
		return err
	case !member:
		return notFound
	case !live:
		return s.denied(r, c, "your access to this household has expired: ask the owner to share again")
	case !inScope:
		return s.denied(r, c, "this camera is not shared with you")
	case !read:
		return s.denied(r, c, "members may view this camera, not change it")
	}
	addLog(r, "as", api.RoleMember)
	if la, ok := r.Context().Value(logKey{}).(*logAttrs); ok {
		la.memberOf = cam.HouseholdID
	}
	return nil
}

// viewCamera loads the camera in the path for a read route: the owner's or
// an in-scope member's.
func (s *Server) viewCamera(r *http.Request, c *caller) (store.Camera, error) {
	return s.loadCamera(r, c, true)
}

func (s *Server) loadCamera(r *http.Request, c *caller, read bool) (store.Camera, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Camera{}, err
	}
	notFound := errNotFound("no such camera")
	cam, err := s.Store.Camera(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Camera{}, notFound
	}
	if err != nil {
		return store.Camera{}, fmt.Errorf("load camera: %w", err)
	}
	if err := s.cameraAccess(r, c, cam, read, notFound); err != nil {
		return store.Camera{}, err
	}
	addLog(r, "camera", id)
	return cam, nil
}

// opsOverview is GET /v1/ops/overview (operator): counts only.
func (s *Server) opsOverview(w http.ResponseWriter, r *http.Request, _ *caller) error {
	st, err := s.Store.Stats(r.Context())
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	out := api.OpsOverview{
		Accounts: st.Accounts, Households: st.Households, Hubs: st.Hubs, Cameras: st.Cameras, Objects: st.Objects, Bytes: st.Bytes,
	}
	if s.Audit == nil {
		out.AuditLogError = "no audit log configured"
	} else if out.AuditLogSize, err = s.Audit.Size(r.Context()); err != nil {
		out.AuditLogError = "the published checkpoint cannot be read: check the log directory and disk"
		s.Logger.ErrorContext(r.Context(), "audit log checkpoint unreadable", "err", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
