package tokenpool

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Shared is a pool whose limits hold across every process that uses the
// same Redis: windows, cool-downs, leases, cooling and quarantine live
// there, and each acquire is one atomic script. Waiting stays local: a
// FIFO per process, woken by a release published anywhere or by a timer
// for the earliest gate. Fairness between processes is best effort.
//
// When Redis fails, Shared falls back to a local Pool over the same tokens
// (which have shadowed this process's starts meanwhile), so a cluster of N
// degrades to at most N times the limits, and returns to Redis once the
// probe gets an answer.
type Shared struct {
	r      *Redis
	local  *Pool
	limits Limits
	clock  Clock
	toks   []*Token
	keys   []string // w, s, l, u per token
	hashes []string
	byHash map[string]bool
	track  bool  // leases are kept in Redis: they can block a token
	keepMs int64 // lifetime of a token's state hash after a start

	healthy atomic.Bool // some token not quarantined, as of the last acquire

	mu       sync.Mutex
	q        queue
	timer    Timer
	timerSeq uint64
	last     outcome // the last failed try, for Retry-After
	closed   bool
	kick     chan struct{}
	done     chan struct{}

	hookIdle func() // tests: the dispatcher found nothing free and armed its timer
}

// NewShared builds a shared pool over tokens (nil and duplicates skipped)
// on r. The tokens may be shared with other pools, as with New.
func NewShared(r *Redis, tokens []*Token, limits Limits) *Shared {
	limits = limits.withDefaults()
	s := &Shared{
		r:      r,
		limits: limits,
		clock:  r.clock,
		byHash: map[string]bool{},
		track:  limits.MaxConcurrent > 0 || limits.CoolDown > 0,
		keepMs: (Window + limits.CoolDown + time.Minute).Milliseconds(),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	seen := map[*Token]bool{}
	for _, t := range tokens {
		if t == nil || seen[t] {
			continue
		}
		seen[t] = true
		h := hashKey(t.secret)
		base := keyPrefix + "t:" + h + ":"
		s.toks = append(s.toks, t)
		s.hashes = append(s.hashes, h)
		s.byHash[h] = true
		s.keys = append(s.keys, base+"w", base+"s", base+"l", base+"u")
	}
	s.local = New(s.toks, limits, s.clock)
	s.healthy.Store(true)
	r.addListener(s)
	go s.dispatch()
	return s
}

// Len returns the number of tokens.
func (s *Shared) Len() int { return len(s.toks) }

// Waiting returns the number of Acquire calls queued in this process.
func (s *Shared) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.n + s.local.Waiting()
}

// Healthy reports whether some token is not quarantined, cluster-wide as
// of the last acquire (locally while Redis is down).
func (s *Shared) Healthy() bool {
	if !s.r.Up() {
		return s.local.Healthy()
	}
	return s.healthy.Load()
}

// outcome is one acquire script's answer; instants in Redis µs.
type outcome struct {
	now, gate, wake int64 // gate and wake are -1 when none
	capped          bool
}

// Acquire is Pool.Acquire across processes. On a Redis failure it serves
// the request from the local pool instead, never failing because of Redis.
func (s *Shared) Acquire(ctx context.Context) (*Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.r.Up() {
		return s.local.Acquire(ctx)
	}
	s.mu.Lock()
	behind := s.q.head != nil || s.closed
	s.mu.Unlock()
	if !behind {
		l, o, err := s.try()
		switch {
		case err != nil:
			return s.local.Acquire(ctx)
		case l != nil:
			return l, nil
		case !s.mayWait(o):
			return nil, s.exhausted(o)
		}
	}
	return s.wait(ctx)
}

// mayWait mirrors Pool.wait: queue only if a token can free in time, by
// a release (capped) or by time before the deadline.
func (s *Shared) mayWait(o outcome) bool {
	maxWait := micros(s.limits.MaxWait)
	return maxWait > 0 && (o.capped || o.gate >= 0 && o.gate-o.now <= maxWait)
}

