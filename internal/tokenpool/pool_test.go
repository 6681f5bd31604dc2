package tokenpool

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWindowBoundary(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 3}, c)
	for i := 0; i < 3; i++ {
		mustAcquire(t, p).Release()
		c.Advance(time.Second)
	}
	// Starts at t0, t0+1s, t0+2s; now t0+3s.
	mustExhaust(t, p, 57*time.Second)
	c.Set(t0.Add(Window - 1))
	mustExhaust(t, p, time.Second) // 1 ns away, rounded up
	if n := p.Status()[0].StartsInWindow; n != 3 {
		t.Fatalf("StartsInWindow = %d 1ns before the boundary", n)
	}
	c.Set(t0.Add(Window)) // oldest start exactly 60 s old
	if n := p.Status()[0].StartsInWindow; n != 2 {
		t.Fatalf("StartsInWindow = %d at the boundary", n)
	}
	l := mustAcquire(t, p)
	if !l.Started().Equal(t0.Add(Window)) {
		t.Fatalf("started %v", l.Started())
	}
	l.Release()
	// Window now holds t0+1s, t0+2s, t0+60s.
	mustExhaust(t, p, time.Second)
	c.Set(t0.Add(Window + time.Second))
	mustAcquire(t, p).Release()
	if s := p.Status()[0]; s.StartsInWindow != 3 || s.Starts != 5 || s.State != StateBusy ||
		!s.Until.Equal(t0.Add(Window+2*time.Second)) {
		t.Fatalf("status %+v", s)
	}
}

func TestWindowSameInstant(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 5}, c)
	for i := 0; i < 5; i++ {
		mustAcquire(t, p) // leases kept: no cap, so in-flight does not block
	}
	mustExhaust(t, p, Window)
}

func TestCoolDownBoundary(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{CoolDown: 2500 * time.Millisecond}, c)
	mustAcquire(t, p).Release()
	mustExhaust(t, p, 3*time.Second) // 2.5 s rounded up
	c.Set(t0.Add(2500*time.Millisecond - 1))
	mustExhaust(t, p, time.Second)
	c.Set(t0.Add(2500 * time.Millisecond))
	mustAcquire(t, p).Release()
}

func TestLeastRecentlyUsed(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(3)
	p := New(toks, Limits{}, c)
	expect := func(want *Token) {
		t.Helper()
		l := mustAcquire(t, p)
		defer l.Release()
		if l.Token() != want {
			t.Fatalf("got %s, want %s", l.Token().Fingerprint(), want.Fingerprint())
		}
	}
	// Never used: config order. Then all last started at t0: config order.
	for _, tok := range toks {
		expect(tok)
	}
	for i, want := range []*Token{toks[0], toks[1], toks[2], toks[0], toks[1]} {
		c.Set(t0.Add(time.Duration(i+1) * time.Second))
		expect(want)
	}

	// Never-used tokens come before used ones whatever the config order.
	fresh := NewToken("fresh")
	p2 := New([]*Token{toks[2], toks[0], fresh}, Limits{}, c)
	if l := mustAcquire(t, p2); l.Token() != fresh {
		t.Fatalf("got %s, want the never used token", l.Token().Fingerprint())
	}
}

func TestOnlyTokensWithRoomAreChosen(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(3)
	p := New(toks, Limits{MaxConcurrent: 1}, c)
	ls := []*Lease{mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)}
	mustExhaust(t, p, time.Second) // all blocked by the cap only
	ls[1].Release()
	if l := mustAcquire(t, p); l.Token() != toks[1] {
		t.Fatal("expected the released token")
	}
}

func TestReleaseIdempotent(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1}, c)
	l1 := mustAcquire(t, p)
	l1.Release()
	l1.Release()
	if s := p.Status()[0]; s.InFlight != 0 {
		t.Fatalf("in flight %d", s.InFlight)
	}
	l2 := mustAcquire(t, p)
	l1.Release() // must not free l2's slot
	if s := p.Status()[0]; s.InFlight != 1 || s.State != StateBusy {
		t.Fatalf("status %+v", s)
	}
	mustExhaust(t, p, time.Second)
	l2.Release()
	var nilLease *Lease
	nilLease.Release()
}

func TestReleaseInDeferAfterPanic(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1}, c)
	func() {
		defer func() { _ = recover() }()
		l := mustAcquire(t, p)
		defer l.Release()
		panic("handler blew up")
	}()
	if s := p.Status()[0]; s.InFlight != 0 {
		t.Fatalf("in flight %d", s.InFlight)
	}
	mustAcquire(t, p).Release()
}

