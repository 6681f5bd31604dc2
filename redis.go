package poeopenai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/frontend/responses"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

// sharedUp is 1 while the shared state answers, 0 while this instance
// falls back to local limits. Like the other collectors it is created once
// and registered with every config's registry.
var sharedUp = prometheus.NewGauge(prometheus.GaugeOpts{
	Namespace: "caddy", Subsystem: "poe_openai", Name: "shared_state_up",
	Help: "1 while the shared state (redis) answers, 0 while this instance uses local limits.",
})

// redisConn is the connection kept across reloads in tokenStates, with
// the logger of the newest config that uses it, so an outage is logged
// once, by whoever is current.
type redisConn struct {
	r   *tokenpool.Redis
	log atomic.Pointer[zap.Logger]
}

func (c *redisConn) Destruct() error { return c.r.Destruct() }

func (c *redisConn) changed(up bool, err error) {
	log := c.log.Load()
	if up {
		sharedUp.Set(1)
		if log != nil {
			log.Info("shared state (redis) answers again: limits are cluster-wide again")
		}
		return
	}
	sharedUp.Set(0)
	if log != nil {
		log.Warn("shared state (redis) unreachable: this instance uses its local limits until it answers", zap.Error(err))
	}
}

var quietRedis sync.Once

// newKeys builds the key pool: in memory, or in Redis with the memory pool
// as fallback when `redis` is set. The Redis URL is resolved here and
// never written back into the config.
func (h *Handler) newKeys(repl *caddy.Replacer, tokens []*tokenpool.Token, limits tokenpool.Limits) (tokenpool.Keys, error) {
	if h.Redis == "" {
		return tokenpool.New(tokens, limits, tokenpool.SystemClock()), nil
	}
	raw := repl.ReplaceAll(h.Redis, "")
	if raw == "" {
		return nil, fmt.Errorf("redis is empty after resolving placeholders: set %s", strings.Join(envNames(h.Redis), " or "))
	}
	if err := checkRedisURL(raw); err != nil {
		return nil, fmt.Errorf("redis: %v", err)
	}
	timeout := durationOr(h.RedisTimeout, tokenpool.DefaultRedisTimeout)
	// go-redis would log every failed reconnect; the module logs one line
	// per outage instead.
	quietRedis.Do(func() { redis.SetLogger(silentLogger{}) })
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", raw, timeout)))
	key := "poe_openai/redis/" + hex.EncodeToString(sum[:])
	v, _, err := tokenStates.LoadOrNew(key, func() (caddy.Destructor, error) {
		c := new(redisConn)
		c.log.Store(h.logger)
		r, err := tokenpool.NewRedis(tokenpool.RedisOptions{URL: raw, Timeout: timeout, OnChange: c.changed})
		if err != nil {
			return nil, err
		}
		c.r = r
		if r.Up() {
			sharedUp.Set(1)
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	h.held = append(h.held, key)
	c := v.(*redisConn)
	c.log.Store(h.logger)
	h.redis = c.r
	h.logger.Info("key pool state shared through redis",
		zap.String("redis", redactURL(raw)), zap.Duration("redis_timeout", timeout), zap.Bool("up", c.r.Up()))
	return tokenpool.NewShared(c.r, tokens, limits), nil
}

// responsesRemote keeps stored responses in Redis when `redis` is set, so
// that previous_response_id works whichever instance answered first.
func (h *Handler) responsesRemote() responses.Remote {
	if h.redis == nil {
		return nil // a nil *SharedCache would not be a nil Remote
	}
	return tokenpool.NewSharedCache(h.redis, "responses")
}

// checkRedisURL accepts redis:// and rediss:// URLs. Errors never quote
// the URL: it may hold a password.
func checkRedisURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return errors.New("not a redis:// or rediss:// URL")
	}
	return nil
}

// redactURL is the URL without its password, fit for a log line.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

func envNames(v string) []string {
	found := envPlaceholder.FindAllStringSubmatch(v, -1)
	out := make([]string, 0, len(found))
	for _, m := range found {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		out = []string{"the redis URL"}
	}
	return out
}

// redisSubdirective reads `redis <url>` and `redis_timeout <duration>`. A
// URL holding a placeholder is checked at provision, once resolved.
func (h *Handler) redisSubdirective(d *caddyfile.Dispenser, name string) error {
	if name == "redis_timeout" {
		v, err := duration(d)
		if err != nil {
			return err
		}
		if v == 0 {
			return d.Errf("redis_timeout must be more than 0")
		}
		h.RedisTimeout = v
		return nil
	}
	v, err := oneArg(d)
	if err != nil {
		return err
	}
	if !strings.Contains(v, "{") {
		if err := checkRedisURL(v); err != nil {
			return d.Errf("redis: %v", err)
		}
	}
	h.Redis = v
	return nil
}

type silentLogger struct{}

func (silentLogger) Printf(context.Context, string, ...any) {}

// validateRedis is Validate's part for the redis fields.
func (h *Handler) validateRedis() error {
	if h.RedisTimeout < 0 || h.RedisTimeout > caddy.Duration(10*time.Second) {
		return errors.New("redis_timeout must be between 0 and 10s")
	}
	if h.Redis != "" && !strings.Contains(h.Redis, "{") {
		if err := checkRedisURL(h.Redis); err != nil {
			return fmt.Errorf("redis: %v", err)
		}
	}
	return nil
}
