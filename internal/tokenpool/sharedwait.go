package tokenpool

import (
	"context"
	"errors"
	"time"
)

// errFallback resolves the waiters queued when Redis failed: they go on
// waiting in the local pool.
var errFallback = errors.New("tokenpool: shared state unreachable")

// wait queues the caller behind earlier ones; the dispatcher serves the
// queue head by head.
func (s *Shared) wait(ctx context.Context) (*Lease, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &ExhaustedError{RetryAfter: time.Second, Closed: true}
	}
	w := &waiter{deadline: nanos(s.clock.Now()) + int64(s.limits.MaxWait), done: make(chan struct{})}
	s.q.push(w)
	s.mu.Unlock()
	// A release may have been published between the failed try and the
	// push: the dispatcher tries again now that the waiter is queued.
	s.wake()

	select {
	case <-w.done:
	case <-ctx.Done():
		s.mu.Lock()
		if w.queued {
			s.q.remove(w)
			s.mu.Unlock()
			return nil, ctx.Err()
		}
		s.mu.Unlock()
		<-w.done
		w.lease.Release() // nil-safe; the caller is gone
		return nil, ctx.Err()
	}
	if w.err == errFallback {
		return s.local.Acquire(ctx)
	}
	return w.lease, w.err
}

func (s *Shared) resolve(w *waiter, l *Lease, err error) {
	s.q.remove(w)
	w.lease, w.err = l, err
	close(w.done)
}

// wake asks the dispatcher to look at the queue; never blocks.
func (s *Shared) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// dispatch is the pool's one goroutine that talks to Redis for waiters,
// so a burst of wake-ups costs one script call per served waiter, not one
// per waiter per wake-up.
func (s *Shared) dispatch() {
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		s.serve()
	}
}

// serve hands tokens to the queue head until none is free, then arms the
// timer for the earliest instant a token frees by time or a deadline.
func (s *Shared) serve() {
	for {
		s.mu.Lock()
		empty := s.q.head == nil || s.closed
		s.mu.Unlock()
		if empty {
			return
		}
		var (
			l   *Lease
			o   outcome
			err = errFallback
		)
		if s.r.Up() {
			l, o, err = s.try()
		}
		s.mu.Lock()
		switch {
		case err != nil:
			for s.q.head != nil {
				s.resolve(s.q.head, nil, errFallback)
			}
			s.mu.Unlock()
			return
		case l != nil:
			if s.q.head == nil { // the waiter left meanwhile
				s.mu.Unlock()
				l.Release()
				return
			}
			s.resolve(s.q.head, l, nil)
			s.mu.Unlock()
			continue
		}
		// Nothing free: expire the waiters whose deadline has come (after
		// the try, so a token freeing exactly then still goes to them).
		s.last = o
		now := nanos(s.clock.Now())
		for w := s.q.head; w != nil && w.deadline <= now; w = s.q.head {
			s.resolve(w, nil, s.exhaustedLocked())
		}
		s.arm(now, o)
		hook := s.hookIdle
		s.mu.Unlock()
		if hook != nil {
			hook()
		}
		return
	}
}

// exhaustedLocked is exhausted for callers holding s.mu.
func (s *Shared) exhaustedLocked() *ExhaustedError {
	o := s.last
	d := time.Second
	if o.gate >= 0 && o.gate > o.now {
		// The gate was measured at o.now; some of that wait has passed,
		// but Retry-After only has to be an upper bound.
		d = ceilSecond(time.Duration(o.gate-o.now) * time.Microsecond)
	}
	return &ExhaustedError{RetryAfter: d, Closed: s.closed}
}

// arm sets the single timer for the earlier of the head's deadline and
// the moment Redis said a token frees by time (or a lease expires).
// Caller holds s.mu.
func (s *Shared) arm(now int64, o outcome) {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.q.head == nil || s.closed {
		return
	}
	d := time.Duration(s.q.head.deadline - now)
	if o.wake >= 0 {
		d = min(d, time.Duration(o.wake-o.now)*time.Microsecond)
	}
	s.timerSeq++
	seq := s.timerSeq
	s.timer = s.clock.AfterFunc(max(d, 1), func() {
		s.mu.Lock()
		if seq == s.timerSeq {
			s.timer = nil
		}
		s.mu.Unlock()
		s.wake()
	})
}
