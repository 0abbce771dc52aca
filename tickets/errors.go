package tickets

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors that web/ maps to status codes in one place.
var (
	ErrNotFound          = errors.New("not found")
	ErrForbidden         = errors.New("forbidden")
	ErrConflict          = errors.New("conflict")
	ErrInvalidTransition = errors.New("invalid status transition")
	ErrUnauthorized      = errors.New("unauthorized")
	ErrRateLimited       = errors.New("too many attempts")
)

// ValidationError carries field-level messages for bad input.
type ValidationError struct {
	Message string
	Fields  map[string]string
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return fmt.Sprintf("%s (%s)", e.Message, strings.Join(parts, "; "))
}

// Invalid returns a ValidationError for one field.
func Invalid(field, msg string) *ValidationError {
	return &ValidationError{Message: "invalid input", Fields: map[string]string{field: msg}}
}

// Validator collects field errors; Err returns nil when there are none.
type Validator struct{ fields map[string]string }

// Add records msg for field unless the field already has a message.
func (v *Validator) Add(field, msg string) {
	if v.fields == nil {
		v.fields = map[string]string{}
	}
	if _, ok := v.fields[field]; !ok {
		v.fields[field] = msg
	}
}

// Check records msg for field when ok is false.
func (v *Validator) Check(ok bool, field, msg string) {
	if !ok {
		v.Add(field, msg)
	}
}

// MaxLen checks a string length in characters.
func (v *Validator) MaxLen(s string, n int, field string) {
	if len([]rune(s)) > n {
		v.Add(field, fmt.Sprintf("must be at most %d characters", n))
	}
}

// Err returns the collected errors, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Message: "invalid input", Fields: v.fields}
}
