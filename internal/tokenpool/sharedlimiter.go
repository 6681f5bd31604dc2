package tokenpool

import "time"

// SharedLimiter is KeyLimiter across processes: each client key's window
// lives in Redis (under a hash of the key), checked and counted by one
// script. While Redis is down the local limiter decides; every request
// allowed by Redis is counted there too, so a fallback starts from what
// this process let through.
type SharedLimiter struct {
	r         *Redis
	local     *KeyLimiter
	perMinute int
}

// NewSharedLimiter limits perMinute requests per key across every process
// on r; local is the fallback (and must have the same limit).
func NewSharedLimiter(r *Redis, local *KeyLimiter, perMinute int) *SharedLimiter {
	return &SharedLimiter{r: r, local: local, perMinute: perMinute}
}

// Allow is KeyLimiter.Allow, cluster-wide.
func (k *SharedLimiter) Allow(key string) (bool, time.Duration) {
	if k.perMinute <= 0 {
		return true, 0
	}
	v, err := k.r.run(limitScript, []string{keyPrefix + "c:" + hashKey(key)}, k.r.nowArg(), k.perMinute, k.r.leaseID())
	if err != nil {
		return k.local.Allow(key)
	}
	if wait, _ := v.(int64); wait > 0 {
		return false, time.Duration(wait) * time.Microsecond
	}
	k.local.Allow(key) // shadow count; its verdict does not matter here
	return true, 0
}
