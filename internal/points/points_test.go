package points

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// source is a fake Poe balance endpoint: per-key balances or errors, and
// a count of reads.
type source struct {
	mu     sync.Mutex
	points map[string]int64
	fail   map[string]error
	calls  map[string]int
	block  chan struct{} // when set, reads wait for it (or their context)
}

func newSource() *source {
	return &source{points: map[string]int64{}, fail: map[string]error{}, calls: map[string]int{}}
}

func (s *source) Balance(ctx context.Context, secret string) (int64, error) {
	s.mu.Lock()
	s.calls[secret]++
	block := s.block
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[secret]; err != nil {
		return 0, err
	}
	return s.points[secret], nil
}

func (s *source) set(secret string, n int64) {
	s.mu.Lock()
	s.points[secret] = n
	s.mu.Unlock()
}

func (s *source) count(secret string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[secret]
}

type change struct {
	fp    string
	aside bool
}

type fixture struct {
	clock   *clock
	src     *source
	pool    *tokenpool.Pool
	toks    []*tokenpool.Token
	poller  *Poller
	mu      sync.Mutex
	changes []change
	changed chan change
	gauge   map[string]int64
}

func newFixture(t *testing.T, floor int64, secrets ...string) *fixture {
	f := &fixture{clock: newClock(), src: newSource(), gauge: map[string]int64{}, changed: make(chan change, 16)}
	var keys []*Key
	for _, s := range secrets {
		tok := tokenpool.NewToken(s)
		f.toks = append(f.toks, tok)
		keys = append(keys, NewKey(tok))
		f.src.set(s, 1000)
	}
	f.pool = tokenpool.New(f.toks, tokenpool.Limits{}, nil)
	t.Cleanup(f.pool.Close)
	f.poller = New(Options{
		Keys: keys, Balance: f.src.Balance, Pool: f.pool, Floor: floor, Hold: time.Hour, Now: f.clock.Now,
		OnReading: func(fp string, n int64) { f.mu.Lock(); f.gauge[fp] = n; f.mu.Unlock() },
		OnChange: func(fp string, aside bool, _ int64) {
			f.mu.Lock()
			f.changes = append(f.changes, change{fp, aside})
			f.mu.Unlock()
			f.changed <- change{fp, aside}
		},
	})
	return f
}

func (f *fixture) state(i int) tokenpool.TokenStatus { return f.pool.Status()[i] }

func TestPointsFloorAndComeBack(t *testing.T) {
	f := newFixture(t, 0, "key-a", "key-b")
	f.src.set("key-a", 0)
	f.poller.CheckAll(context.Background())

	if s := f.state(0); s.State != tokenpool.StateQuarantined || s.Reason != Reason {
		t.Fatalf("key at the floor: %+v", s)
	}
	if s := f.state(1); s.State != tokenpool.StateReady {
		t.Fatalf("key with points: %+v", s)
	}
	if f.gauge[f.toks[0].Fingerprint()] != 0 || f.gauge[f.toks[1].Fingerprint()] != 1000 {
		t.Fatalf("gauge %v", f.gauge)
	}

	// Topped up, but read again only once MinGap has passed.
	f.src.set("key-a", 50)
	f.clock.Advance(30 * time.Second)
	f.poller.CheckAll(context.Background())
	if s := f.state(0); s.State != tokenpool.StateQuarantined || f.src.count("key-a") != 1 {
		t.Fatalf("read again within MinGap: %+v, %d reads", s, f.src.count("key-a"))
	}
	f.clock.Advance(30 * time.Second)
	f.poller.CheckAll(context.Background())
	if s := f.state(0); s.State != tokenpool.StateReady || f.src.count("key-a") != 2 {
		t.Fatalf("topped-up key not back: %+v, %d reads", s, f.src.count("key-a"))
	}
	fp := f.toks[0].Fingerprint()
	if len(f.changes) != 2 || f.changes[0] != (change{fp, true}) || f.changes[1] != (change{fp, false}) {
		t.Fatalf("changes %+v", f.changes)
	}
	if f.gauge[fp] != 50 {
		t.Fatalf("gauge %v", f.gauge)
	}
}

func TestPointsFloorIsInclusive(t *testing.T) {
	f := newFixture(t, 100, "key-a")
	for _, c := range []struct {
		points int64
		aside  bool
	}{{100, true}, {101, false}, {5, true}, {1000, false}} {
		f.src.set("key-a", c.points)
		f.poller.CheckAll(context.Background())
		if got := f.state(0).State == tokenpool.StateQuarantined; got != c.aside {
			t.Fatalf("balance %d with floor 100: aside %v, want %v", c.points, got, c.aside)
		}
		if works := f.poller.KeyWorks(context.Background(), f.toks[0]); works == c.aside {
			t.Fatalf("balance %d: KeyWorks %v", c.points, works)
		}
		f.clock.Advance(MinGap)
	}
}

// A key quarantined for another reason is not restored by a good reading.
func TestPointsRestoresOnlyItsOwnReason(t *testing.T) {
	f := newFixture(t, 0, "key-a")
	f.pool.SetAside(f.toks[0], time.Hour, "invalid_key")
	f.poller.CheckAll(context.Background())
	if s := f.state(0); s.State != tokenpool.StateQuarantined || s.Reason != "invalid_key" {
		t.Fatalf("%+v", s)
	}
}

