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
	unsent   bool        // the token counts this lease as not yet acknowledged by Poe
	sent     atomic.Bool // Reached ran (or Release stood in for it)
	released atomic.Bool
	sh       *sharedLease // set when the lease also lives in Redis
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
	if l.unsent && l.sent.CompareAndSwap(false, true) {
		t.unsent-- // never sent: it did not reach Poe, the start time stands
	}
	t.inFlight--
	n := t.inFlight
	ws := t.watchers
	t.mu.Unlock()
	// Tell our pool and every other open pool over this token (the one of a
	// newer config in particular) so their waiters are served.
	l.notify(n, ws)
	if l.sh != nil {
		l.sh.release(l)
	}
}

// Reached records that the request reached Poe: Poe's first response byte
// came back. Under a cool-down the token starts nothing else until then,
// and the next start waits cool_down from this moment. Since a request
// has arrived before it is answered, two requests on a token can never
// reach Poe closer than cool_down, however slow the network or the
// machine. Without a cool-down it does nothing. Idempotent.
func (l *Lease) Reached() {
	if l == nil || !l.unsent || !l.sent.CompareAndSwap(false, true) {
		return
	}
	now := l.pool.now()
	t := l.tok
	t.mu.Lock()
	t.unsent--
	t.lastStart = max(t.lastStart, now) // gates only move later, as the heaps assume
	n := t.inFlight
	ws := t.watchers
	t.mu.Unlock()
	l.notify(n, ws)
	if l.sh != nil {
		l.sh.reached()
	}
}

// notify tells every open pool over the token that it may have room.
func (l *Lease) notify(inFlight int, ws []watcher) {
	l.pool.freed(l.m, inFlight)
	for _, w := range ws {
		if w.p != l.pool {
			w.p.freed(w.m, inFlight)
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
	if l.sh != nil {
		l.sh.until("cool", until.Sub(l.pool.clock.Now()), "")
	}
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
	if l.sh != nil {
		l.sh.until("quar", l.pool.limits.Quarantine, reason)
	}
}
