package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 1 << 20

// decode reads a JSON object into dst strictly: unknown fields, wrong types and
// trailing data are errors with field-level messages.
func decode(c *gin.Context, dst any) error {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body must hold a single JSON object", nil)
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	var fe *fieldError
	switch {
	case errors.As(err, &tooBig):
		return &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large",
			msg: fmt.Sprintf("request body over %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty; expected a JSON object", nil)
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON", nil)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badRequest("request body must be a JSON object", nil)
		}
		return badRequest("invalid input", map[string]string{field: "must be " + jsonTypeName(typ.Type.String())})
	case errors.As(err, &fe):
		return badRequest("invalid input", map[string]string{fe.field: fe.msg})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest("invalid input", map[string]string{name: "unknown field"})
	}
	return badRequest("malformed JSON: "+err.Error(), nil)
}

func jsonTypeName(t string) string {
	t = strings.TrimLeft(t, "*")
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map"), strings.Contains(t, "."):
		return "an object"
	}
	return "of type " + t
}

type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// Opt is a field of a PATCH body: Set tells whether the client sent it at all, and
// Value is nil when it sent null.
type Opt[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// Ptr returns the value pointer when set (nil for "leave unchanged").
func (o Opt[T]) Ptr() *T {
	if !o.Set {
		return nil
	}
	return o.Value
}

// Nullable returns **T for inputs that distinguish unchanged (nil) from cleared.
func (o Opt[T]) Nullable() **T {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}

// pathID parses a numeric path parameter.
func pathID(c *gin.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, &httpError{status: http.StatusNotFound, code: "not_found", msg: "not found"}
	}
	return id, nil
}

func ok(c *gin.Context, v any)      { c.JSON(http.StatusOK, v) }
func created(c *gin.Context, v any) { c.JSON(http.StatusCreated, v) }

// list is the envelope for collections.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func listOf[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}
