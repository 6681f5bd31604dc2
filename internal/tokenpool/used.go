package tokenpool

import "github.com/redis/go-redis/v9"

// Read-only views for status pages. Pool and Shared report their tokens
// through Keys.Status; this file adds the client limiters' window use.

// Windowed is a ClientLimiter that can say how much of a key's window is
// used: *KeyLimiter and *SharedLimiter.
type Windowed interface {
	Used(key string) int
}

var (
	_ Windowed = (*KeyLimiter)(nil)
	_ Windowed = (*SharedLimiter)(nil)
)

// Used is the requests key made in the current window, across every
// process on the Redis; this process's own count while Redis is down.
func (k *SharedLimiter) Used(key string) int {
	if k.perMinute <= 0 {
		return 0
	}
	v, err := k.r.run(usedScript, []string{keyPrefix + "c:" + hashKey(key)}, k.r.nowArg())
	if err != nil {
		return k.local.Used(key)
	}
	n, _ := v.(int64)
	return int(n)
}

// usedScript counts a limiter window's entries, as limitScript would see
// them. KEYS: the window. ARGV: now.
var usedScript = redis.NewScript(luaPrelude + `
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', now - win), '+inf')
`)
