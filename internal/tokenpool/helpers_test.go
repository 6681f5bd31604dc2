package tokenpool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newTokens(n int) []*Token {
	ts := make([]*Token, n)
	for i := range ts {
		ts[i] = NewToken(fmt.Sprintf("key-%d", i))
	}
	return ts
}

func mustAcquire(t *testing.T, p *Pool) *Lease {
	t.Helper()
	l, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

// mustExhaust checks that Acquire fails at once with the given RetryAfter.
func mustExhaust(t *testing.T, p *Pool, retry time.Duration) {
	t.Helper()
	l, err := p.Acquire(context.Background())
	checkExhausted(t, l, err, retry)
}

func checkExhausted(t *testing.T, l *Lease, err error, retry time.Duration) {
	t.Helper()
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("got lease %v, err %v; want *ExhaustedError", l, err)
	}
	if ex.RetryAfter != retry {
		t.Fatalf("RetryAfter = %v, want %v", ex.RetryAfter, retry)
	}
}

type result struct {
	id  int
	l   *Lease
	err error
}

// queued makes p report every Acquire that has joined its queue.
func queued(p *Pool) <-chan struct{} {
	ch := make(chan struct{}, 64)
	p.hookQueued = func() { ch <- struct{}{} }
	return ch
}

// goAcquire runs Acquire in a goroutine and returns where its result lands.
func goAcquire(ctx context.Context, p *Pool, id int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		l, err := p.Acquire(ctx)
		ch <- result{id, l, err}
	}()
	return ch
}

// recv receives with a generous real-time bound so a bug fails the test
// instead of hanging it. It is not used to order anything.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

// eventually spins (yielding, not sleeping) until cond holds.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		runtime.Gosched()
	}
}

func statusOf(p *Pool, fp string) TokenStatus {
	for _, s := range p.Status() {
		if s.Fingerprint == fp {
			return s
		}
	}
	panic("no token " + fp)
}
