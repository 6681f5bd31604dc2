package tokenpool

import (
	"container/list"
	"sync"
	"time"
)

// KeyLimiter limits requests per client key with a sliding window of
// Window. Memory is bounded: keys without a start in the last window are
// dropped, and beyond DefaultMaxEntries keys the least recently seen key is
// forgotten (which only ever lets that key through more, never less).
type KeyLimiter struct {
	perMinute int
	clock     Clock
	max       int

	mu   sync.Mutex
	keys map[string]*list.Element // of *klEntry
	lru  list.List                // front = most recently seen
}

type klEntry struct {
	key  string
	seen int64
	ring ring
}

// NewKeyLimiter returns a limiter of perMinute requests per key per Window;
// perMinute <= 0 means unlimited. A nil clock means SystemClock.
func NewKeyLimiter(perMinute int, clock Clock) *KeyLimiter {
	if clock == nil {
		clock = SystemClock()
	}
	return &KeyLimiter{
		perMinute: perMinute,
		clock:     clock,
		max:       DefaultMaxEntries,
		keys:      make(map[string]*list.Element),
	}
}

// Allow counts a request for key if the key's window has room. Otherwise it
// returns false and the exact time until the oldest counted request leaves
// the window (not rounded; refused calls are not counted).
func (k *KeyLimiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if k.perMinute <= 0 {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := nanos(k.clock.Now())
	k.sweep(now)
	var e *klEntry
	if el := k.keys[key]; el != nil {
		e = el.Value.(*klEntry)
		k.lru.MoveToFront(el)
	} else {
		if len(k.keys) >= k.max {
			k.drop(k.lru.Back())
		}
		e = &klEntry{key: key}
		k.keys[key] = k.lru.PushFront(e)
	}
	e.seen = now
	if gate := e.ring.windowGate(k.perMinute); gate > now {
		return false, time.Duration(gate - now)
	}
	e.ring.push(now, k.perMinute)
	return true, 0
}

// Len returns the number of keys tracked.
func (k *KeyLimiter) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

// sweep drops keys not seen for a window: their starts are all older than
// that, so they carry no state. Amortised O(1) per call.
func (k *KeyLimiter) sweep(now int64) {
	for el := k.lru.Back(); el != nil; el = k.lru.Back() {
		if now-el.Value.(*klEntry).seen < int64(Window) {
			return
		}
		k.drop(el)
	}
}

func (k *KeyLimiter) drop(el *list.Element) {
	delete(k.keys, el.Value.(*klEntry).key)
	k.lru.Remove(el)
}

// Destruct lets the host keep a KeyLimiter in a caddy.UsagePool so windows
// survive reloads. Nothing to free.
func (k *KeyLimiter) Destruct() error { return nil }
