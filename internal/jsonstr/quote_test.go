package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendQuotedMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n cr\r tab\t", "\x00\x01\x1f\x7f", "café 😀 日本",
		"bad \xff\xfe utf8 \xe2\x82", "line\u2028sep\u2029", "<html>&amp;", "bell\b form\f", "\xed\xa0\x80 surrogate"} {
		want, _ := json.Marshal(s)
		want = []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(want)))
		if got := AppendQuoted(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
		if got := AppendQuoted(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("bytes %q: got %s want %s", s, got, want)
		}
	}
}

func FuzzAppendQuoted(f *testing.F) {
	f.Add("a\"b\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendQuoted(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip %q -> %q", s, back)
		}
	})
}
