package tokenpool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// instance is one process's view: its own Redis connection and its own
// Token objects for the same secrets, as two Caddy processes would have.
type instance struct {
	r *Redis
	s *Shared
}

func newInstance(t *testing.T, srv *redistest.Server, c Clock, n int, lim Limits, o RedisOptions) *instance {
	t.Helper()
	o.URL = srv.URL()
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second // a busy machine must not look like an outage
	}
	o.Clock = c
	o.FixedTime = c != nil
	r, err := NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Up() {
		t.Fatal("redis not up")
	}
	s := NewShared(r, newTokens(n), lim)
	t.Cleanup(func() {
		s.Close()
		r.Destruct()
	})
	return &instance{r, s}
}

func mustTake(t *testing.T, in *instance) *Lease {
	t.Helper()
	l, err := in.s.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

func mustRefuse(t *testing.T, in *instance, retry time.Duration) {
	t.Helper()
	l, err := in.s.Acquire(context.Background())
	checkExhausted(t, l, err, retry)
}

// idle returns a channel told each time in's dispatcher finds nothing free.
func idle(in *instance) <-chan struct{} {
	ch := make(chan struct{}, 64)
	in.s.mu.Lock()
	in.s.hookIdle = func() { ch <- struct{}{} }
	in.s.mu.Unlock()
	return ch
}

func goTake(in *instance) <-chan result {
	ch := make(chan result, 1)
	go func() {
		l, err := in.s.Acquire(context.Background())
		ch <- result{0, l, err}
	}()
	return ch
}

// Exactly rate_limit starts per 60 s across instances, to the microsecond.
func TestSharedWindowExact(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	lim := Limits{RateLimit: 3}
	a, b := newInstance(t, srv, c, 1, lim, RedisOptions{}), newInstance(t, srv, c, 1, lim, RedisOptions{})
	mustTake(t, a).Release()
	c.Advance(10 * time.Second)
	mustTake(t, b).Release()
	mustTake(t, a).Release()
	mustRefuse(t, b, 50*time.Second) // the first start leaves at t0+60s
	mustRefuse(t, a, 50*time.Second)
	c.Set(t0.Add(Window - time.Microsecond))
	mustRefuse(t, b, time.Second)
	c.Set(t0.Add(Window))
	mustTake(t, b).Release()
	mustRefuse(t, a, 10*time.Second)
	if st := a.s.Status()[0]; st.StartsInWindow != 3 || st.Starts != 4 || st.State != StateBusy {
		t.Fatalf("status %+v", st)
	}
}

// Starts on a key are at least cool_down apart cluster-wide, counted from
// Poe's acknowledgement; an unacknowledged start blocks the key.
func TestSharedCoolDownExact(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	lim := Limits{CoolDown: time.Second}
	a, b := newInstance(t, srv, c, 1, lim, RedisOptions{}), newInstance(t, srv, c, 1, lim, RedisOptions{})
	l := mustTake(t, a)
	c.Advance(300 * time.Millisecond)
	mustRefuse(t, b, time.Second) // not acknowledged yet: blocked by the lease
	l.Reached()
	at := t0.Add(300 * time.Millisecond)
	c.Set(at.Add(time.Second - time.Microsecond))
	mustRefuse(t, b, time.Second)
	c.Set(at.Add(time.Second))
	l2 := mustTake(t, b)
	l.Release()
	// Released without reaching Poe: the start time stands.
	l2.Release()
	c.Set(at.Add(2*time.Second - time.Microsecond))
	mustRefuse(t, a, time.Second)
	c.Set(at.Add(2 * time.Second))
	mustTake(t, a).Release()
}

// A lease held by a process that died expires after the lease TTL; a
// live one is renewed and keeps its slot.
func TestSharedLeaseExpiry(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	lim := Limits{MaxConcurrent: 1}
	o := RedisOptions{LeaseTTL: 3 * time.Second}
	a, b := newInstance(t, srv, c, 1, lim, o), newInstance(t, srv, c, 1, lim, o)
	la := mustTake(t, a)
	c.Advance(10 * time.Second) // a renews every second
	mustRefuse(t, b, time.Second)
	if st := b.s.Status()[0]; st.InFlight != 1 || st.State != StateBusy {
		t.Fatalf("status %+v", st)
	}
	la.Release()
	lb := mustTake(t, b)
	b.s.Close()
	b.r.Destruct() // b dies holding lb: nobody renews it any more
	died := c.Now()
	c.Set(died.Add(3*time.Second - time.Microsecond))
	mustRefuse(t, a, time.Second)
	c.Set(died.Add(3 * time.Second))
	mustTake(t, a).Release()
	_ = lb
}

// Quarantine and cooling set by one instance are seen by the others with
// reason and until, and end exactly on time.
func TestSharedQuarantineExpiry(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	lim := Limits{Quarantine: time.Hour}
	a, b := newInstance(t, srv, c, 2, lim, RedisOptions{}), newInstance(t, srv, c, 2, lim, RedisOptions{})
	l := mustTake(t, a) // key-0
	l.Quarantine("invalid_key")
	l.Release()
	l = mustTake(t, b) // key-1: key-0 is set aside
	if l.Token().Secret() != "key-1" {
		t.Fatalf("got %s", l.Token().Secret())
	}
	l.Cool(t0.Add(30 * time.Second))
	l.Release()
	st := b.s.Status()
	if st[0].State != StateQuarantined || st[0].Reason != "invalid_key" || !st[0].Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("key-0: %+v", st[0])
	}
	if st[1].State != StateCooling || !st[1].Until.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("key-1: %+v", st[1])
	}
	mustRefuse(t, a, 30*time.Second)
	if !a.s.Healthy() {
		t.Fatal("a cooling key is not a broken pool")
	}
	c.Set(t0.Add(30 * time.Second))
	l = mustTake(t, a)
	l.Quarantine("insufficient_points")
	l.Release()
	mustRefuse(t, b, time.Hour-30*time.Second)
	if b.s.Healthy() {
		t.Fatal("every key quarantined: not healthy")
	}
	c.Set(t0.Add(time.Hour - time.Microsecond))
	mustRefuse(t, b, time.Second)
	c.Set(t0.Add(time.Hour))
	if l := mustTake(t, b); l.Token().Secret() != "key-0" {
		t.Fatalf("got %s", l.Token().Secret())
	}
}

