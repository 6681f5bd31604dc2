package tokenpool

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStressInvariants runs many goroutines against two pools over the same
// tokens (a reload in progress) while a driver moves the fake clock, with
// random Cool, Quarantine, cancellation and double Release, then checks on
// the recorded starts that no limit was ever broken.
func TestStressInvariants(t *testing.T) {
	cases := []struct {
		name string
		lim  Limits
		step time.Duration // max clock step of the driver
	}{
		{"window+cooldown", Limits{RateLimit: 4, CoolDown: 3 * time.Second, MaxConcurrent: 2,
			MaxWait: 20 * time.Second, Quarantine: 30 * time.Second}, 1500 * time.Millisecond},
		{"window+cap", Limits{RateLimit: 50, MaxConcurrent: 2,
			MaxWait: 5 * time.Second, Quarantine: 10 * time.Second}, 300 * time.Millisecond},
		{"cap only", Limits{MaxConcurrent: 1, MaxWait: time.Second, Quarantine: 2 * time.Second}, 100 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { stress(t, tc.lim, tc.step) })
	}
}

func stress(t *testing.T, lim Limits, step time.Duration) {
	const (
		workers = 12
		iters   = 200
	)
	c := NewFakeClock(t0)
	toks := newTokens(5)
	pools := []*Pool{New(toks, lim, c), New(toks, lim, c)}

	type start struct {
		at  time.Time
		seq int64 // when the Acquire call began
	}
	type block struct {
		seq   int64 // when Cool/Quarantine returned
		until time.Time
	}
	var (
		seq      atomic.Int64
		mu       sync.Mutex
		starts   = map[*Token][]start{}
		blocks   = map[*Token][]block{}
		inFlight = map[*Token]*atomic.Int32{}
		served   atomic.Int64
	)
	for _, tok := range toks {
		inFlight[tok] = new(atomic.Int32)
	}

	var wg sync.WaitGroup
	var running atomic.Int32
	running.Store(workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range iters {
				p := pools[rng.IntN(len(pools))]
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(10) == 0 {
					go func() { runtime.Gosched(); cancel() }()
				}
				before := seq.Add(1)
				l, err := p.Acquire(ctx)
				cancel()
				if err != nil {
					var ex *ExhaustedError
					if !errors.As(err, &ex) && !errors.Is(err, context.Canceled) {
						t.Errorf("unexpected error %v", err)
					}
					if ex != nil && ex.RetryAfter < time.Second {
						t.Errorf("RetryAfter %v", ex.RetryAfter)
					}
					runtime.Gosched()
					continue
				}
				served.Add(1)
				tok := l.Token()
				if n := inFlight[tok].Add(1); n > int32(lim.MaxConcurrent) {
					t.Errorf("%d in flight on one token", n)
				}
				mu.Lock()
				starts[tok] = append(starts[tok], start{l.Started(), before})
				mu.Unlock()
				for j := rng.IntN(12); j > 0; j-- {
					runtime.Gosched()
				}
				switch rng.IntN(25) {
				case 0:
					until := c.Now().Add(time.Duration(rng.IntN(20000)) * time.Millisecond)
					l.Cool(until)
					mu.Lock()
					blocks[tok] = append(blocks[tok], block{seq.Add(1), until})
					mu.Unlock()
				case 1:
					from := c.Now()
					l.Quarantine("stress")
					mu.Lock()
					blocks[tok] = append(blocks[tok], block{seq.Add(1), from.Add(lim.Quarantine)})
					mu.Unlock()
				}
				inFlight[tok].Add(-1)
				l.Release()
				if rng.IntN(3) == 0 {
					l.Release()
				}
			}
		}()
	}

	rng := rand.New(rand.NewPCG(7, 7))
	for running.Load() > 0 {
		c.Advance(time.Duration(rng.Int64N(int64(step))))
		for range 8 {
			runtime.Gosched()
		}
	}
	wg.Wait()

	if served.Load() == 0 {
		t.Fatal("nothing was ever served")
	}
	for _, tok := range toks {
		ss := starts[tok]
		slices.SortFunc(ss, func(a, b start) int { return a.at.Compare(b.at) })
		for i := range ss {
			if i > 0 && ss[i].at.Sub(ss[i-1].at) < lim.CoolDown {
				t.Errorf("%s: starts %v and %v closer than CoolDown", tok.Fingerprint(), ss[i-1].at, ss[i].at)
			}
			if j := i + lim.RateLimit; lim.RateLimit > 0 && j < len(ss) && ss[j].at.Sub(ss[i].at) < Window {
				t.Errorf("%s: %d starts within %v", tok.Fingerprint(), lim.RateLimit+1, ss[j].at.Sub(ss[i].at))
			}
			for _, b := range blocks[tok] {
				if ss[i].seq > b.seq && ss[i].at.Before(b.until) {
					t.Errorf("%s: started at %v while blocked until %v", tok.Fingerprint(), ss[i].at, b.until)
				}
			}
		}
	}
	for _, p := range pools {
		if p.Waiting() != 0 {
			t.Errorf("%d waiters left", p.Waiting())
		}
		for _, s := range p.Status() {
			if s.InFlight != 0 {
				t.Errorf("%s: %d in flight at the end", s.Fingerprint, s.InFlight)
			}
		}
		p.Close()
	}
	if c.Timers() != 0 {
		t.Errorf("%d timers left", c.Timers())
	}
	t.Logf("served %d of %d", served.Load(), workers*iters)
}
