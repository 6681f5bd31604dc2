package tokenpool

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMaxEntries bounds Passthrough and KeyLimiter when no bound is given.
const DefaultMaxEntries = 10000

// Passthrough applies per-token limits to keys supplied by clients (their
// own bearer used as the Poe key). Each secret gets a one-token Pool, so it
// waits and fails exactly like Pool. Memory is bounded: entries whose state
// is indistinguishable from a fresh token (idle for a window, nothing in
// flight, no gate closed) are dropped, and at most maxEntries are kept.
type Passthrough struct {
	limits Limits
	clock  Clock
	max    int

	mu      sync.Mutex
	entries map[string]*list.Element // of *ptEntry
	lru     list.List                // front = most recently used
}

type ptEntry struct {
	secret  string
	tok     *Token
	pool    *Pool
	el      *list.Element
	seen    int64 // last Acquire call, or last sweep that found it busy
	pending int   // Acquire calls in progress; the entry must not go meanwhile
}

// NewPassthrough returns a registry; maxEntries <= 0 means DefaultMaxEntries.
func NewPassthrough(limits Limits, clock Clock, maxEntries int) *Passthrough {
	if clock == nil {
		clock = SystemClock()
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Passthrough{
		limits:  limits.withDefaults(),
		clock:   clock,
		max:     maxEntries,
		entries: make(map[string]*list.Element),
	}
}

// Acquire leases the token for secret, waiting like Pool.Acquire. When the
// registry is full of keys with requests in progress it fails at once with
// an *ExhaustedError (RetryAfter 1 s) rather than grow.
func (pt *Passthrough) Acquire(ctx context.Context, secret string) (*Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pt.mu.Lock()
	now := nanos(pt.clock.Now())
	pt.sweep(now)
	e := pt.get(secret)
	if e == nil {
		pt.mu.Unlock()
		return nil, &ExhaustedError{RetryAfter: time.Second}
	}
	e.pending++
	e.seen = now
	pt.lru.MoveToFront(e.el)
	pt.mu.Unlock()

	l, err := e.pool.Acquire(ctx)

	pt.mu.Lock()
	e.pending--
	pt.mu.Unlock()
	return l, err
}

// Len returns the number of secrets currently tracked.
func (pt *Passthrough) Len() int {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return len(pt.entries)
}

// Close closes every per-secret pool (failing their waiters) and forgets
// them. Leases still release fine.
func (pt *Passthrough) Close() {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	for el := pt.lru.Front(); el != nil; el = pt.lru.Front() {
		pt.drop(el)
	}
}

// Destruct lets the host keep a Passthrough in a caddy.UsagePool.
func (pt *Passthrough) Destruct() error {
	pt.Close()
	return nil
}

func (pt *Passthrough) get(secret string) *ptEntry {
	if el := pt.entries[secret]; el != nil {
		return el.Value.(*ptEntry)
	}
	if len(pt.entries) >= pt.max && !pt.evictOne() {
		return nil
	}
	tok := NewToken(secret)
	e := &ptEntry{secret: secret, tok: tok, pool: New([]*Token{tok}, pt.limits, pt.clock)}
	e.el = pt.lru.PushFront(e)
	pt.entries[secret] = e.el
	return e
}

// sweep drops entries not seen for a window whose token is idle. Busy ones
// are moved to the front as if just seen, so each entry is looked at about
// once per window and the sweep is amortised O(1) per Acquire.
func (pt *Passthrough) sweep(now int64) {
	for el := pt.lru.Back(); el != nil; el = pt.lru.Back() {
		e := el.Value.(*ptEntry)
		if now-e.seen < int64(Window) {
			return
		}
		if e.pending == 0 && e.tok.idle(now, &pt.limits) {
			pt.drop(el)
			continue
		}
		e.seen = now
		pt.lru.MoveToFront(el)
	}
}

// evictOne drops the least recently used entry with nothing in progress,
// even if it is still cooling or quarantined: the bound comes first.
func (pt *Passthrough) evictOne() bool {
	for el := pt.lru.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*ptEntry)
		if e.pending > 0 {
			continue
		}
		e.tok.mu.Lock()
		busy := e.tok.inFlight > 0
		e.tok.mu.Unlock()
		if !busy {
			pt.drop(el)
			return true
		}
	}
	return false
}

func (pt *Passthrough) drop(el *list.Element) {
	e := el.Value.(*ptEntry)
	pt.lru.Remove(el)
	delete(pt.entries, e.secret)
	e.pool.Close()
}
