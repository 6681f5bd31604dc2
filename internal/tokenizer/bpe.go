package tokenizer

import (
	"sync"
	"sync/atomic"
)

// This file is tiktoken's byte-pair merge: start from single bytes and keep
// merging the adjacent pair whose concatenation has the lowest rank (the
// leftmost such pair on ties) until no adjacent pair is a token.
//
// Pieces up to maxSmall bytes are merged in stack arrays with tiktoken's
// quadratic scan. Longer ones, rare in real text (a run of one character, a
// long string without spaces), are merged segLen bytes at a time with the
// same scan, the segments joined where they meet as mergeChunked explains,
// which keeps the result exact; a heap takes over where the joins fail.
// Pieces of minChunked bytes or more are merged so chunk by chunk, which
// bounds the memory, and repeated segments and chunks are merged once.
// Every step is linear in the piece, with no step that can grow with it.

const (
	maxSmall   = 64
	segLen     = 32      // the scan is cheapest per byte at 16-48 bytes
	maxSegK    = 8       // widest repair, in tokens a side, before the heap takes over
	chunkLen   = 3 << 10 // long for repairs to stay inside, short to stay in cache
	minChunked = 2 * chunkLen
	memoSize   = 16 // chunks remembered per piece, for text that repeats
	maxPooled  = 1 << 16
)

// tokens returns the number of tokens in piece p. If ids is not nil, the
// token ids are appended to it. If done is closed while a long piece is
// merged, tokens gives up and returns -1.
func (v *vocab) tokens(p string, ids *[]int, done <-chan struct{}) int {
	if r := v.rank(p); r != noRank {
		if ids != nil {
			*ids = append(*ids, int(r))
		}
		return 1
	}
	if len(p) <= maxSmall {
		return v.mergeSmall(p, ids)
	}
	m := scratchPool.Get().(*mergeScratch)
	m.done = done
	n := m.mergeLong(v, p, ids)
	m.done = nil
	if cap(m.nodes) <= maxPooled { // let the garbage collector have huge buffers
		scratchPool.Put(m)
	}
	return n
}

// mergeLong is tokens for a piece longer than maxSmall.
func (m *mergeScratch) mergeLong(v *vocab, p string, ids *[]int) int {
	if len(p) >= minChunked {
		return m.mergeChunked(v, p, ids)
	}
	m.cb = m.mergeMedium(v, p, m.cb)
	m.appendBoundIDs(v, p, m.cb, ids)
	return len(m.cb) - 1
}

func (v *vocab) mergeSmall(p string, ids *[]int) int {
	var next [maxSmall + 1]uint8
	parts := v.mergeSmallNext(p, &next)
	if ids != nil {
		for i := 0; i < len(p); i = int(next[i]) {
			*ids = append(*ids, int(v.rank(p[i:next[i]])))
		}
	}
	return parts
}

// mergeSmallNext merges p, which is at most maxSmall bytes long, returning
// the number of parts and leaving in next[i] the end of the part at i.
func (v *vocab) mergeSmallNext(p string, next *[maxSmall + 1]uint8) int {
	// Parts are linked by their starts; rank[i] is the rank of the part
	// starting at i merged with the next one, noRank if it cannot merge or
	// i no longer starts a part. Scanning all len(p) ranks for the minimum
	// is cheaper at this size than keeping a heap or shifting arrays.
	var prev [maxSmall + 1]uint8
	var rank [maxSmall]uint32
	n := len(p)
	for i := range n {
		next[i], prev[i], rank[i] = uint8(i+1), uint8(i-1), noRank
	}
	for i := 0; i+1 < n; i++ {
		rank[i] = v.pair(p, i)
	}
	parts := n
	for {
		// The lowest rank<<8|start is the leftmost lowest rank; min
		// compiles to a conditional move, which beats a branch here.
		best := uint64(noRank) << 8
		for j, r := range rank[:n] {
			best = min(best, uint64(r)<<8|uint64(j))
		}
		if best>>8 == uint64(noRank) {
			break
		}
		i := int(best & 0xff)
		j := int(next[i])
		k := int(next[j])
		next[i], rank[j] = uint8(k), noRank
		parts--
		rank[i] = noRank
		if k < n {
			prev[k] = uint8(i)
			rank[i] = v.rank(p[i:next[k]])
		}
		if i > 0 {
			h := int(prev[i])
			rank[h] = v.rank(p[h:k])
		}
	}
	return parts
}

