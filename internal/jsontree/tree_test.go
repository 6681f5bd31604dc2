package jsontree

import (
	"encoding/binary"
	"encoding/json"
	"testing"
)

func TestTreeAcceptsExactlyValidJSON(t *testing.T) {
	for _, s := range []string{`{}`, `[]`, ` {"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"} `, `"x"`, `-0.5e+10`, `true`,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `01`, `1.`, `.5`, `"\x"`, "\"\x01\"", `{"a":1}{}`, `[`, `{"a":[}`, `nul`, ``, ` `} {
		_, err := Parse([]byte(s))
		if (err == nil) != json.Valid([]byte(s)) {
			t.Errorf("%q: tree err %v, json.Valid %v", s, err, json.Valid([]byte(s)))
		}
	}
}

func TestTreeDepthIsBounded(t *testing.T) {
	deep := make([]byte, 0, 2*MaxDepth+2)
	for range MaxDepth + 1 {
		deep = append(deep, '[')
	}
	for range MaxDepth + 1 {
		deep = append(deep, ']')
	}
	if _, err := Parse(deep); err == nil {
		t.Fatal("accepted nesting beyond MaxDepth")
	}
}

// FuzzTree checks the tree against encoding/json: the same bodies are
// valid, and strings (keys included) decode to the same text.
func FuzzTree(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `{"a":"\ud800x","b":"\xff"}`, `[1,{"k\u0041":[true,false,null]}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Parse(b)
		if (err == nil) != json.Valid(b) {
			if err == nil || len(b) < 1000 { // depth limits may differ on huge inputs
				t.Fatalf("%q: tree err %v, json.Valid %v", b, err, json.Valid(b))
			}
		}
		if err != nil || tr.Kind(tr.root) != '{' {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			t.Fatalf("%q: stdlib cannot decode", b)
		}
		for k, raw := range m {
			i := tr.Field(tr.root, k)
			if i < 0 {
				t.Fatalf("%q: key %q not found", b, k)
			}
			var want string
			if json.Unmarshal(raw, &want) == nil {
				if got, ok := tr.Str(i); !ok || got != want {
					t.Fatalf("%q: %q = %q, stdlib %q", b, k, got, want)
				}
			}
		}
	})
}
func TestPlain8(t *testing.T) {
	for s, want := range map[string]bool{"abcdefgh": true, "abcdefg\"": false, "\\bcdefgh": false, "abc\x1fefgh": false,
		"abc\x7fefgh": true, "é€€ab": true, "\xff\xff\xff\xff\xff\xff\xff\xff": true, "        ": true, "\x00bcdefgh": false, "abcdefg\n": false} {
		if got := plain8(binary.LittleEndian.Uint64([]byte(s))); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
	// Every string position and byte value, against the byte-wise rule.
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := c >= 0x20 && c != '"' && c != '\\'
			if got := plain8(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("byte %#x at %d: %v", c, pos, got)
			}
		}
	}
}
