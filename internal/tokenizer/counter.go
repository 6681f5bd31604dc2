package tokenizer

import "unsafe"

// longTail is the length from which Counter stops retokenising its
// unfinished tail on every Add; see Add.
const longTail = 256

// Counter counts the tokens of text that arrives in parts, such as a
// streamed completion, without retokenising what it has already counted.
//
// Tokens never cross the pieces the pre-tokenizer cuts the text into, and a
// piece is final once the pattern has matched it without looking at the end
// of the text. Counter counts final pieces once and keeps only the text from
// the first unfinished piece on (usually the last word or space run), which
// it recounts as more text arrives.
//
// The zero value is ready to use. A Counter is not safe for concurrent use.
type Counter struct {
	done    int    // tokens in the final pieces, which are dropped
	pending []byte // the text from the first unfinished piece on
	tail    int    // tokens in pending[:counted], as if the text ended there
	counted int
}

// Add appends delta to the text and returns a running total: the exact
// count of the final pieces plus the count of the unfinished tail as if the
// text ended now. That is exactly Total(), the count of everything added so
// far, as long as the tail has stayed under 256 bytes, as it does in
// ordinary text: it is one word, number, or run of spaces or punctuation.
//
// The tail's count is not a bound on what it will become: more text can
// merge it into fewer tokens ("wor" is 1 token, "worl" 2, "world" 1) or
// split it into more, so the running total can also go down. Only the tail
// can change; final pieces keep their count.
//
// A tail of 256 bytes or more (a run of one character, a long word, a
// sentence in a script without spaces) is retokenised only each time the
// pending text has grown by a quarter, so that feeding it in small deltas
// stays linear. In between, Add adds to the last count the new bytes'
// share at the same tokens per byte, and pieces completed meanwhile are
// only recognised at the next retokenisation.
func (c *Counter) Add(delta string) int {
	c.pending = append(c.pending, delta...)
	if c.counted >= longTail && len(c.pending)-c.counted < c.counted/4 {
		extra := len(c.pending) - c.counted
		return c.done + c.tail + (extra*c.tail+c.counted-1)/c.counted
	}
	c.flush()
	return c.done + c.tail
}

// Total returns the exact number of tokens in all the text added since the
// Counter was created or Reset: Count of its concatenation.
func (c *Counter) Total() int {
	if c.counted != len(c.pending) {
		c.flush()
	}
	return c.done + c.tail
}

// Reset empties the Counter, keeping its buffer.
func (c *Counter) Reset() {
	*c = Counter{pending: c.pending[:0]}
}

// flush counts the final pieces of pending into done, drops them, and
// recounts the rest into tail.
func (c *Counter) flush() {
	v := load()
	s := unsafe.String(unsafe.SliceData(c.pending), len(c.pending))
	sp := splitter{s: s}
	keep := 0 // end of the final pieces
	c.tail = 0
	for i := 0; i < len(s); {
		e := sp.next(i)
		// eof stays set: once a piece is unfinished, so are those after it.
		if n := v.tokens(s[i:e], nil, nil); sp.eof {
			c.tail += n
		} else {
			c.done += n
			keep = e
		}
		i = e
	}
	c.pending = c.pending[:copy(c.pending, c.pending[keep:])]
	c.counted = len(c.pending)
}
