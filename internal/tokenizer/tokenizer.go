// Package tokenizer counts OpenAI o200k_base tokens (the encoding of GPT-4o,
// GPT-4.1, GPT-5, o1, o3 and o4-mini) exactly and cheaply, for usage
// reporting and max_tokens enforcement.
//
// The vocabulary is embedded in the binary (1 MB gzipped) and decoded on
// first use, or by Preload, into about 6 MB of memory. Counting is safe for
// concurrent use and does not allocate, except for pieces of text over 64 KB
// without a break, whose merge buffers are not kept for reuse.
//
// Text is encoded as by tiktoken's encode_ordinary: special tokens such as
// <|endoftext|> count as ordinary text. Invalid UTF-8 is counted as the Go
// port github.com/tiktoken-go/tokenizer counts it: the pre-tokenizer reads
// each bad byte as U+FFFD, and the bytes themselves are merged.
package tokenizer

import "unsafe"

// Count returns the number of o200k_base tokens in s.
func Count(s string) int {
	v := load()
	sp := splitter{s: s}
	n := 0
	for i := 0; i < len(s); {
		e := sp.next(i)
		n += v.tokens(s[i:e], nil)
		i = e
	}
	return n
}

// CountBytes is Count for a byte slice, without copying it. b must not be
// modified during the call.
func CountBytes(b []byte) int {
	return Count(unsafe.String(unsafe.SliceData(b), len(b)))
}

// Preload decodes the vocabulary now rather than on the first count, so a
// server can pay for it (some 50 ms of CPU) at start-up instead of in its
// first request. It is safe to call more than once, and concurrently.
func Preload() {
	load()
}
