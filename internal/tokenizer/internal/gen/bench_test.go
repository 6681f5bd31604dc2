package main

import (
	"os"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

// BenchmarkCountReference counts the tokenizer's benchmark corpus with
// tiktoken-go, for comparison with its BenchmarkCount:
//
//	cd internal/tokenizer/internal/gen && go test -run x -bench .
func BenchmarkCountReference(b *testing.B) {
	corpus, err := os.ReadFile("../../testdata/corpus.txt")
	if err != nil {
		b.Fatal(err)
	}
	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := enc.Count(string(corpus))
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	for b.Loop() {
		enc.Count(string(corpus))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)*1000, "ns/1ktok")
}
