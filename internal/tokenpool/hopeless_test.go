package tokenpool

import (
	"context"
	"testing"
	"time"
)

// A waiter that queued while a token could still free in time fails as
// soon as the last room is taken and the window frees only after its
// deadline, not at the deadline: a burst larger than the window learns at
// once, with the same Retry-After.
func TestHopelessWaiterFailsAtOnce(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 2, MaxConcurrent: 1, MaxWait: 10 * time.Second}, c)
	q := queued(p)
	a := mustAcquire(t, p)                          // 1st start; the cap blocks the token
	first := goAcquire(context.Background(), p, 1)  // may get the 2nd start
	recv(t, q)                                      //
	second := goAcquire(context.Background(), p, 2) // queued too: a release could come any moment
	recv(t, q)                                      //
	c.Advance(time.Second)                          //
	a.Release()                                     // 2nd start goes to the first waiter: window full until t0+60s
	r := recv(t, first)
	if r.err != nil {
		t.Fatalf("first waiter: %v", r.err)
	}
	r.l.Release()
	// The second waiter's deadline (t0+10s) comes before the window frees:
	// it fails now, at t0+1s, without the clock moving.
	r = recv(t, second)
	checkExhausted(t, r.l, r.err, 59*time.Second)
	if p.Waiting() != 0 {
		t.Fatalf("waiting %d", p.Waiting())
	}
}
