package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// FuzzCount compares Count, the token ids and Counter with the reference.
//
//	go test -run x -fuzz FuzzCount -fuzztime 60s ./internal/tokenizer/
func FuzzCount(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	for _, s := range strings.SplitAfter(corpus, "\n") {
		f.Add(s)
	}
	stock, fixed := refs()
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 160 {
			// Minimising an interesting input takes up to n² runs, and
			// this target is slow enough (about 0.3 ms) that long inputs
			// would stall the fuzzer for a minute each. Pieces interact
			// only with their neighbours, and the tests cover long ones.
			t.Skip()
		}
		if s != "" {
			// Every merge implementation, on s taken as one piece.
			small, heap, buckets := mergeModes(s)
			if small != nil && !slices.Equal(small, heap) || buckets != nil && !slices.Equal(buckets, heap) {
				t.Fatalf("merging %q: scan %v, heap %v, buckets %v", s, small, heap, buckets)
			}
		}
		got, want := encode(s), refEncode(t, fixed, s)
		if !slices.Equal(got, want) {
			t.Fatalf("encode(%q)\n got %v\nwant %v\n pieces %q\nwant pieces %q", s, got, want, split(s), refSplit(t, s))
		}
		n := Count(s)
		if n != len(want) {
			t.Fatalf("Count(%q) = %d, want %d", s, n, len(want))
		}
		if stockSafe(s) {
			if m, _ := stock.Count(s); m != n {
				t.Fatalf("Count(%q) = %d, stock reference %d", s, n, m)
			}
		}
		var c Counter
		for i := 0; i < len(s); i += 1 + len(s)/3 {
			c.Add(s[i:min(len(s), i+1+len(s)/3)])
		}
		if c.Total() != n {
			t.Fatalf("Counter total %d, Count %d for %q", c.Total(), n, s)
		}
	})
}
