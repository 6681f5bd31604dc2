package tokenpool

import (
	"context"
	"testing"
	"time"
)

// Under a cool-down the gap is counted from Poe's acknowledgement of the
// previous request, and the token starts nothing else before it.
func TestCoolDownCountsFromReached(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{CoolDown: time.Second}, c)
	l := mustAcquire(t, p)
	c.Advance(5 * time.Second)
	mustExhaust(t, p, time.Second) // started but not acknowledged: the token waits for it
	l.Reached()
	mustExhaust(t, p, time.Second)
	c.Advance(time.Second - time.Nanosecond)
	mustExhaust(t, p, time.Second)
	c.Advance(time.Nanosecond)
	second := mustAcquire(t, p)
	if !second.Started().Equal(t0.Add(6 * time.Second)) {
		t.Fatalf("started at %v", second.Started())
	}
	l.Reached() // idempotent: moves nothing
	second.Reached()
	c.Advance(time.Second - time.Nanosecond)
	mustExhaust(t, p, time.Second)
}

// A request Poe never acknowledged frees the token at Release, and its start
// (the acquire) still counts for the cool-down.
func TestReleaseWithoutReached(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{CoolDown: 2 * time.Second}, c)
	l := mustAcquire(t, p)
	c.Advance(time.Second)
	l.Release()
	mustExhaust(t, p, time.Second) // 1 s of cool-down left since the acquire
	c.Advance(time.Second)
	mustAcquire(t, p).Release()
}

// A waiter queued behind an unacknowledged request is served once it is acknowledged and
// the cool-down has passed.
func TestWaiterServedAfterReached(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{CoolDown: time.Second, MaxWait: 10 * time.Second}, c)
	defer p.Close()
	q := queued(p)
	first := mustAcquire(t, p)
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	c.Advance(3 * time.Second)
	first.Reached() // at t0+3s: the waiter may start at t0+4s
	c.Advance(time.Second - time.Nanosecond)
	select {
	case r := <-res:
		t.Fatalf("served before the cool-down ended: %+v", r)
	default:
	}
	c.Advance(time.Nanosecond)
	r := recv(t, res)
	if r.err != nil || !r.l.Started().Equal(t0.Add(4*time.Second)) {
		t.Fatalf("%+v", r)
	}
}

// Without a cool-down, Reached does nothing and nothing waits for it.
func TestReachedWithoutCoolDown(t *testing.T) {
	p := New(newTokens(1), Limits{}, NewFakeClock(t0))
	a := mustAcquire(t, p)
	b := mustAcquire(t, p)
	a.Reached()
	a.Release()
	b.Release()
	var nilLease *Lease
	nilLease.Reached()
}

func TestHealthy(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(2), Limits{Quarantine: time.Minute}, c)
	a := mustAcquire(t, p)
	a.Quarantine("invalid_key")
	if !p.Healthy() {
		t.Fatal("one of two quarantined: still healthy")
	}
	b := mustAcquire(t, p)
	b.Quarantine("insufficient_points")
	if p.Healthy() {
		t.Fatal("all quarantined")
	}
	c.Advance(time.Minute)
	if !p.Healthy() {
		t.Fatal("quarantine expired")
	}
}
