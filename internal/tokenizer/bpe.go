package tokenizer

import "sync"

// This file is tiktoken's byte-pair merge: start from single bytes and keep
// merging the adjacent pair whose concatenation has the lowest rank (the
// leftmost such pair on ties) until no adjacent pair is a token.

// maxSmall is the longest piece merged in fixed-size stack arrays with
// tiktoken's quadratic scan. Longer pieces, rare in real text, use a heap.
const maxSmall = 64

// tokens returns the number of tokens in piece p. If ids is not nil, the
// token ids are appended to it.
func (v *vocab) tokens(p string, ids *[]int) int {
	if r := v.rank(p); r != noRank {
		if ids != nil {
			*ids = append(*ids, int(r))
		}
		return 1
	}
	if len(p) <= maxSmall {
		return v.mergeSmall(p, ids)
	}
	return v.mergeLarge(p, ids)
}

func (v *vocab) mergeSmall(p string, ids *[]int) int {
	// Parts are linked by their starts; rank[i] is the rank of the part
	// starting at i merged with the next one, noRank if it cannot merge or
	// i no longer starts a part. Scanning all len(p) ranks for the minimum
	// is cheaper at this size than keeping a heap or shifting arrays.
	var next, prev [maxSmall + 1]uint8
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
	if ids != nil {
		for i := 0; i < n; i = int(next[i]) {
			*ids = append(*ids, int(v.rank(p[i:next[i]])))
		}
	}
	return parts
}

// mergeScratch holds mergeLarge's buffers, reused through a pool.
type mergeScratch struct {
	nodes []mergeNode
	heap  minHeap // candidate merges as rank<<32 | start

	// Bucket mode (see mergeLarge): candidates in per-rank FIFO lists.
	ranks      minHeap // the ranks whose list is not empty
	head, tail []int32 // per rank: first and last entry of its list, head -1 if empty
	ents       []bucketEntry
	used       []uint32 // ranks whose head to reset
}

// mergeNode is a part of the piece, named by its start. The fields sit
// together because each merge touches all three.
type mergeNode struct {
	next, prev int32  // neighbouring parts; len(p) ends the list
	rank       uint32 // rank of this part merged with the next
}

type bucketEntry struct{ pos, next int32 }

var scratchPool = sync.Pool{New: func() any { return new(mergeScratch) }}

const (
	minBuckets = 1 << 10 // piece length from which mergeLarge tries bucket mode
	maxPooled  = 1 << 16 // longest piece whose buffers go back to the pool
)

// mergeLarge gives mergeSmall's result in O(n log n): a heap ordered by
// (rank, start) yields the leftmost lowest-ranked pair, and stale entries
// (whose part has since changed) are skipped when popped. A part's merged
// rank can only be recomputed for a longer string, so an entry whose rank
// still matches its part is current.
//
// Long pieces first try bucket mode, which keeps a FIFO list of starts per
// rank and a small heap of the ranks present. In practice each list is filled
// left to right (merges of one rank sweep the piece), so it pops the
// leftmost start in O(1), and a 1 MB run of one letter takes a fraction of
// the time. If a start ever arrives out of order, the piece is redone with
// the heap.
func (v *vocab) mergeLarge(p string, ids *[]int) int {
	m := scratchPool.Get().(*mergeScratch)
	n := -1
	if len(p) >= minBuckets {
		n = m.mergeBuckets(v, p, ids)
	}
	if n < 0 {
		n = m.merge(v, p, ids, false)
	}
	if len(p) <= maxPooled { // let the garbage collector have huge buffers
		scratchPool.Put(m)
	}
	return n
}

// mergeBuckets runs merge in bucket mode, returning -1 if it gave up.
func (m *mergeScratch) mergeBuckets(v *vocab, p string, ids *[]int) int {
	if len(m.head) != v.ranks {
		m.head = make([]int32, v.ranks)
		m.tail = make([]int32, v.ranks)
		for i := range m.head {
			m.head[i] = -1
		}
	}
	n := m.merge(v, p, ids, true)
	for _, r := range m.used {
		m.head[r] = -1
	}
	m.used, m.ents, m.ranks = m.used[:0], m.ents[:0], m.ranks[:0]
	return n
}

// merge runs the merge loop with a heap or, if buckets, in bucket mode, in
// which it returns -1 if a start arrives out of order.
func (m *mergeScratch) merge(v *vocab, p string, ids *[]int, buckets bool) int {
	n := int32(len(p))
	m.nodes = resize(m.nodes, len(p)+1)
	// Candidates number len(p) at first plus up to two per merge; room
	// for twice len(p) saves growing a huge slice step by step.
	if buckets {
		m.ents = resize(m.ents, 2*len(p))[:0]
	} else {
		m.heap = resize(m.heap, 2*len(p))[:0]
	}
	nodes := m.nodes
	for i := range n + 1 {
		nodes[i] = mergeNode{i + 1, i - 1, noRank}
	}
	for i := range n - 1 {
		if r := v.pair(p, int(i)); r != noRank {
			nodes[i].rank = r
			if buckets {
				m.add(r, i)
			} else {
				m.heap = append(m.heap, uint64(r)<<32|uint64(i))
			}
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
	for {
		var r uint32
		var i int32
		if buckets {
			if len(m.ranks) == 0 {
				break
			}
			r = uint32(m.ranks[0])
			e := m.ents[m.head[r]]
			if i, m.head[r] = e.pos, e.next; e.next < 0 {
				m.ranks.pop()
			}
		} else {
			if len(m.heap) == 0 {
				break
			}
			top := m.heap.pop()
			r, i = uint32(top>>32), int32(uint32(top))
		}
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
			if nodes[b].rank = rb; rb == noRank {
				continue
			}
			if !buckets {
				m.heap.push(uint64(rb)<<32 | uint64(b))
			} else if !m.add(rb, b) {
				return -1
			}
		}
	}
	if ids != nil {
		for i := int32(0); i < n; i = nodes[i].next {
			*ids = append(*ids, int(v.rank(p[i:nodes[i].next])))
		}
	}
	return parts
}

// add appends start pos to rank r's list, failing if that breaks its order.
func (m *mergeScratch) add(r uint32, pos int32) bool {
	e := int32(len(m.ents))
	if m.head[r] < 0 {
		m.head[r] = e
		m.ranks.push(uint64(r))
		m.used = append(m.used, r)
	} else {
		t := m.tail[r]
		if m.ents[t].pos > pos {
			return false
		}
		m.ents[t].next = e
	}
	m.tail[r] = e
	m.ents = append(m.ents, bucketEntry{pos, -1})
	return true
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// minHeap is a 4-ary min-heap: half the depth of a binary heap, and the
// children of a node share a cache line, which matters for huge pieces.
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
