package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// httpError is an error a handler raises with its status and the message
// the caller sees. cause (optional) goes to the log only.
type httpError struct {
	status int
	code   string
	msg    string
	cause  error
}

func (e *httpError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.cause }

func errInvalid(msg string) error { return &httpError{http.StatusBadRequest, "invalid", msg, nil} }
func errInvalidf(cause error, format string, args ...any) error {
	return &httpError{http.StatusBadRequest, "invalid", fmt.Sprintf(format, args...), cause}
}
func errUnauthorized(msg string) error {
	return &httpError{http.StatusUnauthorized, "unauthorized", msg, nil}
}
func errForbidden(msg string) error { return &httpError{http.StatusForbidden, "forbidden", msg, nil} }
func errNotFound(msg string) error  { return &httpError{http.StatusNotFound, "not_found", msg, nil} }
func errConflict(msg string) error  { return &httpError{http.StatusConflict, "conflict", msg, nil} }
func errTooLarge(msg string) error {
	return &httpError{http.StatusRequestEntityTooLarge, "too_large", msg, nil}
}

// errorTable maps domain errors to responses, first match wins. An empty
// message means the error's own text is written for the caller and safe to
// show (auth's signup checks, seal's format errors).
var errorTable = []struct {
	target error
	status int
	code   string
	msg    string
}{
	{store.ErrMissingRefs, http.StatusConflict, "conflict", "the manifest lists objects that are not stored for this camera: upload the listed objects first"},
	{store.ErrNotFound, http.StatusNotFound, "not_found", "not found"},
	{store.ErrConflict, http.StatusConflict, "conflict", "the request conflicts with what is stored: re-read and try again"},
	{auth.ErrWeakPassword, http.StatusBadRequest, api.CodeWeakPassword, ""},
	{auth.ErrInvalidEmail, http.StatusBadRequest, "invalid", ""},
	{seal.ErrNotAge, http.StatusBadRequest, "invalid", ""},
	{seal.ErrRosterChain, http.StatusBadRequest, "invalid", ""},
	{seal.ErrSignature, http.StatusBadRequest, "invalid", ""},
	{seal.ErrMalformed, http.StatusBadRequest, "invalid", ""},
	{seal.ErrVersion, http.StatusBadRequest, "invalid", ""},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable", "the service is busy: retry later"},
	{context.Canceled, 499, "canceled", "request cancelled"},
}

// errorBody picks the status and body for err.
func (s *Server) errorBody(err error) (int, api.Error) {
	body := api.Error{ID: newErrorID()}
	var he *httpError
	var rl *rateLimited
	if errors.As(err, &rl) {
		body.Code = api.CodeRateLimited
		body.Message = fmt.Sprintf("too many failed attempts: wait %d seconds, then try again (a device that signed in to this account before is not held back)", int(rl.retry/time.Second))
		return http.StatusTooManyRequests, body
	}
	if errors.As(err, &he) {
		body.Code, body.Message = he.code, he.msg
		return he.status, body
	}
	for _, e := range errorTable {
		if errors.Is(err, e.target) {
			body.Code, body.Message = e.code, e.msg
			if body.Message == "" {
				body.Message = err.Error()
			}
			return e.status, body
		}
	}
	body.Code, body.Message = "internal", "internal error: try again; if it persists, report error id "+body.ID
	return http.StatusInternalServerError, body
}
