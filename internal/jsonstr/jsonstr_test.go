package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		ok        bool
	}{
		{`plain`, "plain", true},
		{``, "", true},
		{`a\"b\\c\/d`, `a"b\c/d`, true},
		{`\b\f\n\r\t`, "\b\f\n\r\t", true},
		{`\u00e9\u4E2D`, "é中", true},
		{`\ud83d\ude00`, "😀", true},  // a surrogate pair
		{`\ud83d`, "\uFFFD", true},   // lone high surrogate
		{`\ud83dx`, "\uFFFDx", true}, // high surrogate, then text
		{`\ude00\ud83d`, "\uFFFD\uFFFD", true},
		{`\ud83d\u0041`, "\uFFFDA", true}, // high surrogate, then no low one
		{"caf\xc3\xa9", "café", true},
		{"bad\xffbyte", "bad\uFFFDbyte", true},
		{`\x`, "", false},
		{`\u12`, "", false},
		{`\u12zz`, "", false},
		{`trailing\`, "", false},
		{"tab\there", "", false}, // raw control characters are invalid JSON
	} {
		got, ok := Append([]byte("pre:"), []byte(tc.raw))
		if ok != tc.ok || (ok && string(got) != "pre:"+tc.want) || (!ok && string(got) != "pre:") {
			t.Errorf("Append(%q) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzAppend checks Append against encoding/json on any string body.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{`a\nb`, `\ud83d\ude00`, `\ud83d`, "x\xffy", `\u00`, `\\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		quoted := append(append([]byte{'"'}, raw...), '"')
		var want string
		wantErr := json.Unmarshal(quoted, &want) != nil
		got, ok := Append(nil, raw)
		if ok == wantErr {
			t.Fatalf("%q: ok %v, encoding/json error %v", raw, ok, wantErr)
		}
		if ok && string(got) != want {
			t.Fatalf("%q: got %q, encoding/json %q", raw, got, want)
		}
	})
}
