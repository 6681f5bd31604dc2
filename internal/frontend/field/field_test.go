package field

import (
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/jsontree"
)

var words = Words{Missing: "%s missing", String: "%s not a string", NonEmpty: "%s empty", Bool: "%s not a bool", Array: "%s not a list"}

func reader(t *testing.T, body string) *Reader {
	t.Helper()
	tr, err := jsontree.ParseObject([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return &Reader{T: tr, Words: words}
}

func TestReaderKeepsTheFirstFailureInTheAPIsWords(t *testing.T) {
	r := reader(t, `{"model":" ","stream":"yes","messages":{},"n":null}`)
	if s := r.RequiredString("model"); s != " " || r.Err == nil || r.Err.Param != "model" || r.Err.Code != "invalid_value" || r.Err.Message != "model empty" {
		t.Fatalf("%q %+v", s, r.Err)
	}
	first := r.Err
	r.OptionalBool("stream")
	r.RequiredArray("messages")
	if r.Err != first {
		t.Fatalf("a later failure replaced the first: %+v", r.Err)
	}
	for _, c := range []struct {
		read func(*Reader)
		code string
		msg  string
	}{
		{func(r *Reader) { r.RequiredString("absent") }, "missing_required_parameter", "absent missing"},
		{func(r *Reader) { r.RequiredString("n") }, "missing_required_parameter", "n missing"}, // null is absent
		{func(r *Reader) { r.RequiredString("messages") }, "invalid_type", "messages not a string"},
		{func(r *Reader) { r.OptionalBool("stream") }, "invalid_type", "stream not a bool"},
		{func(r *Reader) { r.RequiredArray("messages") }, "invalid_type", "messages not a list"},
	} {
		r := reader(t, `{"model":" ","stream":"yes","messages":{},"n":null}`)
		c.read(r)
		if r.Err == nil || r.Err.Code != c.code || r.Err.Message != c.msg || r.Err.Status != 400 {
			t.Errorf("want %s %q, got %+v", c.code, c.msg, r.Err)
		}
	}
	r = reader(t, `{"ok":true,"list":[1]}`)
	if !r.OptionalBool("ok") || r.OptionalBool("absent") || r.RequiredArray("list") < 0 || r.Err != nil {
		t.Fatalf("valid fields: %+v", r.Err)
	}
}