// The least recently used key is chosen cluster-wide.
func TestSharedLRU(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	a, b := newInstance(t, srv, c, 3, Limits{}, RedisOptions{}), newInstance(t, srv, c, 3, Limits{}, RedisOptions{})
	var got []string
	for i := range 6 {
		in := a
		if i%2 == 1 {
			in = b
		}
		l := mustTake(t, in)
		got = append(got, l.Token().Secret())
		l.Release()
		c.Advance(time.Millisecond)
	}
	if s := strings.Join(got, ","); s != "key-0,key-1,key-2,key-0,key-1,key-2" {
		t.Fatalf("order %s", s)
	}
}

// A waiter is woken by a release on another instance (pub/sub), not by a
// timer: the fake clock does not move.
func TestSharedWaitWokenByRelease(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	lim := Limits{MaxConcurrent: 1, MaxWait: time.Minute}
	a, b := newInstance(t, srv, c, 1, lim, RedisOptions{}), newInstance(t, srv, c, 1, lim, RedisOptions{})
	la := mustTake(t, a)
	ready := idle(b)
	ch := goTake(b)
	recv(t, ready) // queued, and the dispatcher found nothing free
	la.Release()
	r := recv(t, ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.l.Release()
}

// A waiter for a full window is woken by the timer armed for its end.
func TestSharedWaitWokenByTimer(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	lim := Limits{RateLimit: 1, MaxWait: 2 * time.Minute}
	a, b := newInstance(t, srv, c, 1, lim, RedisOptions{}), newInstance(t, srv, c, 1, lim, RedisOptions{})
	mustTake(t, a).Release()
	ready := idle(b)
	ch := goTake(b)
	recv(t, ready)
	c.Advance(Window - time.Microsecond)
	select {
	case r := <-ch:
		t.Fatalf("served early: %+v", r)
	default:
	}
	c.Advance(time.Microsecond)
	r := recv(t, ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.l.Started().Equal(t0.Add(Window)) {
		t.Fatalf("started %v", r.l.Started())
	}
}

// 120 concurrent requests over three instances, 2 keys x 20: exactly 40
// served, the rest refused with a Retry-After within the window.
func TestSharedExactUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t)
	lim := Limits{RateLimit: 20}
	ins := []*instance{
		newInstance(t, srv, nil, 2, lim, RedisOptions{}),
		newInstance(t, srv, nil, 2, lim, RedisOptions{}),
		newInstance(t, srv, nil, 2, lim, RedisOptions{}),
	}
	type res struct {
		secret string
		err    error
	}
	out := make(chan res, 120)
	start := make(chan struct{})
	for i := range 120 {
		go func() {
			<-start
			l, err := ins[i%3].s.Acquire(context.Background())
			if err != nil {
				out <- res{"", err}
				return
			}
			out <- res{l.Token().Secret(), nil}
			l.Release()
		}()
	}
	close(start)
	per := map[string]int{}
	for range 120 {
		r := <-out
		var ex *ExhaustedError
		switch {
		case r.err == nil:
			per[r.secret]++
		case errors.As(r.err, &ex):
			if ex.RetryAfter <= 0 || ex.RetryAfter > Window {
				t.Errorf("RetryAfter %v", ex.RetryAfter)
			}
		default:
			t.Errorf("error %v", r.err)
		}
	}
	if per["key-0"] != 20 || per["key-1"] != 20 {
		t.Fatalf("served per key %v, want 20 each", per)
	}
	for _, in := range ins {
		if !in.r.Up() {
			t.Fatal("fell back during the test")
		}
	}
}