func (s *Shared) exhausted(o outcome) *ExhaustedError {
	d := time.Second
	if o.gate >= 0 {
		d = ceilSecond(time.Duration(o.gate-o.now) * time.Microsecond)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	return &ExhaustedError{RetryAfter: d, Closed: closed}
}

// try runs the acquire script once.
func (s *Shared) try() (*Lease, outcome, error) {
	id := s.r.leaseID()
	track := "0"
	if s.track {
		track = "1"
	}
	v, err := s.r.run(acquireScript, s.keys, s.r.nowArg(), s.limits.RateLimit,
		micros(s.limits.CoolDown), s.limits.MaxConcurrent, micros(s.r.leaseTTL), id, s.keepMs, track)
	if err != nil {
		return nil, outcome{}, err
	}
	a, _ := v.([]any)
	n := make([]int64, 7)
	for i := range min(len(a), len(n)) {
		n[i], _ = a[i].(int64)
	}
	s.healthy.Store(n[6] == 1)
	if n[0] < 1 || int(n[0]) > len(s.toks) {
		return nil, outcome{now: n[1], gate: n[3], wake: n[4], capped: n[5] == 1}, nil
	}
	i := int(n[0]) - 1
	return s.lease(i, id), outcome{}, nil
}

// lease builds the Lease for a start recorded in Redis. The start is
// counted on the local token too (window, in flight, unsent), so that a
// fallback starts from what this process is doing.
func (s *Shared) lease(i int, id string) *Lease {
	t := s.toks[i]
	now := nanos(s.clock.Now())
	t.mu.Lock()
	unsent := t.start(now, &s.limits)
	t.mu.Unlock()
	l := &Lease{tok: t, pool: s.local, m: &s.local.members[i], start: now, unsent: unsent,
		sh: &sharedLease{s: s, i: i, id: id}}
	if s.track {
		s.r.hold(l)
	}
	return l
}

// Status returns every token as Redis knows it (local state while down).
func (s *Shared) Status() []TokenStatus {
	if !s.r.Up() {
		return s.local.Status()
	}
	v, err := s.r.run(statusScript, s.keys, s.r.nowArg())
	a, _ := v.([]any)
	if err != nil || len(a) != 1+7*len(s.toks) {
		return s.local.Status()
	}
	num := func(i int) int64 { n, _ := a[i].(int64); return n }
	now := num(0)
	at := func(us int64) time.Time { return time.UnixMicro(us) }
	out := make([]TokenStatus, len(s.toks))
	for i, t := range s.toks {
		b := 1 + 7*i
		last, cool, quar, starts, inWin, inFlight := num(b), num(b+1), num(b+2), num(b+4), num(b+5), num(b+6)
		st := TokenStatus{Fingerprint: t.fp, State: StateReady, InFlight: int(inFlight),
			StartsInWindow: int(inWin), Starts: uint64(starts)}
		switch {
		case quar > now:
			st.State, st.Until, st.Reason = StateQuarantined, at(quar), a[b+3].(string)
		case cool > now:
			st.State, st.Until = StateCooling, at(cool)
		case s.limits.RateLimit > 0 && inWin >= int64(s.limits.RateLimit):
			st.State = StateBusy
		case s.limits.CoolDown > 0 && last >= 0 && last+micros(s.limits.CoolDown) > now:
			st.State, st.Until = StateBusy, at(last+micros(s.limits.CoolDown))
		case s.limits.MaxConcurrent > 0 && inFlight >= int64(s.limits.MaxConcurrent):
			st.State = StateBusy
		}
		out[i] = st
	}
	return out
}

// Close fails the queued Acquire calls (Closed set) and stops the pool's
// goroutine and timer; leases keep working, as with Pool.Close.
func (s *Shared) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	for s.q.head != nil {
		s.resolve(s.q.head, nil, &ExhaustedError{RetryAfter: time.Second, Closed: true})
	}
	s.mu.Unlock()
	s.r.removeListener(s)
	s.local.Close()
}
