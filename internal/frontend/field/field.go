// Package field reads a request body's fields for the front ends that
// parse with internal/jsontree: the checks every API makes alike (a field
// present, a required string, a boolean), in each API's own words, keeping
// the first error.
package field

import (
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/jsontree"
)

// Words are an API's error messages; each is a format whose one verb is
// the field's name.
type Words struct {
	Missing  string // a required field is absent or null
	String   string // not a string
	NonEmpty string // an empty or blank string
	Bool     string // not a boolean
	Array    string // not an array
}

// Reader reads fields of T's top-level object.
type Reader struct {
	T     *jsontree.Tree
	Err   *conv.Error // the first failure; later ones are dropped
	Words Words
}

// Fail records a 400 for param, unless one is recorded already.
func (r *Reader) Fail(param, code, format string, args ...any) {
	if r.Err == nil {
		r.Err = conv.InvalidRequest(param, code, format, args...)
	}
}

// Present returns a top-level field unless it is absent or null (-1).
func (r *Reader) Present(name string) int32 {
	i := r.T.Field(r.T.Root(), name)
	if !r.T.Present(i) {
		return -1
	}
	return i
}

// RequiredString reads a string that must be there and not blank.
func (r *Reader) RequiredString(name string) string {
	i := r.Present(name)
	if i < 0 {
		r.Fail(name, "missing_required_parameter", r.Words.Missing, name)
		return ""
	}
	s, ok := r.T.Str(i)
	if !ok {
		r.Fail(name, "invalid_type", r.Words.String, name)
		return ""
	}
	if strings.TrimSpace(s) == "" {
		r.Fail(name, "invalid_value", r.Words.NonEmpty, name)
	}
	return s
}

// OptionalBool reads a boolean that may be absent (false).
func (r *Reader) OptionalBool(name string) bool {
	i := r.Present(name)
	if i < 0 {
		return false
	}
	b, ok := r.T.Bool(i)
	if !ok {
		r.Fail(name, "invalid_type", r.Words.Bool, name)
	}
	return b
}

// RequiredArray returns an array that must be there, or -1.
func (r *Reader) RequiredArray(name string) int32 {
	i := r.Present(name)
	if i < 0 {
		r.Fail(name, "missing_required_parameter", r.Words.Missing, name)
		return -1
	}
	if r.T.Kind(i) != '[' {
		r.Fail(name, "invalid_type", r.Words.Array, name)
		return -1
	}
	return i
}
