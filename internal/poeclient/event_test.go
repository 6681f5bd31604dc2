package poeclient

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestAppendText(t *testing.T) {
	tests := []struct {
		data    string
		want    string
		wantErr bool
	}{
		{`{"text": "Hello"}`, "Hello", false},
		{`{"text": " caf\u00e9!"}`, " café!", false},
		{`{"text":"a\"b\\c\/d\n\t\r\b\f"}`, "a\"b\\c/d\n\t\r\b\f", false},
		{`{"text": "\ud83d\ude00 emoji"}`, "😀 emoji", false},
		{`{"text": "lone \ud83d surrogate"}`, "lone \ufffd surrogate", false},
		{`{"index": 0, "text": "x", "extra": {"a": [1, 2.5e3, null, true, "s"]}}`, "x", false},
		{` { "text" : "spaced" } `, "spaced", false},
		{`{"text": "first", "text": "last"}`, "last", false},
		{`{"text": "raw ütf8"}`, "raw ütf8", false},
		{`{"text": ""}`, "", false},
		{`{"text": 123}`, "", true},
		{`{"text": banana}`, "", true},
		{`{"other": "x"}`, "", true},
		{`123`, "", true},
		{`{"text": "unterminated}`, "", true},
		{`{"text": "x"} trailing`, "", true},
		{`{"te\u0078t": "escaped key"}`, "escaped key", false},
	}
	for _, tt := range tests {
		got, err := AppendText([]byte("pre:"), []byte(tt.data))
		if tt.wantErr {
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != KindProtocol {
				t.Errorf("%s: err = %v, want protocol error", tt.data, err)
			}
			continue
		}
		if err != nil || string(got) != "pre:"+tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.data, got, err, tt.want)
		}
	}
}

// FuzzAppendText checks that the fast path agrees with encoding/json.
func FuzzAppendText(f *testing.F) {
	for _, s := range []string{`{"text": "a"}`, `{"text": "\u00e9\ud83d\ude00"}`, `{"text": 1}`, `{"a": {"text": "no"}, "text": "yes"}`, `{"text":"\x01"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := AppendText(nil, data)
		var v struct {
			Text *string `json:"text"`
		}
		jerr := json.Unmarshal(data, &v)
		if jerr != nil || v.Text == nil {
			if err == nil {
				// The fast path may accept what encoding/json rejects
				// only if the stdlib also recovers the same string.
				t.Fatalf("accepted %q (stdlib: %v)", data, jerr)
			}
			return
		}
		if err != nil || string(got) != *v.Text {
			t.Fatalf("%q: got %q %v, stdlib %q", data, got, err, *v.Text)
		}
	})
}

func TestKindOf(t *testing.T) {
	for k := EventText; k <= EventDone; k++ {
		if got := KindOf([]byte(k.String())); got != k {
			t.Errorf("KindOf(%q) = %v", k.String(), got)
		}
	}
	if KindOf([]byte("weird")) != EventUnknown {
		t.Error("unknown event")
	}
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`{"url": "https://x/y.png", "content_type": "image/png", "name": "y.png", "inline_ref": "Ab3dE9xZ"}`))
	if err != nil || f.URL != "https://x/y.png" || f.InlineRef != "Ab3dE9xZ" || f.Name != "y.png" {
		t.Fatalf("%+v %v", f, err)
	}
	f, err = ParseFile([]byte(`{"url": "u", "content_type": "c", "name": "n", "inline_ref": null}`))
	if err != nil || f.InlineRef != "" {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := ParseFile([]byte(`{"url": "u"}`)); err == nil {
		t.Fatal("missing fields accepted")
	}
}

// textEvents are typical Poe text payloads: a short token, a sentence with
// escapes, and a code chunk of a few hundred bytes.
var textEvents = map[string][]byte{
	"token":    []byte(`{"text": "0123456789abcdef"}`),
	"escaped":  []byte(`{"text": "He said \"hi\"\nand left \u00e9t\u00e9."}`),
	"code512B": []byte(`{"text": "` + strings.Repeat(`for i := range n {\n\tsum += i\n}\n`, 16) + `"}`),
}

// BenchmarkAppendText measures the hand-written fast path (jsonscan.go);
// BenchmarkAppendTextStdlib the encoding/json slow path on the same
// events, which is what AppendText would be without it. BENCHMARKS.md
// records both.
func BenchmarkAppendText(b *testing.B) {
	for name, data := range textEvents {
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendText(buf[:0], data)
			}
		})
	}
}

func BenchmarkAppendTextStdlib(b *testing.B) {
	for name, data := range textEvents {
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var v struct {
					Text *string `json:"text"`
				}
				if err := json.Unmarshal(data, &v); err != nil || v.Text == nil {
					b.Fatal(err)
				}
				buf = append(buf[:0], *v.Text...)
			}
		})
	}
}

func TestTextEventsSameBothWays(t *testing.T) {
	for name, data := range textEvents {
		fast, ok := appendStringField(nil, data, "text")
		var v struct{ Text string }
		if err := json.Unmarshal(data, &v); !ok || err != nil || string(fast) != v.Text {
			t.Errorf("%s: fast %q (%v), stdlib %q (%v)", name, fast, ok, v.Text, err)
		}
	}
}
