package tokenpool

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// SharedCache is a key -> bytes store with expiry in the shared Redis, for
// state that should be the same on every instance but need not be exact
// (the upload cache: content hash -> Poe attachment). Any error is a miss
// or a dropped write, and marks Redis down like the pool's calls do.
type SharedCache struct {
	r  *Redis
	ns string
}

// NewSharedCache returns a cache whose keys live under namespace. Callers
// pass keys that are already hashes: nothing secret goes to Redis.
func NewSharedCache(r *Redis, namespace string) *SharedCache {
	return &SharedCache{r: r, ns: keyPrefix + namespace + ":"}
}

// Get returns the value stored under key, if any.
func (c *SharedCache) Get(key string) ([]byte, bool) {
	if !c.r.Up() {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.timeout)
	defer cancel()
	b, err := c.r.c.Get(ctx, c.ns+key).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.r.fail(err)
		}
		return nil, false
	}
	return b, true
}

// Set stores v under key for ttl.
func (c *SharedCache) Set(key string, v []byte, ttl time.Duration) {
	if !c.r.Up() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.timeout)
	defer cancel()
	if err := c.r.c.Set(ctx, c.ns+key, v, ttl).Err(); err != nil {
		c.r.fail(err)
	}
}
