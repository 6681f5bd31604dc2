package tokenpool

import (
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

func TestSharedLimiterUsed(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	a := newInstance(t, srv, c, 1, Limits{}, RedisOptions{})
	b := newInstance(t, srv, c, 1, Limits{}, RedisOptions{})
	la := NewSharedLimiter(a.r, NewKeyLimiter(5, c), 5)
	lb := NewSharedLimiter(b.r, NewKeyLimiter(5, c), 5)
	la.Allow("client")
	c.Advance(time.Second)
	lb.Allow("client")
	if n := la.Used("client"); n != 2 {
		t.Fatalf("used %d across instances, want 2", n)
	}
	if n := la.Used("other"); n != 0 {
		t.Fatalf("other client used %d", n)
	}
	c.Set(t0.Add(Window))
	if n := lb.Used("client"); n != 1 {
		t.Fatalf("used %d once the first left the window, want 1", n)
	}
}
