package tokenpool

// ring remembers recent start instants, oldest first. It never holds more
// than the largest limit it was pushed with, and it drops instants older than
// Window on push, so it only grows to the peak number of starts per window
// (lazily, by doubling) instead of with total traffic.
type ring struct {
	buf  []int64
	head int // index of the oldest instant
	n    int
}

// push records a start at now. limit <= 0 (unlimited) records nothing: an
// unlimited window needs no memory.
func (r *ring) push(now int64, limit int) {
	if limit <= 0 {
		return
	}
	r.trim(now)
	if r.n == len(r.buf) {
		if len(r.buf) >= limit {
			// Full at the limit: the oldest instant no longer matters.
			r.buf[r.head] = now
			r.head = (r.head + 1) % len(r.buf)
			return
		}
		r.grow(min(limit, max(4, 2*len(r.buf))))
	}
	r.buf[(r.head+r.n)%len(r.buf)] = now
	r.n++
}

// trim drops instants that no longer count at now (exactly Window old or more).
func (r *ring) trim(now int64) {
	cut := now - int64(Window)
	for r.n > 0 && r.buf[r.head] <= cut {
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
}

func (r *ring) grow(size int) {
	buf := make([]int64, size)
	for i := 0; i < r.n; i++ {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}

// newest returns the k-th most recent instant (k = 1 is the latest).
func (r *ring) newest(k int) (int64, bool) {
	if k <= 0 || k > r.n {
		return 0, false
	}
	return r.buf[(r.head+r.n-k)%len(r.buf)], true
}

// count returns how many remembered instants are still inside the window.
func (r *ring) count(now int64) int {
	cut := now - int64(Window)
	c := 0
	for k := 1; k <= r.n; k++ {
		s, _ := r.newest(k)
		if s <= cut {
			break
		}
		c++
	}
	return c
}

// windowGate is the instant from which one more start fits in a window of
// limit starts; never when it fits already as far as the ring knows.
func (r *ring) windowGate(limit int) int64 {
	if limit <= 0 {
		return never
	}
	s, ok := r.newest(limit)
	if !ok {
		return never
	}
	return s + int64(Window)
}
