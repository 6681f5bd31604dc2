package team

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// changes records a store's OnChange calls.
type changes struct {
	mu       sync.Mutex
	up, down int
}

func (c *changes) note(up bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if up {
		c.up++
	} else if err != nil {
		c.down++
	}
}

func (c *changes) counts() (up, down int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up, c.down
}

func newRedisStore(t *testing.T, url string, clk *clock, ch *changes) *Redis {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1 // as the host's connection: a call fails at once
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	o := RedisOptions{Client: c, Timeout: time.Second, Retry: time.Second, Now: clk.now}
	if ch != nil {
		o.OnChange = ch.note
	}
	return NewRedis(o)
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	clk := &clock{at("2026-12-02T12:00:00Z")}
	r := newRedisStore(t, srv.URL(), clk, nil)
	today := DayOf(clk.t)
	for _, a := range []struct {
		day         Day
		client, mdl string
		c           Counts
	}{
		{today, "alice", "gpt-4o", Counts{1, 0, 10, 20}},
		{today, "alice", "gpt-4o", Counts{1, 1, 5, 0}},
		{today, "alice", "ns:model", Counts{Requests: 1, Completion: 3}},
		{today - 3, "alice", "gpt-4o", Counts{Requests: 1, Prompt: 7}},
		{today, "bob", "gpt-4o", Counts{Requests: 9}},
	} {
		if err := r.Add(a.day, a.client, a.mdl, a.c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.Range("alice", today-5, today)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[today]["gpt-4o"] != (Counts{2, 1, 15, 20}) || got[today]["ns:model"] != (Counts{Requests: 1, Completion: 3}) ||
		got[today-3]["gpt-4o"] != (Counts{Requests: 1, Prompt: 7}) {
		t.Fatalf("alice: %+v", got)
	}

	// Each day's hash expires KeepDays+1 days after the day began.
	raw := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", srv.Port)})
	defer raw.Close()
	exp, err := raw.ExpireTime(context.Background(), "poe_openai:usage:alice:2026-11-29").Result()
	if err != nil || exp != time.Duration((today-3+KeepDays+1).Time().Unix())*time.Second {
		t.Errorf("expire time %v %v", exp, err)
	}

	// Budgets read the shared total: another instance's store sees it.
	// This week began on Monday the 30th: the 29th's request is last week's.
	other := newRedisStore(t, srv.URL(), clk, nil)
	a := &Accounts{Store: other, Now: clk.now}
	ref, err := a.Check(&Client{Name: "alice", Budgets: []Budget{{50, Tokens, PerDay}, {3, Requests, PerWeek}}})
	if err != nil || ref == nil || ref.Budget.Unit != Requests || ref.Used != 3 {
		t.Fatalf("refusal %+v %v", ref, err)
	}
}

// An outage is reported once and lets budget checks through; the counts
// made meanwhile reach Redis with the first write after it answers again,
// and while it is down only one call per retry interval waits for it.
func TestRedisStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	clk := &clock{at("2026-12-02T12:00:00Z")}
	ch := new(changes)
	r := newRedisStore(t, srv.URL(), clk, ch)
	a := &Accounts{Store: r, Now: clk.now}
	alice := &Client{Name: "alice", Budgets: []Budget{{2, Requests, PerDay}}}
	if err := a.Record("alice", "m", Counts{Requests: 1}); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	for range 5 {
		if err := a.Record("alice", "m", Counts{Requests: 1, Prompt: 4}); err != nil {
			t.Fatalf("Record during the outage: %v", err)
		}
		ref, err := a.Check(alice)
		if ref != nil || err == nil {
			t.Fatalf("Check during the outage: %+v %v", ref, err)
		}
	}
	if up, down := ch.counts(); up != 0 || down != 1 {
		t.Fatalf("%d up, %d down reports; want 0, 1", up, down)
	}
	// Until the retry is due, calls do not go to Redis at all.
	if _, err := r.Range("alice", 0, 0); !errors.Is(err, ErrDown) {
		t.Fatalf("Range before the retry: %v", err)
	}

	srv.Start()
	clk.t = clk.t.Add(time.Second)
	if err := a.Record("alice", "m", Counts{Requests: 1}); err != nil {
		t.Fatal(err)
	}
	if up, down := ch.counts(); up != 1 || down != 1 {
		t.Fatalf("%d up, %d down reports after the return; want 1, 1", up, down)
	}
	// The restarted server starts empty (no persistence): it holds the
	// outage's five requests and the one after.
	today := DayOf(clk.t)
	got, err := r.Range("alice", today, today)
	if err != nil || got[today]["m"] != (Counts{Requests: 6, Prompt: 20}) {
		t.Fatalf("after the outage: %+v %v", got, err)
	}
	if ref, _ := a.Check(alice); ref == nil {
		t.Error("not refused after the outage")
	}
}

// TestRedisStoreGroupCommit: requests that finish while a write is in
// flight share the next pipeline, and each Add returns only once its
// counts are in Redis. Redis is paused so that the first write is held
// while the rest arrive: two pipelines, however many requests.
func TestRedisStoreGroupCommit(t *testing.T) {
	srv := redistest.Start(t)
	clk := &clock{at("2026-12-02T12:00:00Z")}
	r := newRedisStore(t, srv.URL(), clk, nil)
	admin := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "redis://"), "/0")})
	defer admin.Close()
	ctx := context.Background()
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Writes wait 400 ms (under the store's 1 s deadline); the first Add's
	// pipeline is held there while the others queue behind it.
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 400, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := r.Add(DayOf(clk.t), "alice", "m", Counts{Requests: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := r.Range("alice", DayOf(clk.t), DayOf(clk.t))
	if err != nil || got[DayOf(clk.t)]["m"].Requests != n {
		t.Fatalf("counted %+v (%v), want %d requests", got, err, n)
	}
	stats, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, line := range strings.Split(stats, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_hincrby:calls="); ok {
			fmt.Sscanf(rest, "%d", &calls)
		}
	}
	if calls < 1 || calls > 3 {
		t.Fatalf("%d HINCRBY calls for %d requests, want 2 (one pipeline per batch)", calls, n)
	}
}
