package tokenpool

import (
	"context"
	"time"
)

// waiter is a queued Acquire call. It is resolved (lease or err set, done
// closed) under the pool's mutex, by whoever frees a token: a Release, the
// pool's timer, or Close.
type waiter struct {
	prev, next *waiter
	deadline   int64
	queued     bool
	done       chan struct{}
	lease      *Lease
	err        error
}

// queue is a FIFO of waiters, doubly linked so a cancelled waiter leaves in
// O(1). All waiters share MaxWait, so deadlines rise from head to tail.
type queue struct {
	head, tail *waiter
	n          int
}

func (q *queue) push(w *waiter) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *queue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
}

func (p *Pool) resolve(w *waiter, l *Lease, err error) {
	p.q.remove(w)
	w.lease, w.err = l, err
	close(w.done)
}

// wait is Acquire's slow path, entered with p.mu held; it unlocks.
func (p *Pool) wait(ctx context.Context, now int64) (*Lease, error) {
	maxWait := int64(p.limits.MaxWait)
	at, ok := p.earliest()
	// Queue only if a token may free in time: one blocked by the in-flight
	// cap (a release can come any moment) or one free by time before the
	// deadline. Otherwise waiting would only delay the same failure.
	if p.closed || maxWait == 0 || (p.nNone == 0 && (!ok || at > now+maxWait)) {
		err := p.exhausted(now)
		p.mu.Unlock()
		return nil, err
	}
	w := &waiter{deadline: now + maxWait, done: make(chan struct{})}
	p.q.push(w)
	p.arm(now)
	hook := p.hookQueued
	p.mu.Unlock()
	if hook != nil {
		hook()
	}

	select {
	case <-w.done:
		return w.lease, w.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	if w.queued {
		p.q.remove(w)
		p.arm(p.now())
		p.mu.Unlock()
		return nil, ctx.Err()
	}
	p.mu.Unlock()
	// Resolved while ctx ended: the caller is gone, give the token back.
	<-w.done
	w.lease.Release() // nil-safe
	return nil, ctx.Err()
}

// serve hands available tokens to waiters, oldest first; the waiters no
// token can reach before their deadline fail at once.
func (p *Pool) serve(now int64) {
	if p.q.head == nil {
		return
	}
	p.promote(now)
	for p.q.head != nil {
		l := p.take(now, nil)
		if l == nil {
			p.dropHopeless(now)
			return
		}
		p.resolve(p.q.head, l, nil)
	}
}

// dropHopeless fails the waiters whose deadline comes before any token
// frees by time (a full rate window), rather than at their deadline: the
// client learns at once, with the same Retry-After. A token blocked by
// the in-flight cap or an unsent request may free any moment, so then
// every waiter keeps its chance.
func (p *Pool) dropHopeless(now int64) {
	if p.nNone > 0 {
		return
	}
	at, ok := p.earliest()
	for w := p.q.head; w != nil && (!ok || at > w.deadline); w = p.q.head {
		p.resolve(w, nil, p.exhausted(now))
	}
}

// expire fails the waiters whose deadline has come. Called after serve, so a
// token that frees exactly at a deadline still goes to the waiter.
func (p *Pool) expire(now int64) {
	for w := p.q.head; w != nil && w.deadline <= now; w = p.q.head {
		p.resolve(w, nil, p.exhausted(now))
	}
}

// arm keeps the single pool timer set for the next instant something can
// happen to the queue: a time-blocked token frees or the head's deadline.
// In-flight releases need no timer; they call freed.
func (p *Pool) arm(now int64) {
	if p.q.head == nil || p.closed {
		p.stopTimer()
		return
	}
	at := p.q.head.deadline
	if e, ok := p.earliest(); ok && e < at {
		at = e
	}
	if p.timer != nil {
		if p.timerAt == at {
			return
		}
		p.timer.Stop()
	}
	p.timerSeq++
	seq := p.timerSeq
	p.timerAt = at
	d := max(time.Duration(at-now), 1)
	p.timer = p.clock.AfterFunc(d, func() { p.onTimer(seq) })
}

func (p *Pool) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

func (p *Pool) onTimer(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq == p.timerSeq {
		p.timer = nil // this one has fired; a stale one leaves the current alone
	}
	if p.closed {
		return
	}
	now := p.now()
	p.serve(now)
	p.expire(now)
	p.arm(now)
}
