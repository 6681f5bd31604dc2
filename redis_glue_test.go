package poeopenai

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

func TestCaddyfileRedis(t *testing.T) {
	h, err := parse(t, `poe_openai {
		redis {env.POE_REDIS_URL}
		redis_timeout 20ms
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if h.Redis != "{env.POE_REDIS_URL}" || time.Duration(h.RedisTimeout) != 20*time.Millisecond {
		t.Fatalf("%q %v", h.Redis, h.RedisTimeout)
	}
	for _, bad := range []string{
		"redis http://x:6379",
		"redis",
		"redis redis://a:1 redis://b:2",
		"redis_timeout 0",
		"redis_timeout soon",
	} {
		if _, err := parse(t, "poe_openai {\n"+bad+"\n}"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parse(t, "poe_openai {\nredis rediss://user:pw@redis.example:6380/2\n}"); err != nil {
		t.Error(err)
	}
	if err := (&Handler{Redis: "ftp://x"}).Validate(); err == nil {
		t.Error("JSON redis ftp:// accepted")
	}
}

// With Redis unreachable at start, Caddy still starts: the pool falls back
// to memory, the metric says so, and requests get keys.
func TestProvisionRedisUnreachable(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now

	t.Setenv("POE_REDIS_URL", "")
	h := &Handler{PoeKeys: []string{"k1"}, Redis: "{env.POE_REDIS_URL}"}
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), "POE_REDIS_URL") {
		t.Fatalf("empty redis env: %v", err)
	}

	t.Setenv("POE_REDIS_URL", fmt.Sprintf("redis://:secret-pw@127.0.0.1:%d/0", port))
	h = &Handler{PoeKeys: []string{"k1"}, Redis: "{env.POE_REDIS_URL}", ClientRateLimit: 1}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	if _, ok := h.pool.(*tokenpool.Shared); !ok {
		t.Fatalf("pool %T", h.pool)
	}
	if h.Redis != "{env.POE_REDIS_URL}" {
		t.Fatal("the resolved URL was written back into the config")
	}
	if v := testutil.ToFloat64(sharedUp); v != 0 {
		t.Fatalf("shared_state_up = %v", v)
	}
	lease, err := h.pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lease.Release()
	if ok, _ := h.limiter.Allow("c"); !ok {
		t.Fatal("first client request refused")
	}
	if ok, _ := h.limiter.Allow("c"); ok {
		t.Fatal("local client limit not applied during the outage")
	}
}
