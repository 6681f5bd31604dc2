package tokenpool

import (
	"context"
	"testing"
	"time"
)

// A token set aside is skipped; restored early, a waiter gets it at once,
// in this pool and in another pool over the same token (a reload).
func TestSetAsideAndRestore(t *testing.T) {
	c := NewFakeClock(t0)
	toks := newTokens(2)
	p := New(toks, Limits{MaxWait: time.Hour}, c)
	old := New(toks[:1], Limits{MaxWait: time.Hour}, c)
	defer old.Close()
	if got := p.Tokens(); len(got) != 2 || got[0] != toks[0] {
		t.Fatalf("Tokens %v", got)
	}
	p.SetAside(toks[0], 30*time.Minute, "insufficient_points")
	p.SetAside(toks[0], time.Minute, "insufficient_points") // never shortens
	s := p.Status()[0]
	if s.State != StateQuarantined || s.Reason != "insufficient_points" || !s.Until.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("status %+v", s)
	}
	l := mustAcquire(t, p)
	if l.Token() != toks[1] {
		t.Fatal("a token set aside was chosen")
	}
	q := queued(old)
	ch := goAcquire(context.Background(), old, 1)
	<-q
	if p.Restore(toks[0], "invalid_key") {
		t.Fatal("restored for another reason")
	}
	if !p.Restore(toks[0], "insufficient_points") {
		t.Fatal("not restored")
	}
	r := recv(t, ch)
	if r.err != nil || r.l.Token() != toks[0] {
		t.Fatalf("waiter got %v %v", r.l, r.err)
	}
	if s := p.Status()[0]; s.State != StateReady || s.Reason != "" {
		t.Fatalf("status after restore %+v", s)
	}
	if p.Restore(toks[0], "insufficient_points") {
		t.Fatal("restored twice")
	}
	r.l.Release()
	l.Release()
	mustAcquire(t, p).Release()
}

func TestKeyLimiterUsed(t *testing.T) {
	c := NewFakeClock(t0)
	k := NewKeyLimiter(3, c)
	k.Allow("a")
	k.Allow("a")
	if k.Used("a") != 2 || k.Used("b") != 0 {
		t.Fatalf("used %d %d", k.Used("a"), k.Used("b"))
	}
	c.Advance(Window)
	if k.Used("a") != 0 {
		t.Fatalf("used after the window %d", k.Used("a"))
	}
}

func TestHeapRemove(t *testing.T) {
	var h mheap
	ms := make([]*member, 9)
	for i := range ms {
		ms[i] = &member{key: int64((i * 5) % 9), idx: i}
		h.push(ms[i])
	}
	h.remove(ms[4].pos)
	h.remove(ms[0].pos)
	var last int64 = -1
	for len(h) > 0 {
		m := h.pop()
		if m == ms[4] || m == ms[0] || m.key < last {
			t.Fatalf("heap order broken at %+v", m)
		}
		last = m.key
	}
}
