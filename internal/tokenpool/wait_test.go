package tokenpool

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitersServedInFIFOOrder(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1, MaxWait: time.Minute}, c)
	q := queued(p)
	held := mustAcquire(t, p)
	results := make(chan result, 4)
	for id := 1; id <= 4; id++ {
		go func() {
			l, err := p.Acquire(context.Background())
			results <- result{id, l, err}
		}()
		recv(t, q) // id is queued before the next one starts
	}
	if p.Waiting() != 4 || c.Timers() != 1 {
		t.Fatalf("waiting %d timers %d", p.Waiting(), c.Timers())
	}
	for want := 1; want <= 4; want++ {
		held.Release() // hands the token straight to the head waiter
		r := recv(t, results)
		if r.err != nil || r.id != want {
			t.Fatalf("got waiter %d (%v), want %d", r.id, r.err, want)
		}
		held = r.l
	}
	held.Release()
	if c.Timers() != 0 {
		t.Fatal("timer left armed with nobody waiting")
	}
}

// A new Acquire must not overtake a waiter even when a token is free at that
// very instant (its timer has not fired yet).
func TestNewAcquireQueuesBehindWaiters(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 1, MaxWait: 90 * time.Second}, c)
	q := queued(p)
	mustAcquire(t, p).Release()
	first := goAcquire(context.Background(), p, 1)
	recv(t, q)

	// Move time to when the slot frees without running the pool's timer.
	c.mu.Lock()
	c.now = t0.Add(Window)
	c.mu.Unlock()

	second := goAcquire(context.Background(), p, 2)
	r := recv(t, first) // the newcomer's Acquire handed the token to the head
	if r.err != nil || !r.l.Started().Equal(t0.Add(Window)) {
		t.Fatalf("first waiter: %v %v", r.l, r.err)
	}
	recv(t, q) // and the newcomer queued
	if p.Waiting() != 1 {
		t.Fatalf("waiting %d", p.Waiting())
	}
	c.Advance(Window)
	if r := recv(t, second); r.err != nil || !r.l.Started().Equal(t0.Add(2*Window)) {
		t.Fatalf("second waiter: %v %v", r.l, r.err)
	}
}

func TestHandOffOnRelease(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(2), Limits{MaxConcurrent: 1, MaxWait: 10 * time.Second}, c)
	q := queued(p)
	a, b := mustAcquire(t, p), mustAcquire(t, p)
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	if c.Timers() != 1 { // the MaxWait deadline
		t.Fatalf("timers %d", c.Timers())
	}
	b.Release() // no clock movement needed
	r := recv(t, res)
	if r.err != nil || r.l.Token() != b.Token() {
		t.Fatalf("got %v %v", r.l, r.err)
	}
	if c.Timers() != 0 || p.Waiting() != 0 {
		t.Fatal("timer or waiter left behind")
	}
	a.Release()
	r.l.Release()
}

func TestTimerHandOffWhenWindowSlotFrees(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 1, MaxWait: 90 * time.Second}, c)
	q := queued(p)
	mustAcquire(t, p).Release()
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	c.Advance(Window - 1)
	if p.Waiting() != 1 {
		t.Fatal("served before the slot freed")
	}
	c.Advance(1)
	r := recv(t, res)
	if r.err != nil || !r.l.Started().Equal(t0.Add(Window)) {
		t.Fatalf("got %v %v", r.l, r.err)
	}
	if c.Timers() != 0 {
		t.Fatal("timer left armed")
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1, MaxWait: time.Minute}, c)
	q := queued(p)
	held := mustAcquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	first := goAcquire(ctx, p, 1)
	recv(t, q)
	second := goAcquire(context.Background(), p, 2)
	recv(t, q)

	cancel()
	if r := recv(t, first); !errors.Is(r.err, context.Canceled) || r.l != nil {
		t.Fatalf("cancelled waiter got %v %v", r.l, r.err)
	}
	if p.Waiting() != 1 {
		t.Fatalf("waiting %d", p.Waiting())
	}
	held.Release()
	if r := recv(t, second); r.err != nil || r.id != 2 {
		t.Fatalf("next waiter got %v", r.err)
	}
}

func TestCancelLastWaiterStopsTimer(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1, MaxWait: time.Minute}, c)
	q := queued(p)
	mustAcquire(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	res := goAcquire(ctx, p, 1)
	recv(t, q)
	cancel()
	if r := recv(t, res); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err %v", r.err)
	}
	if c.Timers() != 0 || p.Waiting() != 0 {
		t.Fatal("timer or waiter left")
	}
}

func TestMaxWaitExpiryRetryAfter(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(2), Limits{RateLimit: 2, MaxConcurrent: 1, MaxWait: 10 * time.Second}, c)
	q := queued(p)
	a := mustAcquire(t, p) // token 0: blocked by the cap only
	c.Advance(500 * time.Millisecond)
	mustAcquire(t, p).Release() // token 1, twice: window full until t0+60.5s
	mustAcquire(t, p).Release()
	c.Advance(500 * time.Millisecond)

	// Token 0 may be released any moment, so the call waits.
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	c.Advance(10*time.Second - 1)
	if p.Waiting() != 1 {
		t.Fatal("gave up early")
	}
	c.Advance(1)
	r := recv(t, res)
	// Failed at t0+11s; token 1 frees at t0+60.5s: 49.5 s, rounded up.
	checkExhausted(t, r.l, r.err, 50*time.Second)
	a.Release()
}

// Lazy validation: a token cooled while a waiter waits for its window slot
// is not handed out when the stale timer fires, only when the cool ends.
func TestCoolWhileWaiting(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 1, MaxWait: 2 * Window}, c)
	q := queued(p)
	l := mustAcquire(t, p)
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	l.Cool(t0.Add(90 * time.Second))
	l.Release()
	c.Advance(Window)
	if p.Waiting() != 1 {
		t.Fatal("handed out a cooling token")
	}
	c.Advance(30*time.Second - 1)
	if p.Waiting() != 1 {
		t.Fatal("handed out a cooling token")
	}
	c.Advance(1)
	if r := recv(t, res); r.err != nil || !r.l.Started().Equal(t0.Add(90*time.Second)) {
		t.Fatalf("got %v %v", r.l, r.err)
	}
}

func TestCloseFailsWaiters(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1, MaxWait: time.Minute}, c)
	q := queued(p)
	held := mustAcquire(t, p)
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	p.Close()
	p.Close()
	r := recv(t, res)
	var ex *ExhaustedError
	if !errors.As(r.err, &ex) || !ex.Closed || ex.RetryAfter != time.Second {
		t.Fatalf("err %v", r.err)
	}
	if c.Timers() != 0 {
		t.Fatal("timer left after Close")
	}
	// No waiting after Close, even with a token blocked only by the cap.
	l, err := p.Acquire(context.Background())
	if !errors.As(err, &ex) || !ex.Closed {
		t.Fatalf("after Close: %v %v", l, err)
	}
	held.Release()
	// A free token is still handed out (failover retry of a retiring config).
	mustAcquire(t, p).Release()
}

// The real clock path: a waiter is handed the token by time.AfterFunc once
// the cool-down ends.
func TestSystemClockWait(t *testing.T) {
	p := New(newTokens(1), Limits{CoolDown: 20 * time.Millisecond, MaxWait: 5 * time.Second}, nil)
	defer p.Close()
	first := mustAcquire(t, p)
	first.Release()
	second := mustAcquire(t, p) // waits about 20 ms
	if gap := second.Started().Sub(first.Started()); gap < 20*time.Millisecond {
		t.Fatalf("started %v after the first", gap)
	}
	second.Release()
}