// Redis gone: requests are served from the local pool, one warning for
// the whole outage; Redis back: shared again without restart.
func TestSharedFallbackAndReturn(t *testing.T) {
	srv := redistest.Start(t)
	changes := make(chan bool, 16)
	var errs []error
	o := RedisOptions{ProbeEvery: 10 * time.Millisecond, OnChange: func(up bool, err error) {
		if err != nil {
			errs = append(errs, err)
		}
		changes <- up
	}}
	lim := Limits{RateLimit: 100}
	a := newInstance(t, srv, nil, 1, lim, o)
	mustTake(t, a).Release()
	srv.Kill()
	for range 20 {
		mustTake(t, a).Release() // local pool
	}
	if up := recv(t, changes); up {
		t.Fatal("first change should be down")
	}
	if a.s.Status()[0].StartsInWindow != 21 {
		t.Fatalf("local window %+v", a.s.Status()[0])
	}
	srv.Start()
	if up := recv(t, changes); !up {
		t.Fatal("second change should be up")
	}
	if len(errs) != 1 {
		t.Fatalf("%d warnings for one outage", len(errs))
	}
	mustTake(t, a).Release()
	if st := a.s.Status()[0]; st.StartsInWindow != 1 { // Redis's count: restarted empty
		t.Fatalf("after return %+v", st)
	}
	select {
	case up := <-changes:
		t.Fatalf("unexpected change %v", up)
	default:
	}
}

// client_rate_limit holds across instances.
func TestSharedLimiter(t *testing.T) {
	srv := redistest.Start(t)
	c := NewFakeClock(t0)
	a := newInstance(t, srv, c, 1, Limits{}, RedisOptions{})
	b := newInstance(t, srv, c, 1, Limits{}, RedisOptions{})
	la := NewSharedLimiter(a.r, NewKeyLimiter(2, c), 2)
	lb := NewSharedLimiter(b.r, NewKeyLimiter(2, c), 2)
	if ok, _ := la.Allow("client"); !ok {
		t.Fatal("1st refused")
	}
	c.Advance(time.Second)
	if ok, _ := lb.Allow("client"); !ok {
		t.Fatal("2nd refused")
	}
	if ok, wait := la.Allow("client"); ok || wait != 59*time.Second {
		t.Fatalf("3rd: %v %v", ok, wait)
	}
	if ok, _ := lb.Allow("other"); !ok {
		t.Fatal("another client refused")
	}
	c.Set(t0.Add(Window))
	if ok, _ := lb.Allow("client"); !ok {
		t.Fatal("refused after the window")
	}
}

// Redis holds hashes only: no key names or values carry a secret.
func TestSharedStoresNoSecret(t *testing.T) {
	srv := redistest.Start(t)
	lim := Limits{RateLimit: 5, CoolDown: time.Millisecond, MaxConcurrent: 3}
	a := newInstance(t, srv, nil, 2, lim, RedisOptions{})
	l := mustTake(t, a)
	l.Quarantine("invalid_key")
	NewSharedLimiter(a.r, NewKeyLimiter(5, nil), 5).Allow("client-secret")
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", srv.Port), Protocol: 2})
	defer rc.Close()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatal(keys, err)
	}
	for _, k := range keys {
		dump, _ := rc.Dump(ctx, k).Result()
		if !strings.HasPrefix(k, keyPrefix) || strings.Contains(k+dump, "key-") || strings.Contains(k+dump, "client-secret") {
			t.Fatalf("key %q leaks", k)
		}
	}
	l.Release()
}

// The shared cache is seen by every instance and expires.
func TestSharedCache(t *testing.T) {
	srv := redistest.Start(t)
	a := newInstance(t, srv, nil, 1, Limits{}, RedisOptions{})
	b := newInstance(t, srv, nil, 1, Limits{}, RedisOptions{})
	ca, cb := NewSharedCache(a.r, "upload"), NewSharedCache(b.r, "upload")
	if _, ok := cb.Get("h1"); ok {
		t.Fatal("hit on an empty cache")
	}
	ca.Set("h1", []byte(`{"url":"u"}`), time.Hour)
	if v, ok := cb.Get("h1"); !ok || string(v) != `{"url":"u"}` {
		t.Fatalf("got %q %v", v, ok)
	}
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", srv.Port), Protocol: 2})
	defer rc.Close()
	if ttl := rc.PTTL(context.Background(), keyPrefix+"upload:h1").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
	if !a.r.Up() || !b.r.Up() {
		t.Fatal("a miss must not look like an outage")
	}
}

// The URL is parsed here once for every Redis user (pool, usage, stored
// responses); its error never quotes it, since it may hold a password.
func TestRedisBadURLKeepsItsSecret(t *testing.T) {
	if _, err := NewRedis(RedisOptions{URL: "http://user:secret@x"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("%v", err)
	}
}
