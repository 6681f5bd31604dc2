package tokenpool

import (
	"context"
	"time"
)

// Keys hands out leases on the configured tokens. *Pool keeps the state
// in this process's memory; *Shared keeps it in Redis for every process
// that uses the same Redis, falling back to a *Pool when Redis fails.
type Keys interface {
	Acquire(ctx context.Context) (*Lease, error)
	Healthy() bool
	Status() []TokenStatus
	Len() int
	Waiting() int
	Close()
}

// ClientLimiter is the per-client-key window: *KeyLimiter in memory,
// *SharedLimiter in Redis.
type ClientLimiter interface {
	Allow(key string) (ok bool, retryAfter time.Duration)
}

var (
	_ Keys          = (*Pool)(nil)
	_ Keys          = (*Shared)(nil)
	_ ClientLimiter = (*KeyLimiter)(nil)
	_ ClientLimiter = (*SharedLimiter)(nil)
)
