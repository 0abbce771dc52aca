package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// apiError is the one error shape of the API:
// {"error": {"code": "...", "message": "...", "fields": {...}}}.
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func abortJSON(c *gin.Context, status int, code, msg string, fields map[string]string) {
	c.AbortWithStatusJSON(status, gin.H{"error": apiError{Code: code, Message: msg, Fields: fields}})
}

// fail maps a domain error to a status code in one place.
func fail(c *gin.Context, err error) {
	var ve *tickets.ValidationError
	var he *httpError
	switch {
	case errors.As(err, &he):
		abortJSON(c, he.status, he.code, he.msg, he.fields)
	case errors.As(err, &ve):
		abortJSON(c, http.StatusUnprocessableEntity, "invalid", ve.Message, ve.Fields)
	case errors.Is(err, tickets.ErrNotFound):
		abortJSON(c, http.StatusNotFound, "not_found", "not found", nil)
	case errors.Is(err, tickets.ErrForbidden):
		abortJSON(c, http.StatusForbidden, "forbidden", "you may not do this", nil)
	case errors.Is(err, tickets.ErrUnauthorized):
		abortJSON(c, http.StatusUnauthorized, "unauthorized", err.Error(), nil)
	case errors.Is(err, tickets.ErrInvalidTransition):
		abortJSON(c, http.StatusConflict, "invalid_transition", err.Error(), nil)
	case errors.Is(err, tickets.ErrConflict):
		abortJSON(c, http.StatusConflict, "conflict", err.Error(), nil)
	case errors.Is(err, tickets.ErrRateLimited):
		abortJSON(c, http.StatusTooManyRequests, "rate_limited", err.Error(), nil)
	default:
		slog.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "err", err)
		abortJSON(c, http.StatusInternalServerError, "internal", "internal error", nil)
	}
}

// httpError is an error with its own status, for input problems the domain never sees
// (malformed JSON, a bad path id).
type httpError struct {
	status int
	code   string
	msg    string
	fields map[string]string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string, fields map[string]string) error {
	return &httpError{status: http.StatusBadRequest, code: "bad_request", msg: msg, fields: fields}
}
