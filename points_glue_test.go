package poeopenai

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCaddyfilePoints(t *testing.T) {
	h, err := parse(t, "poe_openai {\n poe_keys k\n points_check 5m\n points_floor 100\n}")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(h)
	if want := `{"poe_keys":["k"],"points_check":300000000000,"points_floor":100}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if err := h.Validate(); err != nil || h.pointsInterval() != 5*time.Minute {
		t.Fatalf("%v %v", err, h.pointsInterval())
	}
	h, _ = parse(t, "poe_openai {\n poe_keys k\n}")
	if h.pointsInterval() != 10*time.Minute || h.PointsFloor != 0 {
		t.Fatalf("defaults: %v %d", h.pointsInterval(), h.PointsFloor)
	}
	h, _ = parse(t, "poe_openai {\n poe_keys k\n points_check 0\n}")
	if got, _ := json.Marshal(h); !strings.Contains(string(got), `"points_check":0`) || h.pointsInterval() != 0 || h.Validate() != nil {
		t.Fatalf("0 must be kept (off), not read as the default: %s", got)
	}

	for _, c := range []struct{ input, msg string }{
		{"poe_openai {\n points_floor -1\n}", `points_floor: "-1" is not a whole number >= 0`},
		{"poe_openai {\n points_check soon\n}", `points_check: "soon" is not a duration`},
		{"poe_openai {\n points_check 1m 2m\n}", "wrong argument count"},
		{"poe_openai {\n points_check 1m\n points_check 2m\n}", `duplicate subdirective "points_check"`},
	} {
		if _, err := parse(t, c.input); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.input, err, c.msg)
		}
	}
	for _, c := range []struct{ json, msg string }{
		{`{"points_check":30000000000}`, "points_check must be 0 (off) or at least 1m"},
		{`{"points_check":-1}`, "points_check must be 0 (off) or at least 1m"},
		{`{"points_floor":-5}`, "points_floor must not be negative"},
	} {
		h := new(Handler)
		if err := json.Unmarshal([]byte(c.json), h); err != nil {
			t.Fatal(err)
		}
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", c.json, err, c.msg)
		}
	}
}
