package chat

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/jsontree"
)

// Bodies a hostile client can send under the default max_request_body:
// they must cost O(body) time and a small constant times the body in
// memory, whatever their shape.

const hostileMessages = `"messages":[{"role":"user","content":"hi"}]`

// repeatTo returns prefix + elem repeated (sep between) + suffix, about
// size bytes in all.
func repeatTo(size int, prefix, elem, sep, suffix string) []byte {
	b := make([]byte, 0, size+len(elem)+len(sep)+len(suffix))
	b = append(append(b, prefix...), elem...)
	unit := sep + elem
	if rest := size - len(suffix) - len(b); rest > 0 {
		b = append(b, bytes.Repeat([]byte(unit), (rest+len(unit)-1)/len(unit))...)
	}
	return append(b, suffix...)
}

// normalBody is an ordinary request of about size bytes: many turns of
// prose, the shape a long conversation has.
func normalBody(size int) []byte {
	turn := `{"role":"user","content":"` + strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20) + `"},` +
		`{"role":"assistant","content":"` + strings.Repeat(`A reply with \"quotes\" and a \n newline. `, 20) + `"}`
	return repeatTo(size, `{"model":"m","messages":[`, turn, ",", `]}`)
}

type hostileCase struct {
	name   string
	body   func(size int) []byte
	status string // "ok" or the error code expected
	param  string
}

var hostileCases = []hostileCase{
	{"ignored array of numbers", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"junk":[`, "0", ",", `]}`)
	}, "ok", ""},
	{"whole body array of numbers", func(n int) []byte { return repeatTo(n, `[`, "0", ",", `]`) }, "invalid_json", ""},
	{"whole body number list, not JSON", func(n int) []byte { return repeatTo(n, ``, "0", ",", ``) }, "invalid_json", ""},
	{"ignored tiny objects", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"junk":[`, "{}", ",", `]}`)
	}, "ok", ""},
	{"many top-level members", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,`, `"a":{}`, ",", `}`)
	}, "ok", ""},
	{"messages of tiny objects", func(n int) []byte {
		return repeatTo(n, `{"model":"m","messages":[`, "{}", ",", `]}`)
	}, "missing_required_parameter", "messages[0].role"},
	{"messages of numbers after a valid one", func(n int) []byte {
		return repeatTo(n, `{"model":"m","messages":[{"role":"user","content":"hi"},`, "0", ",", `]}`)
	}, "invalid_type", "messages[1]"},
	{"content of numbers", func(n int) []byte {
		return repeatTo(n, `{"model":"m","messages":[{"role":"user","content":[`, "0", ",", `]}]}`)
	}, "invalid_type", "messages[0].content[0]"},
	{"tools of numbers", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"tools":[`, "0", ",", `]}`)
	}, "invalid_type", "tools[0]"},
	{"stop of numbers", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"stop":["a",`, "0", ",", `]}`)
	}, "invalid_type", "stop"},
	{"logit_bias with one key repeated", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"logit_bias":{`, `"1":0`, ",", `}}`)
	}, "ok", ""},
	{"deep nesting past the limit", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"junk":`, "[", "", ``)
	}, "invalid_json", ""},
	{"deep nesting within the limit, repeated", func(n int) []byte {
		deep := strings.Repeat("[", jsontree.MaxDepth-2) + strings.Repeat("]", jsontree.MaxDepth-2)
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"junk":[`, deep, ",", `]}`)
	}, "ok", ""},
	{"ignored long string", func(n int) []byte {
		return repeatTo(n, `{"model":"m",`+hostileMessages+`,"junk":"`, `\"x`, "", `"}`)
	}, "ok", ""},
}

// allocated returns the bytes allocated by ParseChatRequest(body), and
// the time it took.
func allocated(body []byte) (uint64, time.Duration, string, string) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := ParseChatRequest(body)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	code, param := "ok", ""
	if err != nil {
		code, param = err.Code, err.Param
	}
	return after.TotalAlloc - before.TotalAlloc, took, code, param
}

func TestParseHostileBodiesCostLinear(t *testing.T) {
	sizes := []int{8 << 20, 32 << 20}
	switch {
	case raceEnabled:
		// The race detector slows scanning ~20x; 2 MB still shows any
		// per-element index (the eager tree took 25 bytes an element).
		sizes = []int{2 << 20}
	case testing.Short():
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		normal := normalBody(size)
		if _, err := ParseChatRequest(normal); err != nil {
			t.Fatal(err)
		}
		normalAlloc, normalTook, _, _ := allocated(normal)
		for _, tc := range hostileCases {
			t.Run(fmt.Sprintf("%s/%dMB", tc.name, size>>20), func(t *testing.T) {
				body := tc.body(size)
				alloc, took, code, param := allocated(body)
				if code != tc.status || param != tc.param {
					t.Errorf("got %s %q, want %s %q", code, param, tc.status, tc.param)
				}
				// Memory: the index of what is read, never of what is skipped.
				if limit := uint64(4 * len(body)); alloc > limit {
					t.Errorf("allocated %d bytes for a %d-byte body (limit %d)", alloc, len(body), limit)
				}
				// Work: like a normal body of the same size, with room for a
				// busy machine (-race, 2 cores).
				if limit := 20*normalTook + 500*time.Millisecond; took > limit {
					t.Errorf("took %v; a normal body of the same size took %v", took, normalTook)
				}
				t.Logf("%d bytes: %d allocated, %v (normal body: %d allocated, %v)", len(body), alloc, took, normalAlloc, normalTook)
			})
		}
	}
}

// A body that is not an object is refused before anything else is read.
func TestParseRefusesNonObjectAtFirstByte(t *testing.T) {
	for _, body := range []string{`[`, `"x`, `0,0,0,`, ` 1`, `null`, `x`} {
		_, err := ParseChatRequest([]byte(body))
		if err == nil || err.Status != 400 || err.Code != "invalid_json" || err.Param != "" {
			t.Errorf("%q: %+v", body, err)
		}
		if err != nil && !strings.Contains(err.Message, "not an object") {
			t.Errorf("%q: %s", body, err.Message)
		}
	}
}

// capFor's minimums must not exceed what a valid element can take, or
// valid arrays would lose their preallocation: these are the shortest.
func TestCapForMinimums(t *testing.T) {
	for _, tc := range []struct {
		min   int
		valid string // the shortest valid element, in a request
		at    string
	}{
		{minMessageLen, `{"role":"user","content":""}`, `{"model":"m","messages":[%s]}`},
		{minMessageLen, `{"role":"user","content":[]}`, `{"model":"m","messages":[%s]}`},
		{minPartLen, `{"type":"text","text":""}`, `{"model":"m","messages":[{"role":"user","content":[%s]}]}`},
		{minToolLen, `{"type":"function","function":{"name":"a"}}`, `{"model":"m",` + hostileMessages + `,"tools":[%s]}`},
	} {
		if len(tc.valid) != tc.min {
			t.Errorf("%s is %d bytes, minimum %d", tc.valid, len(tc.valid), tc.min)
		}
		if _, err := ParseChatRequest(fmt.Appendf(nil, tc.at, tc.valid)); err != nil {
			t.Errorf("%s: %v", tc.valid, err.Message)
		}
	}
}
