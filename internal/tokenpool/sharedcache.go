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
	b, ok, _ := c.Lookup(key)
	return b, ok
}

// Lookup is Get that tells a failure (Redis down or erring) from a miss,
// for callers that keep a local copy when Redis cannot.
func (c *SharedCache) Lookup(key string) ([]byte, bool, error) {
	if !c.r.Up() {
		return nil, false, errFallback
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.timeout)
	defer cancel()
	b, err := c.r.c.Get(ctx, c.ns+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		c.r.fail(err)
		return nil, false, err
	}
	return b, true, nil
}

// Set stores v under key for ttl.
func (c *SharedCache) Set(key string, v []byte, ttl time.Duration) { _ = c.Put(key, v, ttl) }

// Put is Set that reports a failure.
func (c *SharedCache) Put(key string, v []byte, ttl time.Duration) error {
	if !c.r.Up() {
		return errFallback
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.timeout)
	defer cancel()
	if err := c.r.c.Set(ctx, c.ns+key, v, ttl).Err(); err != nil {
		c.r.fail(err)
		return err
	}
	return nil
}

// Delete removes key; found is false when it was not there.
func (c *SharedCache) Delete(key string) (found bool, err error) {
	if !c.r.Up() {
		return false, errFallback
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.timeout)
	defer cancel()
	n, err := c.r.c.Del(ctx, c.ns+key).Result()
	if err != nil {
		c.r.fail(err)
		return false, err
	}
	return n > 0, nil
}
