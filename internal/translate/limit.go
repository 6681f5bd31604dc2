package translate

import (
	"unicode/utf8"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer"
)

// limiter enforces max_tokens over everything the answer emits (content,
// reasoning and tool arguments, as OpenAI counts completion tokens). The
// running count is incremental; near the limit it is made exact, and the
// delta that crosses it is cut at the last fitting character.
type limiter struct {
	max     int
	counter tokenizer.Counter
	emitted []byte
	done    bool
}

// exactMargin is how close to the limit the cheap running count must get
// before each delta is counted exactly.
const exactMargin = 16

func (l *limiter) take(p []byte, _ *Answer) ([]byte, error) {
	if l.max <= 0 {
		return p, nil
	}
	if l.done {
		return nil, ErrLength
	}
	if l.counter.Add(string(p)) < l.max-exactMargin {
		l.emitted = append(l.emitted, p...)
		return p, nil
	}
	base := len(l.emitted)
	l.emitted = append(l.emitted, p...)
	n := tokenizer.CountBytes(l.emitted)
	if n < l.max {
		return p, nil
	}
	if n > l.max {
		// Largest prefix that still fits, cut at a character boundary.
		var cuts []int
		for i := range len(p) {
			if utf8.RuneStart(p[i]) {
				cuts = append(cuts, i)
			}
		}
		lo, hi := 0, len(cuts)-1 // cuts[lo] (possibly 0) always fits
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if tokenizer.CountBytes(l.emitted[:base+cuts[mid]]) <= l.max {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		cut := 0
		if len(cuts) > 0 {
			cut = cuts[lo]
		}
		p = p[:cut]
		l.emitted = l.emitted[:base+cut]
	}
	l.done = true
	return p, ErrLength
}

func (l *limiter) reset() {
	l.counter.Reset()
	l.emitted = l.emitted[:0]
	l.done = false
}