// mergeScratch holds the buffers of merge and mergeChunked, reused through
// a pool.
type mergeScratch struct {
	nodes []mergeNode
	heap  minHeap // candidate merges as rank<<32 | start

	// Token boundaries: acc holds mergeChunked's tokens not yet counted,
	// cb the current chunk's, seg a segment's, win a repaired window's.
	acc, cb, seg, win []int32
	memo              [memoSize]chunkMemo
	memoNext          int

	done <-chan struct{} // cancels mergeChunked, may be nil
	// For the tests' work bounds: bytes merged, seams repaired, segmented
	// merges redone by the heap, long pieces merged whole after all.
	work, repairs, heaps, wholes int
}

// mergeNode is a part of the piece, named by its start. The fields sit
// together because each merge touches all three.
type mergeNode struct {
	next, prev int32  // neighbouring parts; len(p) ends the list
	rank       uint32 // rank of this part merged with the next
}

// chunkMemo is a chunk of the current piece and its tokens.
type chunkMemo struct {
	start, end int32
	bounds     []int32 // token starts relative to start, then end-start
}

var scratchPool = sync.Pool{New: func() any { return new(mergeScratch) }}

// closed reports whether done, which may be nil, is closed.
func closed(done <-chan struct{}) bool {
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// merge gives mergeSmall's result in O(n log n), leaving the parts in
// m.nodes: a heap ordered by (rank, start) yields the leftmost lowest-ranked
// pair, and stale entries (whose part has since changed) are skipped when
// popped. A part's merged rank can only be recomputed for a longer string,
// so an entry whose rank still matches its part is current. It returns -1
// if done (which may be nil) is closed meanwhile.
func (m *mergeScratch) merge(v *vocab, p string, done <-chan struct{}) int {
	n := int32(len(p))
	m.work += len(p)
	m.nodes = resize(m.nodes, len(p)+1)
	// Candidates number len(p) at first plus up to two per merge; room
	// for twice len(p) saves growing a huge slice step by step.
	m.heap = resize(m.heap, 2*len(p))[:0]
	nodes := m.nodes
	for i := range n + 1 {
		nodes[i] = mergeNode{i + 1, i - 1, noRank}
	}
	for i := range n - 1 {
		if r := v.pair(p, int(i)); r != noRank {
			nodes[i].rank = r
			m.heap = append(m.heap, uint64(r)<<32|uint64(i))
		}
	}
	m.heap.init()
	pair := func(i int32) uint32 {
		j := nodes[i].next
		if j >= n {
			return noRank
		}
		return v.rank(p[i:nodes[j].next])
	}
	parts := int(n)
	for pops := 1; len(m.heap) > 0; pops++ {
		if pops&(1<<16-1) == 0 && closed(done) {
			return -1
		}
		top := m.heap.pop()
		r, i := uint32(top>>32), int32(uint32(top))
		if nodes[i].rank != r {
			continue
		}
		j := nodes[i].next
		k := nodes[j].next
		nodes[i].next, nodes[k].prev, nodes[j].rank = k, i, noRank
		parts--
		for _, b := range [2]int32{i, nodes[i].prev} {
			if b < 0 {
				continue
			}
			rb := pair(b)
			if nodes[b].rank = rb; rb != noRank {
				m.heap.push(uint64(rb)<<32 | uint64(b))
			}
		}
	}
	return parts
}

// appendIDs appends the ids of the parts merge left for p, if ids is not nil.
func (m *mergeScratch) appendIDs(v *vocab, p string, ids *[]int) {
	if ids == nil {
		return
	}
	for i := int32(0); i < int32(len(p)); i = m.nodes[i].next {
		*ids = append(*ids, int(v.rank(p[i:m.nodes[i].next])))
	}
}

// dropTail drops the tokens at the end of a segment or chunk that does not
// end the piece which look cut short by its end: the last token if it is
// shorter than the longest, and the tokens before it that grow shorter
// towards the end (a run of one letter ends in tokens of 4, 2 and 1 letters
// where it has 8 elsewhere), keeping those that end by keep. The next
// segment starts over where they start, so that its tokens line up with
// the text before and the seam holds.
func dropTail(b []int32, keep int32) []int32 {
	n := len(b) - 1 // tokens
	longest := int32(0)
	for i := range n {
		longest = max(longest, b[i+1]-b[i])
	}
	if n < 2 || b[n]-b[n-1] == longest {
		return b
	}
	for n > 1 && b[n-1] >= keep {
		n--
		if n < 2 || b[n]-b[n-1] >= b[n-1]-b[n-2] {
			break
		}
	}
	return b[:n+1]
}

// appendBoundIDs appends the ids of the tokens between bounds to ids, if
// not nil.
func (m *mergeScratch) appendBoundIDs(v *vocab, p string, bounds []int32, ids *[]int) {
	if ids == nil {
		return
	}
	for i := 0; i+1 < len(bounds); i++ {
		*ids = append(*ids, int(v.rank(p[bounds[i]:bounds[i+1]])))
	}
}

// mergeMedium returns dst[:0] with the token boundaries of s appended:
// merged segment by segment if the joins hold (see mergeChunked), else by
// the heap.
func (m *mergeScratch) mergeMedium(v *vocab, s string, dst []int32) []int32 {
	acc := dst[:0]
	var next [maxSmall + 1]uint8
	last, lastParts := "", 0 // the last segment merged, and the starts of its inner parts in next
	n := int32(len(s))
	for c, e := int32(0), int32(0); c < n; c = e {
		// Seams fail less often between characters, and between bytes
		// that rarely merge: cut before the highest-ranked byte pair
		// of the last few.
		if e = c + segLen; e >= n {
			e = n
		} else {
			best, end := uint32(0), e
			for i := end; i > end-8; i-- {
				if r := v.pair(s, int(i-1)); r > best && s[i]&0xc0 != 0x80 {
					best, e = r, i
				}
			}
		}
		m.seg = append(m.seg[:0], c)
		switch {
		case s[c:e] == last:
			// The same bytes as the last segment merged, as in a run.
			for _, x := range next[:lastParts] {
				m.seg = append(m.seg, c+int32(x))
			}
		case v.rank(s[c:e]) == noRank: // a token merges to itself, see TestTokensMergeToThemselves
			m.work += int(e - c)
			v.mergeSmallNext(s[c:e], &next)
			lastParts = 0
			for i := next[0]; int32(i) < e-c; i = next[i] {
				m.seg = append(m.seg, c+int32(i))
				next[lastParts] = i // next[:lastParts] stays valid: i > lastParts
				lastParts++
			}
			last = s[c:e]
		}
		m.seg = append(m.seg, e)
		if e < n {
			m.seg = dropTail(m.seg, c+segLen/2)
			e = m.seg[len(m.seg)-1]
		}
		if len(acc) == 0 {
			acc = append(acc, m.seg...)
			continue
		}
		var ok bool
		if acc, ok = m.join(v, s, acc, m.seg, -1, maxSegK); !ok {
			m.heaps++
			m.merge(v, s, nil)
			return m.appendBounds(acc[:0], n, 0)
		}
	}
	return acc
}

// appendBounds appends base plus the start of each part merge left for a
// string of n bytes, then base+n.
func (m *mergeScratch) appendBounds(dst []int32, n, base int32) []int32 {
	for i := int32(0); i < n; i = m.nodes[i].next {
		dst = append(dst, base+i)
	}
	return append(dst, base+n)
}

// mergeChunked merges a long piece chunk by chunk, exactly.
//
// Call a sequence of tokens valid if it is the merge of its own bytes. Two
// facts about the merge make chunks safe (they are Corollaries II and III in
// the README of github.com/github/rust-gems/crates/bpe, and hold here: a
// merge inside a stretch between final token boundaries is the lowest, and
// leftmost, candidate of that stretch too, so each stretch is merged as if
// alone):
//
//   - any run of consecutive tokens of a valid sequence is valid;
//   - if valid sequences A and B meet where A's last token and B's first
//     token, merged on their own, stay those two tokens, then A+B is valid.
//
// So each chunk is merged alone and appended if its first token and the
// token before pass that two-token test. If not, a window of K tokens either
// side of the seam is merged again and put in their place, which is valid if
// both of its new seams pass the test; K doubles until they do, up to the
// previous chunk and the whole new chunk. Validity is uniqueness: the result
// is what merging the whole piece gives. Should even that fail (no input in
// the tests comes near), the piece is merged whole, with the heap.
//
// Each chunk starts where the tokens the last one's end cut short start (see
// dropTail), so in a run of one character all chunks are alike and are
// merged once, then compared (memo). mergeMedium joins segments the same way.
func (m *mergeScratch) mergeChunked(v *vocab, p string, ids *[]int) int {
	n := int32(len(p))
	for i := range m.memo {
		m.memo[i].start, m.memo[i].end = 0, 0
	}
	idsStart := 0
	if ids != nil {
		idsStart = len(*ids)
	}
	acc := m.acc[:0]
	counted := 0      // tokens dropped from the front of acc
	prev := int32(-1) // start of the last token dropped
	for c := int32(0); c < n; {
		if closed(m.done) {
			m.acc = acc
			return -1
		}
		e := c + chunkLen
		if n-e < chunkLen {
			e = n // no short last chunk, which would leave little room to repair
		}
		b := m.chunk(v, p, c, e)
		if e < n {
			b = dropTail(b, c+chunkLen/2)
			e = b[len(b)-1]
		}
		if len(acc) == 0 {
			acc = append(acc, b...)
		} else {
			var ok bool
			if acc, ok = m.join(v, p, acc, b, prev, chunkLen); !ok {
				m.acc = acc
				m.wholes++
				if ids != nil {
					*ids = (*ids)[:idsStart]
				}
				return m.mergeWhole(v, p, ids)
			}
		}
		c = e
		// Tokens that end before the last chunk are final: later repairs
		// reach back at most one chunk.
		drop := 0
		for drop < len(acc)-2 && acc[drop+1] <= c-chunkLen {
			drop++
		}
		if drop > 0 {
			counted += drop
			if ids != nil {
				for i := range drop {
					*ids = append(*ids, int(v.rank(p[acc[i]:acc[i+1]])))
				}
			}
			prev = acc[drop-1]
			acc = acc[:copy(acc, acc[drop:])]
		}
	}
	if ids != nil {
		for i := 0; i+1 < len(acc); i++ {
			*ids = append(*ids, int(v.rank(p[acc[i]:acc[i+1]])))
		}
	}
	m.acc = acc
	return counted + len(acc) - 1
}

// mergeWhole is mergeChunked's fallback: the heap on the whole piece.
func (m *mergeScratch) mergeWhole(v *vocab, p string, ids *[]int) int {
	n := m.merge(v, p, m.done)
	if n >= 0 {
		m.appendIDs(v, p, ids)
	}
	return n
}

// chunk returns the token boundaries of p[c:e] merged alone, from the memo
// if an earlier chunk of this piece had the same bytes.
func (m *mergeScratch) chunk(v *vocab, p string, c, e int32) []int32 {
	s := p[c:e]
	var hit *chunkMemo
	for i := range m.memo {
		if t := &m.memo[i]; t.end-t.start == e-c && p[t.start:t.end] == s {
			hit = t
			break
		}
	}
	if hit == nil {
		hit = &m.memo[m.memoNext]
		m.memoNext = (m.memoNext + 1) % memoSize
		hit.start, hit.end = c, e
		hit.bounds = m.mergeMedium(v, s, hit.bounds)
	}
	m.cb = m.cb[:0]
	for _, x := range hit.bounds {
		m.cb = append(m.cb, c+x)
	}
	return m.cb
}

// join appends chunk tokens b to acc, whose last boundary is b[0], as
// mergeChunked describes. prev is the start of the token before acc[0], -1
// if acc starts the piece. It reports false if no window of up to maxK
// tokens a side, nor up to all of acc and b, gave valid seams.
func (m *mergeScratch) join(v *vocab, p string, acc, b []int32, prev int32, maxK int) ([]int32, bool) {
	h, k := len(acc)-1, len(b)-1 // tokens held, tokens in the chunk
	if m.pairStays(v, p, acc[h-1], acc[h], b[1]) {
		return append(acc, b[1:]...), true
	}
	m.repairs++
	for K := 1; ; K *= 2 {
		kl, kr := min(K, h), min(K, k)
		ws, we := acc[h-kl], b[kr]
		var w []int32
		if K == 1 {
			// The window is the pair just tested.
			if parts, split := m.merge2(v, p, ws, acc[h], we); parts == 1 {
				w = append(m.win[:0], ws, we)
			} else if parts == 2 {
				w = append(m.win[:0], ws, split, we)
			}
		}
		if w == nil {
			w = m.window(v, p, ws, we)
		}
		var left bool
		switch {
		case h-kl > 0:
			left = m.pairStays(v, p, acc[h-kl-1], ws, w[1])
		case prev >= 0:
			left = m.pairStays(v, p, prev, ws, w[1])
		default: // the window starts the piece
			left = true
		}
		if left && (kr == k || m.pairStays(v, p, w[len(w)-2], we, b[kr+1])) {
			acc = append(acc[:h-kl], w...)
			return append(acc, b[kr+1:]...), true
		}
		if kl == h && kr == k || K >= maxK {
			return acc, false
		}
	}
}

// window merges p[ws:we] and returns its token boundaries (in m.win).
func (m *mergeScratch) window(v *vocab, p string, ws, we int32) []int32 {
	s := p[ws:we]
	m.win = m.win[:0]
	if v.rank(s) != noRank {
		m.win = append(m.win, ws, we)
		return m.win
	}
	if len(s) <= maxSmall {
		m.work += len(s)
		var next [maxSmall + 1]uint8
		v.mergeSmallNext(s, &next)
		for i := 0; i < len(s); i = int(next[i]) {
			m.win = append(m.win, ws+int32(i))
		}
		m.win = append(m.win, we)
		return m.win
	}
	m.merge(v, s, nil)
	m.win = m.appendBounds(m.win, int32(len(s)), ws)
	return m.win
}

// pairStays reports whether the tokens p[a:c] and p[c:b], merged on their
// own, stay those two tokens.
func (m *mergeScratch) pairStays(v *vocab, p string, a, c, b int32) bool {
	parts, split := m.merge2(v, p, a, c, b)
	return parts == 2 && split == c
}

// merge2 merges the tokens p[a:c] and p[c:b] on their own and returns into
// how many parts (1, 2, or 3 for more) and, for 2, where they split.
// Answers for long tokens are cached: seams in runs of one character see
// the same few pairs again and again.
func (m *mergeScratch) merge2(v *vocab, p string, a, c, b int32) (parts int, split int32) {
	s := p[a:b]
	if v.rank(s) != noRank {
		return 1, b // a token merges to itself, see TestTokensMergeToThemselves
	}
	var slot *atomic.Uint64
	var key uint64
	if len(s) > 8 {
		ra, rb := uint64(v.rank(p[a:c])), uint64(v.rank(p[c:b]))
		pair := ra<<rankBits | rb
		key = pair << 12
		slot = &pairCache[pair*0x9e3779b97f4a7c15>>(64-pairCacheBits)]
		if e := slot.Load(); e&^(1<<12-1) == key && e&1 != 0 {
			return int(e >> 10 & 3), a + int32(e>>1&(1<<9-1))
		}
	}
	if len(s) <= maxSmall {
		m.work += len(s)
		var next [maxSmall + 1]uint8
		parts = v.mergeSmallNext(s, &next)
		split = a + int32(next[0])
	} else {
		parts = m.merge(v, s, nil)
		split = a + m.nodes[0].next
	}
	parts = min(parts, 3)
	if slot != nil {
		slot.Store(key | uint64(parts)<<10 | uint64(split-a)<<1 | 1)
	}
	return parts, split
}

// pairCache holds merge2's answers, direct-mapped, each in one word:
// rank a<<30 | rank b<<12 | parts<<10 | split<<1 | 1. Racing writers
// only ever store correct answers.
var pairCache [1 << pairCacheBits]atomic.Uint64

const pairCacheBits = 12

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// minHeap is a 4-ary min-heap: half the depth of a binary heap, and the
// children of a node share a cache line.
type minHeap []uint64

func (h minHeap) init() {
	for i := (len(h) - 2) / 4; i >= 0 && len(h) > 1; i-- {
		h.down(i)
	}
}

func (h *minHeap) push(x uint64) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if s[parent] <= x {
			break
		}
		s[i] = s[parent]
		i = parent
	}
	s[i] = x
}

func (h *minHeap) pop() uint64 {
	s := *h
	top := s[0]
	s[0] = s[len(s)-1]
	if *h = s[:len(s)-1]; len(*h) > 0 {
		h.down(0)
	}
	return top
}

func (h minHeap) down(i int) {
	x := h[i]
	for {
		c := 4*i + 1
		if c >= len(h) {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < len(h); j++ {
			if h[j] < h[m] {
				m = j
			}
		}
		if x <= h[m] {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}
