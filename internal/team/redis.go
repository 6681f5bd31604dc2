package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	DefaultRedisTimeout = 50 * time.Millisecond
	DefaultRedisRetry   = time.Second
	maxPending          = 10000 // day, client and model triples held during an outage
)

// redisPrefix starts every key, as the key pool's do, so the module's data
// is easy to find in a Redis shared with other software.
const redisPrefix = "poe_openai:usage:"

// redisKeep is how long a day's counts live in Redis after the day ends:
// KeepDays and one more, so a budget never reads a day that just expired.
const redisKeep = KeepDays + 1

// ErrDown is returned while Redis is known to be down and the next retry
// is not due: callers do not wait for a timeout per request.
var ErrDown = errors.New("usage store (redis) unreachable")

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Client is the connection, the host's (the key pool's): one pool of
	// connections per Redis, configured once. The host closes it.
	Client  *redis.Client
	Timeout time.Duration // deadline of each call; DefaultRedisTimeout when 0
	// Retry is how often, while Redis is down, one call tries it again
	// (the others fail at once); DefaultRedisRetry when 0.
	Retry time.Duration
	Now   func() time.Time // nil = time.Now; tests step a fake clock
	// OnChange is told when Redis stops answering (err set) and when it
	// answers again: once per outage, never per request.
	OnChange func(up bool, err error)
}

// Redis is a Store in Redis, so that every instance naming the same Redis
// counts into one total: one hash per client and UTC day
// (poe_openai:usage:<client>:<day>), fields <kind>:<model> incremented
// with HINCRBY, each hash expiring redisKeep days after its day.
//
// Counts that cannot be written during an outage are kept here and
// written with the first Add that reaches Redis again, so a short outage
// loses nothing unless the process stops during it. Budget checks let
// requests through meanwhile (Range fails).
type Redis struct {
	c        *redis.Client
	timeout  time.Duration
	retry    time.Duration
	now      func() time.Time
	onChange func(bool, error)

	mu      sync.Mutex
	down    bool
	lastTry time.Time
	pending map[pendKey]Counts
	// Group commit: next is closed once the counts pending now are
	// written (or failed); writing says a writer goroutine is running.
	next    chan struct{}
	writing bool
}

type pendKey struct {
	day           Day
	client, model string
}

// NewRedis returns a store on o.Client.
func NewRedis(o RedisOptions) *Redis {
	r := &Redis{c: o.Client, timeout: o.Timeout, retry: o.Retry, now: o.Now, onChange: o.OnChange, pending: map[pendKey]Counts{}}
	if r.timeout <= 0 {
		r.timeout = DefaultRedisTimeout
	}
	if r.retry <= 0 {
		r.retry = DefaultRedisRetry
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.onChange == nil {
		r.onChange = func(bool, error) {}
	}
	return r
}

func dayKey(client string, d Day) string { return redisPrefix + client + ":" + d.String() }

// Kinds of fields, before the model name.
const (
	fieldRequests   = "r:"
	fieldErrors     = "e:"
	fieldPrompt     = "p:"
	fieldCompletion = "c:"
)

// Add implements Store. It returns once its counts were written with the
// others pending (group commit: under load one pipeline carries many
// requests' counts, at most one pipeline in flight, so Redis costs a round
// trip per batch, not per request; a caller waits at most two call
// deadlines). During an outage the counts wait here for the next write
// that reaches Redis; the error is then nil, since nothing is lost yet.
func (r *Redis) Add(day Day, client, model string, c Counts) error {
	r.mu.Lock()
	k := pendKey{day, client, model}
	if _, ok := r.pending[k]; ok || len(r.pending) < maxPending {
		r.pending[k] = r.pending[k].Add(c)
	}
	if !r.tryLocked() {
		r.mu.Unlock()
		return nil
	}
	if r.next == nil {
		r.next = make(chan struct{})
	}
	done := r.next
	if !r.writing {
		r.writing = true
		go r.writeLoop()
	}
	r.mu.Unlock()
	<-done
	return nil
}

// writeLoop writes what is pending, batch after batch, until a batch
// finds nobody waiting.
func (r *Redis) writeLoop() {
	for {
		r.mu.Lock()
		if r.next == nil {
			r.writing = false
			r.mu.Unlock()
			return
		}
		batch, done := r.pending, r.next // any counts left by an outage go too
		r.pending, r.next = map[pendKey]Counts{}, nil
		r.mu.Unlock()
		if err := r.write(batch); err != nil {
			// Not knowing which increments landed, keep them all: counting
			// a few twice after an outage is better than losing them.
			r.mu.Lock()
			for k, c := range batch {
				if _, ok := r.pending[k]; ok || len(r.pending) < maxPending {
					r.pending[k] = r.pending[k].Add(c)
				}
			}
			r.mu.Unlock()
		}
		close(done)
	}
}

// write sends one batch in one pipeline.
func (r *Redis) write(batch map[pendKey]Counts) error {
	return r.call(func(ctx context.Context) error {
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for k, c := range batch {
				key := dayKey(k.client, k.day)
				for _, f := range []struct {
					kind string
					n    int64
				}{{fieldRequests, c.Requests}, {fieldErrors, c.Errors}, {fieldPrompt, c.Prompt}, {fieldCompletion, c.Completion}} {
					if f.n != 0 {
						p.HIncrBy(ctx, key, f.kind+k.model, f.n)
					}
				}
				p.ExpireAt(ctx, key, (k.day + redisKeep).Time())
			}
			return nil
		})
		return err
	})
}

// Range implements Store: one round trip for all the days.
func (r *Redis) Range(client string, from, to Day) (map[Day]map[string]Counts, error) {
	r.mu.Lock()
	ok := r.tryLocked()
	r.mu.Unlock()
	if !ok {
		return nil, ErrDown
	}
	out := map[Day]map[string]Counts{}
	err := r.call(func(ctx context.Context) error {
		cmds := make([]*redis.MapStringStringCmd, 0, int(to-from)+1)
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for d := from; d <= to; d++ {
				cmds = append(cmds, p.HGetAll(ctx, dayKey(client, d)))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, cmd := range cmds {
			if mo := parseDay(cmd.Val()); len(mo) > 0 {
				out[from+Day(i)] = mo
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseDay reads one day's hash; fields it does not know are skipped.
func parseDay(h map[string]string) map[string]Counts {
	mo := map[string]Counts{}
	for f, v := range h {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || len(f) < 2 {
			continue
		}
		kind, model := f[:2], f[2:]
		c := mo[model]
		switch kind {
		case fieldRequests:
			c.Requests += n
		case fieldErrors:
			c.Errors += n
		case fieldPrompt:
			c.Prompt += n
		case fieldCompletion:
			c.Completion += n
		default:
			continue
		}
		mo[model] = c
	}
	return mo
}

// tryLocked says whether a call may go to Redis now: always while it is
// up; while it is down, once per retry interval. Caller holds mu.
func (r *Redis) tryLocked() bool {
	if !r.down {
		return true
	}
	now := r.now()
	if now.Sub(r.lastTry) < r.retry {
		return false
	}
	r.lastTry = now
	return true
}

// call runs f with the deadline and follows Redis's health: the first
// failure of an outage and the first success after it are reported.
func (r *Redis) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	err := f(ctx)
	cancel()
	r.mu.Lock()
	changed := r.down != (err != nil)
	r.down = err != nil
	if err != nil {
		r.lastTry = r.now()
	}
	r.mu.Unlock()
	if changed {
		if err != nil {
			r.onChange(false, fmt.Errorf("%w: %w", ErrDown, err))
		} else {
			r.onChange(true, nil)
		}
	}
	return err
}