func TestPointsFailedReadChangesNothing(t *testing.T) {
	f := newFixture(t, 0, "key-a")
	f.src.set("key-a", 0)
	f.poller.CheckAll(context.Background())
	f.clock.Advance(MinGap)
	f.src.fail["key-a"] = errors.New("Poe is down")
	f.src.set("key-a", 500)
	f.poller.CheckAll(context.Background())
	r := f.poller.o.Keys[0].Reading()
	if s := f.state(0); s.State != tokenpool.StateQuarantined {
		t.Fatalf("a failed read brought the key back: %+v", s)
	}
	if !r.Known || r.Points != 0 || r.Err != "Poe is down" {
		t.Fatalf("reading %+v", r)
	}
	if f.poller.KeyWorks(context.Background(), f.toks[0]) {
		t.Fatal("KeyWorks true after a failed read")
	}
	if f.poller.KeyWorks(context.Background(), tokenpool.NewToken("stranger")) {
		t.Fatal("KeyWorks true for a key not in the pool")
	}
}

// A storm of failures asks Poe at most once a minute per key, and
// concurrent askers share one read.
func TestPointsRateOfChecks(t *testing.T) {
	f := newFixture(t, 0, "key-a", "key-b")
	f.src.set("key-a", 0)
	for step := 0; step < 30; step++ { // 5 minutes in 10 s steps
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if f.poller.KeyWorks(context.Background(), f.toks[0]) {
					t.Error("KeyWorks true for an empty key")
				}
			}()
		}
		f.poller.CheckAll(context.Background())
		wg.Wait()
		f.clock.Advance(10 * time.Second)
	}
	// Reads at 0, 60, 120, 180, 240 s.
	if n := f.src.count("key-a"); n != 5 {
		t.Fatalf("%d reads of key-a in 5 minutes, want 5", n)
	}
	if n := f.src.count("key-b"); n != 5 {
		t.Fatalf("%d reads of key-b in 5 minutes, want 5", n)
	}
}

func TestPointsConcurrentAskersShareOneRead(t *testing.T) {
	f := newFixture(t, 0, "key-a")
	f.src.block = make(chan struct{})
	results := make(chan bool)
	for range 10 {
		go func() { results <- f.poller.KeyWorks(context.Background(), f.toks[0]) }()
	}
	// Every asker but the reader waits on the read in progress.
	f.waitReads(t, "key-a", 1)
	close(f.src.block)
	for range 10 {
		if !<-results {
			t.Fatal("KeyWorks false for a key with points")
		}
	}
	if n := f.src.count("key-a"); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}
}

func TestPointsRunAndStop(t *testing.T) {
	f := newFixture(t, 0, "key-a")
	tick := make(chan time.Time)
	f.poller.Start(func() <-chan time.Time { return tick })
	f.waitReads(t, "key-a", 1) // the first round runs at once
	f.clock.Advance(MinGap)
	f.src.set("key-a", 0)
	tick <- time.Time{}
	select {
	case c := <-f.changed:
		if !c.aside {
			t.Fatalf("%+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the round after a tick did not set the empty key aside")
	}
	// Stop cancels a read in progress and waits for it; the cut read is
	// forgotten, so the next poller over the key may read at once.
	f.clock.Advance(MinGap)
	f.src.block = make(chan struct{})
	tick <- time.Time{}
	f.waitReads(t, "key-a", 3)
	f.poller.Stop()
	if r := f.poller.o.Keys[0].Reading(); r.Err != "" || r.Points != 0 {
		t.Fatalf("the cancelled read was recorded: %+v", r)
	}
	if f.poller.KeyWorks(context.Background(), f.toks[0]) || f.src.count("key-a") != 3 {
		t.Fatal("a stopped poller read again, or found points")
	}
	f.src.block = nil
	f.src.set("key-a", 50)
	next := New(Options{Keys: f.poller.o.Keys, Balance: f.src.Balance, Pool: f.pool, Hold: time.Hour, Now: f.clock.Now})
	if !next.KeyWorks(context.Background(), f.toks[0]) || f.src.count("key-a") != 4 {
		t.Fatalf("the next poller did not read: %d reads", f.src.count("key-a"))
	}
	if s := f.state(0); s.State != tokenpool.StateReady {
		t.Fatalf("topped-up key not back: %+v", s)
	}
}

// A caller that goes away does not cut the read short: the others get it.
func TestPointsCallerGoneReadGoesOn(t *testing.T) {
	f := newFixture(t, 0, "key-a")
	f.src.block = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- f.poller.KeyWorks(ctx, f.toks[0]) }()
	f.waitReads(t, "key-a", 1)
	cancel()
	if <-done {
		t.Fatal("KeyWorks true before any reading")
	}
	close(f.src.block)
	if !f.poller.KeyWorks(context.Background(), f.toks[0]) || f.src.count("key-a") != 1 {
		t.Fatalf("the read was not finished for the next caller: %d reads", f.src.count("key-a"))
	}
}

// waitReads polls the fake's count of reads, with a deadline.
func (f *fixture) waitReads(t *testing.T, secret string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.src.count(secret) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d reads of %s, want %d", f.src.count(secret), secret, n)
		}
		time.Sleep(time.Millisecond)
	}
}
