package tokenpool

import (
	"context"
	"sync"
	"time"
)

// Window is the span of the per-token rate limit.
const Window = 60 * time.Second

// DefaultQuarantine is used when Limits.Quarantine is 0.
const DefaultQuarantine = time.Hour

// Limits apply to every token of a pool (and to each passthrough token).
type Limits struct {
	RateLimit     int           // starts per Window per token; 0 = unlimited
	CoolDown      time.Duration // min gap between two starts on one token
	MaxConcurrent int           // in-flight cap per token; 0 = none
	MaxWait       time.Duration // how long Acquire may queue; 0 = fail at once
	Quarantine    time.Duration // default 1h when 0
}

func (l Limits) withDefaults() Limits {
	l.RateLimit = max(l.RateLimit, 0)
	l.CoolDown = max(l.CoolDown, 0)
	l.MaxConcurrent = max(l.MaxConcurrent, 0)
	l.MaxWait = max(l.MaxWait, 0)
	if l.Quarantine <= 0 {
		l.Quarantine = DefaultQuarantine
	}
	return l
}

// Pool chooses tokens for requests. See the package comment for how it
// shares token state with other pools.
type Pool struct {
	limits  Limits
	clock   Clock
	members []member // fixed after New; &members[i] is stable

	mu       sync.Mutex
	avail    mheap // may start now (as last checked), by last start: LRU on top
	timed    mheap // blocked by time, by the instant they may start
	nNone    int   // members blocked only by the in-flight cap
	q        queue // waiting Acquire calls, FIFO
	timer    Timer // armed only while someone waits
	timerAt  int64
	timerSeq uint64
	closed   bool

	hookQueued func() // tests: called after an Acquire has queued
}

// New builds a pool over tokens (nil and duplicate pointers are skipped).
// The tokens may belong to another pool too; their state is kept as is.
// A nil clock means SystemClock.
func New(tokens []*Token, limits Limits, clock Clock) *Pool {
	if clock == nil {
		clock = SystemClock()
	}
	p := &Pool{limits: limits.withDefaults(), clock: clock}
	seen := make(map[*Token]bool, len(tokens))
	p.members = make([]member, 0, len(tokens))
	for _, t := range tokens {
		if t == nil || seen[t] {
			continue
		}
		seen[t] = true
		p.members = append(p.members, member{tok: t, idx: len(p.members), pos: -1})
	}
	p.avail = make(mheap, 0, len(p.members))
	// Hold mu while registering: a release from another pool may notify
	// us before we finish, and must then see the member's final place.
	p.mu.Lock()
	now := p.now()
	for i := range p.members {
		m := &p.members[i]
		m.tok.addWatcher(p, m)
		p.place(m, now)
	}
	p.mu.Unlock()
	return p
}

// Healthy reports whether any token is not quarantined: when a failover
// finds no token free, the pool is then merely busy, not broken.
func (p *Pool) Healthy() bool {
	now := p.now()
	for i := range p.members {
		t := p.members[i].tok
		t.mu.Lock()
		q := t.quarUntil > now
		t.mu.Unlock()
		if !q {
			return true
		}
	}
	return false
}

// Len returns the number of tokens.
func (p *Pool) Len() int { return len(p.members) }

// Waiting returns the number of Acquire calls queued.
func (p *Pool) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.q.n
}

// Acquire returns a lease on the least recently used token that has room,
// queueing (FIFO, up to MaxWait) when none has, behind any earlier caller.
// It fails with *ExhaustedError at once when no token can free before the
// deadline, or when the deadline passes. If ctx ends while queued it leaves
// the queue and returns ctx.Err() (a token handed over at that very moment
// is released again). After Close it still hands out a token that is free
// at once, but never waits.
func (p *Pool) Acquire(ctx context.Context) (*Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := new(Lease) // allocated outside the lock
	p.mu.Lock()
	now := p.now()
	p.promote(now)
	p.serve(now) // earlier callers first
	if p.q.head == nil && p.take(now, l) != nil {
		p.mu.Unlock()
		return l, nil
	}
	return p.wait(ctx, now)
}

// Status returns a snapshot of every token, in config order.
func (p *Pool) Status() []TokenStatus {
	now := p.now()
	out := make([]TokenStatus, len(p.members))
	for i := range p.members {
		out[i] = p.members[i].tok.status(now, &p.limits)
	}
	return out
}

