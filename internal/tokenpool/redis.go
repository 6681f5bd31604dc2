package tokenpool

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of RedisOptions.
const (
	DefaultRedisTimeout = 50 * time.Millisecond
	DefaultLeaseTTL     = 30 * time.Second
	DefaultProbeEvery   = time.Second
)

// keyPrefix starts every key and the wake-up channel, so the module's
// data is easy to find in a Redis shared with other software.
const keyPrefix = "poe_openai:"

const wakeChannel = keyPrefix + "free"

// RedisOptions configure the connection to the shared state.
type RedisOptions struct {
	URL        string        // redis://[user:pass@]host:port/db or rediss://
	Timeout    time.Duration // deadline of each call; DefaultRedisTimeout when 0
	LeaseTTL   time.Duration // how long a lease lives unless renewed; DefaultLeaseTTL when 0
	ProbeEvery time.Duration // interval of the health probe while down; DefaultProbeEvery when 0
	// Clock drives timers (nil = SystemClock). With FixedTime the scripts
	// also read it instead of Redis's TIME: for tests that must step time.
	Clock     Clock
	FixedTime bool
	// OnChange is told when the shared state becomes unreachable (err set)
	// and when it answers again: once per outage, never per request.
	OnChange func(up bool, err error)
}

// Redis is the connection to the shared state and its health. Every call
// has a short deadline; a failure marks it down (callers then use their
// local state) until a background probe gets an answer. The host keeps one
// per URL across config reloads.
type Redis struct {
	c        *redis.Client
	ps       *redis.PubSub
	timeout  time.Duration
	leaseTTL time.Duration
	probe    time.Duration
	clock    Clock
	fixed    bool
	onChange func(bool, error)
	id       string // this process, in lease ids
	seq      atomic.Uint64
	up       atomic.Bool

	mu        sync.Mutex
	listeners map[*Shared]struct{}
	live      map[*Lease]struct{} // tracked leases, renewed until released
	renew     Timer
	probing   bool
	closed    bool
	done      chan struct{}
}

// NewRedis connects; an unreachable server is not an error (the callers
// fall back to local state until it answers), a malformed URL is. Errors
// never quote the URL, which may hold a password.
func NewRedis(o RedisOptions) (*Redis, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, errors.New("redis: the URL must read redis://[user:pass@]host:port/db or rediss://")
	}
	r := &Redis{
		timeout:   o.Timeout,
		leaseTTL:  o.LeaseTTL,
		probe:     o.ProbeEvery,
		clock:     o.Clock,
		fixed:     o.FixedTime,
		onChange:  o.OnChange,
		listeners: map[*Shared]struct{}{},
		live:      map[*Lease]struct{}{},
		done:      make(chan struct{}),
	}
	if r.timeout <= 0 {
		r.timeout = DefaultRedisTimeout
	}
	if r.leaseTTL <= 0 {
		r.leaseTTL = DefaultLeaseTTL
	}
	if r.probe <= 0 {
		r.probe = DefaultProbeEvery
	}
	if r.clock == nil {
		r.clock = SystemClock()
	}
	if r.onChange == nil {
		r.onChange = func(bool, error) {}
	}
	var b [6]byte
	rand.Read(b[:])
	r.id = hex.EncodeToString(b[:])

	// Short deadlines everywhere and no retries: a slow Redis must cost a
	// request at most one timeout before it falls back.
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = r.timeout, r.timeout, r.timeout
	opt.PoolTimeout = r.timeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DisableIdentity = true
	opt.Protocol = 2 // RESP2: no push notifications to negotiate (Redis >= 6.2 and Valkey alike)
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	r.c = redis.NewClient(opt)

	// Releases anywhere wake this process's waiters.
	r.ps = r.c.Subscribe(context.Background(), wakeChannel)
	go r.listen(r.ps.Channel())

	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	err = r.c.Ping(ctx).Err()
	cancel()
	if err != nil {
		r.fail(err)
	} else {
		r.up.Store(true)
	}
	return r, nil
}

// Up reports whether the shared state is in use (false while falling back).
func (r *Redis) Up() bool { return r.up.Load() }

// Destruct closes the connection; the host keeps a Redis in a
// caddy.UsagePool. Leases still held simply expire in Redis.
func (r *Redis) Destruct() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	if r.renew != nil {
		r.renew.Stop()
	}
	r.mu.Unlock()
	_ = r.ps.Close() // closing the connection below ends it anyway
	return r.c.Close()
}

// fail marks the shared state down; only the first failure of an outage
// is reported, and it starts the probe.
func (r *Redis) fail(err error) {
	r.up.Store(false)
	r.mu.Lock()
	start := !r.probing && !r.closed
	r.probing = r.probing || start
	r.mu.Unlock()
	if start {
		r.onChange(false, fmt.Errorf("shared state unreachable, using local limits: %w", err))
		go r.probeLoop()
	}
}

// probeLoop pings until Redis answers, then switches back to shared state
// and wakes every waiter, since releases published meanwhile were lost.
func (r *Redis) probeLoop() {
	t := time.NewTicker(r.probe)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		err := r.c.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.probing = false
		r.mu.Unlock()
		r.up.Store(true)
		r.onChange(true, nil)
		r.wakeAll("")
		return
	}
}

// run calls a script with the deadline; any error marks Redis down. The
// request's own context is not used: a client hanging up must not look
// like an outage.
func (r *Redis) run(s *redis.Script, keys []string, args ...any) (any, error) {
	if !r.Up() {
		return nil, errFallback
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	v, err := s.Run(ctx, r.c, keys, args...).Result()
	if err != nil {
		r.fail(err)
		return nil, err
	}
	return v, nil
}

// nowArg is ARGV[1] of every script: "" lets Redis read its own TIME.
func (r *Redis) nowArg() string {
	if !r.fixed {
		return ""
	}
	return strconv.FormatInt(r.clock.Now().UnixMicro(), 10)
}

// leaseID is unique across processes: this process's random id and a counter.
func (r *Redis) leaseID() string {
	return r.id + ":" + strconv.FormatUint(r.seq.Add(1), 36)
}

func (r *Redis) listen(ch <-chan *redis.Message) {
	for m := range ch {
		r.wakeAll(m.Payload)
	}
}

// wakeAll kicks the dispatchers of the pools that hold the token hashed
// as hash ("" = all).
func (r *Redis) wakeAll(hash string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.listeners {
		if hash == "" || s.byHash[hash] {
			s.wake()
		}
	}
}

func (r *Redis) addListener(s *Shared) {
	r.mu.Lock()
	r.listeners[s] = struct{}{}
	r.mu.Unlock()
}

func (r *Redis) removeListener(s *Shared) {
	r.mu.Lock()
	delete(r.listeners, s)
	r.mu.Unlock()
}

// hashKey names a secret in Redis: never the secret, only its SHA-256.
func hashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:16])
}

func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }
