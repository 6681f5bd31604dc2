package tokenizer

import (
	"strings"
	"testing"
)

// The benchmarks count testdata/corpus.txt: about 2,100 tokens of English
// prose, markdown, code in seven languages, JSON, eleven scripts, emoji and
// odd whitespace. ns/1ktok is the time per 1,000 tokens. The same text
// counted by tiktoken-go: BenchmarkCountReference in internal/gen.

func reportPer1k(b *testing.B, tokens int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tokens)*1000, "ns/1ktok")
}

func BenchmarkCount(b *testing.B) {
	Preload()
	n := Count(corpus)
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	for b.Loop() {
		Count(corpus)
	}
	reportPer1k(b, n)
}

// BenchmarkCountEnglish counts plain English prose, the common case.
func BenchmarkCountEnglish(b *testing.B) {
	Preload()
	s := corpus[:strings.Index(corpus, "## Changes")]
	n := Count(s)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		Count(s)
	}
	reportPer1k(b, n)
}

// BenchmarkCounter streams the corpus in 4-byte deltas, about the size of
// the deltas of a streamed completion.
func BenchmarkCounter(b *testing.B) {
	Preload()
	n := Count(corpus)
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	var c Counter
	for b.Loop() {
		c.Reset()
		for i := 0; i < len(corpus); i += 4 {
			c.Add(corpus[i:min(i+4, len(corpus))])
		}
		if c.Total() != n {
			b.Fatal("wrong total")
		}
	}
	reportPer1k(b, n)
}

// BenchmarkCountLongPiece counts 1 MB without a break: one piece, merged
// chunk by chunk.
func BenchmarkCountLongPiece(b *testing.B) {
	Preload()
	s := strings.Repeat("a", 1<<20)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Count(s)
	}
}

// BenchmarkCountPathological counts 1 MiB of each kind of text that used to
// be slow (one piece without a break), beside 1 MiB of English prose for
// scale. Compare the MB/s columns:
//
//	go test -run x -bench CountPathological -benchtime 20x ./internal/tokenizer/
func BenchmarkCountPathological(b *testing.B) {
	Preload()
	for _, in := range pathological(1 << 20) {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				Count(in.text)
			}
		})
	}
}

// BenchmarkPreload measures decoding the embedded vocabulary.
func BenchmarkPreload(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeVocab(vocabGz); err != nil {
			b.Fatal(err)
		}
	}
}