// Close stops the pool's timer and fails every queued Acquire with an
// *ExhaustedError with Closed set. Leases keep working; Release and failover
// Acquire calls (fail-at-once) are still served. The pool stops being
// notified by its tokens, so Close must be called when a pool is retired.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.stopTimer()
	now := p.now()
	for p.q.head != nil {
		p.resolve(p.q.head, nil, p.exhausted(now))
	}
	p.mu.Unlock()
	for i := range p.members {
		p.members[i].tok.removeWatcher(p)
	}
}

func (p *Pool) now() int64 { return nanos(p.clock.Now()) }

// place files a member that is in no heap according to its token's truth.
// Caller holds p.mu.
func (p *Pool) place(m *member, now int64) {
	t := m.tok
	t.mu.Lock()
	gate, capped, last := t.gate(&p.limits), t.capped(&p.limits), t.lastStart
	t.mu.Unlock()
	p.put(m, now, gate, capped, last)
}

func (p *Pool) put(m *member, now, gate int64, capped bool, last int64) {
	switch {
	case gate > now:
		m.key, m.loc = gate, locTimed
		p.timed.push(m)
	case capped:
		m.loc = locNone
		p.nNone++
	default:
		m.key, m.loc = last, locAvail
		p.avail.push(m)
	}
}

// promote moves members whose time has come from timed to where they belong.
func (p *Pool) promote(now int64) {
	for len(p.timed) > 0 && p.timed[0].key <= now {
		p.place(p.timed.pop(), now)
	}
}

// take starts a request on the least recently used available token, filling
// l (or a new Lease if l is nil); nil if none is available. Entries found
// stale are re-filed at their true key on the way.
func (p *Pool) take(now int64, l *Lease) *Lease {
	lim := &p.limits
	for len(p.avail) > 0 {
		m := p.avail[0]
		t := m.tok
		t.mu.Lock()
		gate, capped, last := t.gate(lim), t.capped(lim), t.lastStart
		if gate <= now && !capped && last == m.key {
			unsent := t.start(now, lim)
			gate, capped = t.gate(lim), t.capped(lim)
			t.mu.Unlock()
			if gate <= now && !capped {
				m.key = now // most recently used: sinks to the bottom
				p.avail.fixTop()
			} else {
				p.avail.pop()
				p.put(m, now, gate, capped, now)
			}
			if l == nil {
				l = new(Lease)
			}
			l.tok, l.pool, l.m, l.start, l.unsent = t, p, m, now, unsent
			return l
		}
		t.mu.Unlock()
		if gate <= now && !capped {
			// Started through another pool since it was filed: re-sort.
			m.key = last
			p.avail.fixTop()
			continue
		}
		p.avail.pop()
		p.put(m, now, gate, capped, last)
	}
	return nil
}

// earliest returns the first instant at which a time-blocked token may start,
// validating the top of the timed heap so the answer is not stale.
func (p *Pool) earliest() (int64, bool) {
	for len(p.timed) > 0 {
		m := p.timed[0]
		t := m.tok
		t.mu.Lock()
		gate := t.gate(&p.limits)
		t.mu.Unlock()
		if gate > m.key {
			m.key = gate
			p.timed.fixTop()
			continue
		}
		m.key = gate // lowering the top's key keeps the heap valid
		return gate, true
	}
	return 0, false
}

// exhausted builds the error for a caller that gives up at now.
func (p *Pool) exhausted(now int64) *ExhaustedError {
	d := time.Second
	if at, ok := p.earliest(); ok {
		d = ceilSecond(time.Duration(at - now))
	}
	return &ExhaustedError{RetryAfter: d, Closed: p.closed}
}

// freed is called after a token's in-flight count dropped to inFlight.
func (p *Pool) freed(m *member, inFlight int) {
	if c := p.limits.MaxConcurrent; p.limits.CoolDown == 0 && (c == 0 || inFlight >= c) {
		return // neither the cap nor an unsent request can have blocked it here
	}
	p.mu.Lock()
	if m.loc == locNone {
		p.nNone--
		now := p.now()
		p.place(m, now)
		p.serve(now)
		p.arm(now)
	}
	p.mu.Unlock()
}