func TestQuarantineAndExpiry(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(1)
	p := New(toks, Limits{}, c)
	l := mustAcquire(t, p)
	l.Quarantine("invalid_key")
	l.Release()
	s := p.Status()[0]
	if s.State != StateQuarantined || s.Reason != "invalid_key" || !s.Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("status %+v", s)
	}
	mustExhaust(t, p, time.Hour)
	c.Set(t0.Add(time.Hour - 1))
	mustExhaust(t, p, time.Second)
	c.Set(t0.Add(time.Hour))
	if s := p.Status()[0]; s.State != StateReady || s.Reason != "" {
		t.Fatalf("status after expiry %+v", s)
	}
	mustAcquire(t, p).Release()

	// Custom duration; re-quarantine never shortens.
	p2 := New(toks, Limits{Quarantine: 10 * time.Minute}, c)
	l = mustAcquire(t, p2)
	l.Quarantine("insufficient_points")
	c.Advance(time.Minute)
	l.Quarantine("insufficient_points") // extends to t+11m
	l.Release()
	mustExhaust(t, p2, 10*time.Minute)
}

func TestCool(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{}, c)
	l := mustAcquire(t, p)
	l.Cool(t0.Add(30 * time.Second))
	l.Cool(t0.Add(10 * time.Second)) // shorter: no-op
	l.Cool(time.Time{})              // zero/past: no-op
	l.Release()
	if s := p.Status()[0]; s.State != StateCooling || !s.Until.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("status %+v", s)
	}
	c.Advance(100 * time.Millisecond)
	mustExhaust(t, p, 30*time.Second) // 29.9 s rounded up
	c.Set(t0.Add(30 * time.Second))
	mustAcquire(t, p).Release()
}

func TestFailAtOnce(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{RateLimit: 1, MaxWait: 10 * time.Second}, c)
	mustAcquire(t, p).Release()
	c.Advance(time.Second)
	// Earliest at t0+60s, deadline t0+11s: no point waiting.
	mustExhaust(t, p, 59*time.Second)
	if c.Timers() != 0 || p.Waiting() != 0 {
		t.Fatal("failed call left a timer or waiter behind")
	}

	// Earliest exactly at the deadline: wait and get it.
	q := queued(p)
	c.Set(t0.Add(50 * time.Second))
	res := goAcquire(context.Background(), p, 1)
	recv(t, q)
	c.Advance(10*time.Second - 1)
	if p.Waiting() != 1 {
		t.Fatal("served early")
	}
	c.Advance(1)
	r := recv(t, res)
	if r.err != nil || !r.l.Started().Equal(t0.Add(Window)) {
		t.Fatalf("got %v %v", r.l, r.err)
	}
}

func TestMaxWaitZeroFailsAtOnce(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 1}, c)
	mustAcquire(t, p)
	mustExhaust(t, p, time.Second)
	if c.Timers() != 0 {
		t.Fatal("timer armed")
	}
}

func TestEmptyPool(t *testing.T) {
	p := New(nil, Limits{MaxWait: time.Minute}, NewFakeClock(t0))
	mustExhaust(t, p, time.Second)
	if p.Len() != 0 {
		t.Fatal("Len")
	}
}

func TestDuplicateAndNilTokens(t *testing.T) {
	tok := NewToken("a")
	p := New([]*Token{tok, nil, tok}, Limits{}, NewFakeClock(t0))
	if p.Len() != 1 {
		t.Fatalf("Len = %d", p.Len())
	}
}

func TestContextAlreadyDone(t *testing.T) {
	p := New(newTokens(1), Limits{}, NewFakeClock(t0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	// sha256("secret") = 2bb80d53...
	if fp := NewToken("secret").Fingerprint(); fp != "2bb80d53" {
		t.Fatalf("fingerprint %s", fp)
	}
	tok := NewToken("secret")
	if tok.Secret() != "secret" || tok.Destruct() != nil {
		t.Fatal("Secret/Destruct")
	}
}

func TestStatusBusyByCap(t *testing.T) {
	c := NewFakeClock(t0)
	p := New(newTokens(1), Limits{MaxConcurrent: 2, CoolDown: time.Second}, c)
	mustAcquire(t, p).Reached()
	if s := p.Status()[0]; s.State != StateBusy || !s.Until.Equal(t0.Add(time.Second)) || s.InFlight != 1 {
		t.Fatalf("status %+v", s)
	}
	c.Advance(time.Second)
	mustAcquire(t, p).Reached()
	c.Advance(time.Second)
	if s := p.Status()[0]; s.State != StateBusy || !s.Until.IsZero() || s.InFlight != 2 {
		t.Fatalf("status %+v", s)
	}
}

// With 10,000 tokens each may start once per window: every token is used
// once, in config order, before the pool reports exhaustion.
func TestManyTokens(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(10000)
	p := New(toks, Limits{RateLimit: 1}, c)
	for i, want := range toks {
		l := mustAcquire(t, p)
		if l.Token() != want {
			t.Fatalf("acquire %d got the wrong token", i)
		}
		l.Release()
	}
	mustExhaust(t, p, Window)
	c.Advance(Window)
	if l := mustAcquire(t, p); l.Token() != toks[0] {
		t.Fatal("expected the least recently used token")
	}
}
