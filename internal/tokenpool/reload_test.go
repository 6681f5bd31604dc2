package tokenpool

import (
	"context"
	"testing"
	"time"
)

// A reload builds a new Pool over the same *Token objects: every state and
// window carries over.
func TestReloadCarriesStateOver(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(3)
	lim := Limits{RateLimit: 2}
	old := New(toks, lim, c)
	l := mustAcquire(t, old) // token 0
	l.Quarantine("invalid_key")
	l.Release()
	l = mustAcquire(t, old) // token 1
	l.Cool(t0.Add(5 * time.Minute))
	l.Release()
	mustAcquire(t, old).Release() // token 2, twice: window full
	mustAcquire(t, old).Release()

	c.Advance(time.Second)
	nu := New(toks, lim, c)
	old.Close()
	st := nu.Status()
	if st[0].State != StateQuarantined || st[0].Reason != "invalid_key" || !st[0].Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("token 0: %+v", st[0])
	}
	if st[1].State != StateCooling || !st[1].Until.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("token 1: %+v", st[1])
	}
	if st[2].State != StateBusy || st[2].StartsInWindow != 2 {
		t.Fatalf("token 2: %+v", st[2])
	}
	mustExhaust(t, nu, 59*time.Second) // token 2's window, not reset
	c.Set(t0.Add(Window))
	if l := mustAcquire(t, nu); l.Token() != toks[2] {
		t.Fatal("expected token 2")
	}
}

// The old pool's Release wakes a waiter of the new pool.
func TestReloadOldReleaseWakesNewWaiter(t *testing.T) {
	for _, closeOld := range []bool{false, true} {
		c := NewFakeClock(t0)
		toks := newTokens(1)
		lim := Limits{MaxConcurrent: 1, MaxWait: time.Minute}
		old := New(toks, lim, c)
		held := mustAcquire(t, old)
		nu := New(toks, lim, c)
		if closeOld {
			old.Close()
		}
		q := queued(nu)
		res := goAcquire(context.Background(), nu, 1)
		recv(t, q)
		held.Release()
		if r := recv(t, res); r.err != nil {
			t.Fatalf("closeOld=%v: %v", closeOld, r.err)
		}
	}
}

// And the other way round, while both pools are open.
func TestReloadNewReleaseWakesOldWaiter(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(1)
	lim := Limits{MaxConcurrent: 1, MaxWait: time.Minute}
	old := New(toks, lim, c)
	nu := New(toks, lim, c)
	held := mustAcquire(t, nu)
	q := queued(old)
	res := goAcquire(context.Background(), old, 1)
	recv(t, q)
	held.Release()
	if r := recv(t, res); r.err != nil {
		t.Fatal(r.err)
	}
}

// Starts through one pool are seen by the other (lazy re-validation), so the
// LRU choice and the limits hold across pools.
func TestReloadStartsSeenAcrossPools(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(2)
	old := New(toks, Limits{}, c)
	nu := New(toks, Limits{}, c)
	if l := mustAcquire(t, nu); l.Token() != toks[0] {
		t.Fatal("new pool: expected token 0")
	}
	c.Advance(time.Second)
	// The old pool's index still says token 0 was never used.
	if l := mustAcquire(t, old); l.Token() != toks[1] {
		t.Fatal("old pool: expected token 1, never used")
	}
	c.Advance(time.Second)
	// And the new pool's index says token 1 was never used.
	if l := mustAcquire(t, nu); l.Token() != toks[0] {
		t.Fatal("new pool: expected token 0, used least recently")
	}
}

func TestReloadCoolDownAcrossPools(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(1)
	lim := Limits{CoolDown: 10 * time.Second}
	old := New(toks, lim, c)
	nu := New(toks, lim, c)
	mustAcquire(t, nu).Release()
	c.Advance(time.Second)
	mustExhaust(t, old, 9*time.Second)
	c.Set(t0.Add(10 * time.Second))
	mustAcquire(t, old).Release()
	mustExhaust(t, nu, 10*time.Second)
}

// A token quarantined through the old pool after the reload is quarantined
// for the new pool as well.
func TestReloadQuarantineAfterReload(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(1)
	old := New(toks, Limits{}, c)
	l := mustAcquire(t, old)
	nu := New(toks, Limits{}, c)
	l.Quarantine("insufficient_points")
	l.Release()
	old.Close()
	mustExhaust(t, nu, time.Hour)
	if s := nu.Status()[0]; s.Reason != "insufficient_points" || s.InFlight != 0 {
		t.Fatalf("status %+v", s)
	}
}
