// Package tokenizer counts OpenAI o200k_base tokens (the encoding of GPT-4o,
// GPT-4.1, GPT-5, o1, o3 and o4-mini) exactly and cheaply, for usage
// reporting and max_tokens enforcement.
//
// The vocabulary is embedded in the binary (1 MB gzipped) and decoded on
// first use, or by Preload, into about 6 MB of memory. Counting is safe for
// concurrent use, does not allocate, and takes time linear in the text
// whatever it holds; long runs without a break (one character repeated, a
// string without spaces) cost a small multiple of prose per byte at worst.
// CountContext and CountBytesContext stop early when a context ends.
//
// Text is encoded as by tiktoken's encode_ordinary: special tokens such as
// <|endoftext|> count as ordinary text. Invalid UTF-8 is counted as the Go
// port github.com/tiktoken-go/tokenizer counts it: the pre-tokenizer reads
// each bad byte as U+FFFD, and the bytes themselves are merged.
package tokenizer

import (
	"context"
	"unsafe"
)

// checkEvery is how much text the Context variants count between looks at
// the context: some 0.1-2 ms of work.
const checkEvery = 64 << 10

// Count returns the number of o200k_base tokens in s.
func Count(s string) int {
	n, _ := count(s, nil)
	return n
}

// CountBytes is Count for a byte slice, without copying it. b must not be
// modified during the call.
func CountBytes(b []byte) int {
	return Count(unsafe.String(unsafe.SliceData(b), len(b)))
}

// CountContext is Count that gives up once ctx is done, looking at it every
// 64 KB of text and every few KB of a long piece. It then returns ctx.Err()
// and the tokens of the pieces it had finished, a lower bound of the count.
func CountContext(ctx context.Context, s string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, ok := count(s, ctx.Done())
	if !ok {
		return n, ctx.Err()
	}
	return n, nil
}

// CountBytesContext is CountContext for a byte slice, without copying it. b
// must not be modified during the call.
func CountBytesContext(ctx context.Context, b []byte) (int, error) {
	return CountContext(ctx, unsafe.String(unsafe.SliceData(b), len(b)))
}

// count counts s, reporting false if done (which may be nil) was closed
// before it finished.
func count(s string, done <-chan struct{}) (int, bool) {
	v := load()
	sp := splitter{s: s}
	n := 0
	check := checkEvery
	for i := 0; i < len(s); {
		if done != nil && i >= check {
			if closed(done) {
				return n, false
			}
			check = i + checkEvery
		}
		e := sp.next(i)
		t := v.tokens(s[i:e], nil, done)
		if t < 0 {
			return n, false
		}
		n += t
		i = e
	}
	return n, true
}

// Preload decodes the vocabulary now rather than on the first count, so a
// server can pay for it (some 50 ms of CPU) at start-up instead of in its
// first request. It is safe to call more than once, and concurrently.
func Preload() {
	load()
}
