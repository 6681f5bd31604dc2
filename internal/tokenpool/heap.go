package tokenpool

// member is a pool's index entry for one token. It sits in at most one of
// the pool's heaps; key means "last start" in the available heap and "next
// instant it may start" in the timed heap. Keys may be stale (too early):
// the pool re-validates against the token when an entry reaches the top.
type member struct {
	tok *Token
	idx int // config order, breaks ties
	key int64
	pos int   // index in its heap
	loc uint8 // which heap, if any
}

const (
	locNone  uint8 = iota // blocked only by the in-flight cap; back on release
	locAvail              // in Pool.avail
	locTimed              // in Pool.timed
)

// mheap is a min-heap of members by (key, idx). Hand-written rather than
// container/heap to avoid interface calls on the hot path.
type mheap []*member

func (h mheap) less(i, j int) bool {
	a, b := h[i], h[j]
	return a.key < b.key || (a.key == b.key && a.idx < b.idx)
}

func (h mheap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos = i
	h[j].pos = j
}

func (h *mheap) push(m *member) {
	m.pos = len(*h)
	*h = append(*h, m)
	h.up(m.pos)
}

func (h *mheap) pop() *member {
	old := *h
	n := len(old) - 1
	m := old[0]
	old.swap(0, n)
	old[n] = nil
	*h = old[:n]
	h.down(0)
	m.pos = -1
	return m
}

// fixTop restores order after the top's key changed.
func (h mheap) fixTop() { h.down(0) }

func (h mheap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h mheap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}
