package tokenpool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func ptAcquire(t *testing.T, pt *Passthrough, secret string) *Lease {
	t.Helper()
	l, err := pt.Acquire(context.Background(), secret)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", secret, err)
	}
	return l
}

func TestPassthroughLimitsPerSecret(t *testing.T) {
	c := NewFakeClock(t0)
	pt := NewPassthrough(Limits{RateLimit: 1}, c, 0)
	l := ptAcquire(t, pt, "client-a")
	if l.Token().Secret() != "client-a" {
		t.Fatal("wrong secret")
	}
	l.Release()
	_, err := pt.Acquire(context.Background(), "client-a")
	var ex *ExhaustedError
	if !errors.As(err, &ex) || ex.RetryAfter != Window {
		t.Fatalf("err %v", err)
	}
	ptAcquire(t, pt, "client-b").Release() // independent
	c.Advance(Window)
	ptAcquire(t, pt, "client-a").Release()
}

func TestPassthroughWaits(t *testing.T) {
	c := NewFakeClock(t0)
	pt := NewPassthrough(Limits{MaxConcurrent: 1, MaxWait: time.Minute}, c, 0)
	held := ptAcquire(t, pt, "k")
	res := make(chan result, 1)
	go func() {
		l, err := pt.Acquire(context.Background(), "k")
		res <- result{0, l, err}
	}()
	eventually(t, func() bool { return c.Timers() == 1 }) // queued, deadline armed
	held.Release()
	r := recv(t, res)
	if r.err != nil || r.l.Token() != held.Token() {
		t.Fatalf("got %v %v", r.l, r.err)
	}
	r.l.Release()
	if c.Timers() != 0 {
		t.Fatal("timer left")
	}
}

func TestPassthroughDropsIdleEntries(t *testing.T) {
	c := NewFakeClock(t0)
	pt := NewPassthrough(Limits{RateLimit: 10}, c, 0)
	ptAcquire(t, pt, "a").Release()
	held := ptAcquire(t, pt, "b")
	q := ptAcquire(t, pt, "q")
	q.Quarantine("invalid_key")
	q.Release()
	c.Advance(Window)
	ptAcquire(t, pt, "c").Release()
	// a: idle for a window, dropped. b: in flight. q: still quarantined.
	if pt.Len() != 3 {
		t.Fatalf("Len = %d, want 3", pt.Len())
	}
	if _, err := pt.Acquire(context.Background(), "q"); err == nil {
		t.Fatal("quarantine forgotten")
	}
	held.Release()
	c.Advance(time.Hour)
	ptAcquire(t, pt, "d").Release()
	if pt.Len() != 1 {
		t.Fatalf("Len = %d, want 1", pt.Len())
	}
}

func TestPassthroughBound(t *testing.T) {
	c := NewFakeClock(t0)
	pt := NewPassthrough(Limits{}, c, 3)
	for i := 0; i < 10; i++ {
		ptAcquire(t, pt, fmt.Sprint(i)).Release()
		if pt.Len() > 3 {
			t.Fatalf("Len = %d after %d keys", pt.Len(), i+1)
		}
	}
	// The three most recently used survive.
	for _, k := range []string{"7", "8", "9"} {
		if pt.entries[k] == nil {
			t.Fatalf("%s evicted", k)
		}
	}
	// Full of keys with requests in flight: fail rather than grow.
	var held []*Lease
	for _, k := range []string{"x", "y", "z"} {
		held = append(held, ptAcquire(t, pt, k))
	}
	_, err := pt.Acquire(context.Background(), "w")
	var ex *ExhaustedError
	if !errors.As(err, &ex) || pt.Len() != 3 {
		t.Fatalf("err %v, Len %d", err, pt.Len())
	}
	held[1].Release()
	ptAcquire(t, pt, "w").Release()
	if pt.entries["y"] != nil {
		t.Fatal("expected y, the only idle entry, to be evicted")
	}
	pt.Close()
	if pt.Len() != 0 || pt.Destruct() != nil {
		t.Fatal("Close")
	}
	held[0].Release() // still fine after Close
}

// An entry is not forgotten while its window still holds starts, even if the
// last Acquire call was a window ago (that call waited before starting).
func TestPassthroughKeepsWindowOfWaitedStart(t *testing.T) {
	c := NewFakeClock(t0)
	pt := NewPassthrough(Limits{RateLimit: 2, MaxConcurrent: 1, MaxWait: time.Minute}, c, 0)
	held := ptAcquire(t, pt, "a")
	res := make(chan result, 1)
	go func() {
		l, err := pt.Acquire(context.Background(), "a")
		res <- result{0, l, err}
	}()
	eventually(t, func() bool { return c.Timers() == 1 })
	c.Advance(30 * time.Second)
	held.Release()
	r := recv(t, res) // started at t0+30s, though called at t0
	r.l.Release()
	before := pt.entries["a"]
	c.Advance(30 * time.Second)
	ptAcquire(t, pt, "b").Release() // sweeps: "a" last called a window ago
	if pt.entries["a"] != before {
		t.Fatal("entry with a start inside the window was dropped")
	}
}

// Eviction under the bound skips an entry whose caller is still waiting.
func TestPassthroughDoesNotEvictWaiting(t *testing.T) {
	c := NewFakeClock(t0)
	pt := NewPassthrough(Limits{RateLimit: 1, MaxWait: 2 * Window}, c, 1)
	ptAcquire(t, pt, "a").Release()
	res := make(chan result, 1)
	go func() {
		l, err := pt.Acquire(context.Background(), "a")
		res <- result{0, l, err}
	}()
	eventually(t, func() bool { return c.Timers() == 1 })
	var ex *ExhaustedError
	if _, err := pt.Acquire(context.Background(), "b"); !errors.As(err, &ex) {
		t.Fatalf("err %v", err)
	}
	c.Advance(Window)
	if r := recv(t, res); r.err != nil {
		t.Fatal(r.err)
	}
}
