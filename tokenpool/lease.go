package tokenpool

import (
	"sync/atomic"
	"time"
)

// Lease is one request's hold on a token. Release it exactly once in spirit;
// extra calls are harmless.
type Lease struct {
	tok      *Token
	pool     *Pool
	m        *member
	start    int64
	released atomic.Bool
}

// Token returns the leased token.
func (l *Lease) Token() *Token { return l.tok }

// Started returns when the pool counted the start of this request.
func (l *Lease) Started() time.Time { return timeOf(l.start) }

// Release frees the in-flight slot. It is idempotent and safe from any
// goroutine, e.g. in a defer that runs during a panic.
func (l *Lease) Release() {
	if l == nil || !l.released.CompareAndSwap(false, true) {
		return
	}
	t := l.tok
	t.mu.Lock()
	t.inFlight--
	n := t.inFlight
	ws := t.watchers
	t.mu.Unlock()
	// Tell our pool and every other open pool over this token (the one of a
	// newer config in particular) so their waiters are served.
	l.pool.freed(l.m, n)
	for _, w := range ws {
		if w.p != l.pool {
			w.p.freed(w.m, n)
		}
	}
}

// Cool makes the token wait until until (Poe's rate-limit reset) before any
// pool starts it again. It never shortens a longer cooling.
func (l *Lease) Cool(until time.Time) {
	u := nanos(until)
	t := l.tok
	t.mu.Lock()
	t.coolUntil = max(t.coolUntil, u)
	t.mu.Unlock()
}

// Quarantine takes the token out of use for the pool's Quarantine duration
// from now, with a reason such as "invalid_key" or "insufficient_points".
// It never shortens a longer quarantine; the reason is updated.
func (l *Lease) Quarantine(reason string) {
	u := l.pool.now() + int64(l.pool.limits.Quarantine)
	t := l.tok
	t.mu.Lock()
	t.quarUntil = max(t.quarUntil, u)
	t.reason = reason
	t.mu.Unlock()
}
