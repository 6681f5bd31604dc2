package tokenizer

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// FuzzCount checks the merge implementations, Count, CountContext and
// Counter against each other, and against the reference's ids for inputs it
// has (the seeds):
//
//	go test -run x -fuzz FuzzCount -fuzztime 60s ./internal/tokenizer/
//
// To check an input the fuzzer finds against the reference, add it to
// testdata/cases.txt and regenerate (see ref_test.go).
func FuzzCount(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	for _, s := range strings.SplitAfter(corpus, "\n") {
		f.Add(s)
	}
	ref := loadRef(f)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			// Minimising an interesting input takes up to n² runs;
			// the tests cover long pieces.
			t.Skip()
		}
		if s != "" {
			// Every merge implementation, on s taken as one piece.
			small, heap, chunked := mergeModes(s)
			if small != nil && !slices.Equal(small, heap) || !slices.Equal(chunked, heap) {
				t.Fatalf("merging %q: scan %v, heap %v, chunked %v", s, small, heap, chunked)
			}
		}
		ids := encode(s)
		if want, ok := ref.byText[s]; ok && !slices.Equal(ids, want) {
			t.Fatalf("encode(%q)\n got %v\nwant %v\n pieces %q", s, ids, want, split(s))
		}
		n := Count(s)
		if n != len(ids) {
			t.Fatalf("Count(%q) = %d, %d ids", s, n, len(ids))
		}
		if m, err := CountContext(context.Background(), s); m != n || err != nil {
			t.Fatalf("CountContext(%q) = %d, %v; Count %d", s, m, err, n)
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
