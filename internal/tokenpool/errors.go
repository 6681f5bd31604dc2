package tokenpool

import (
	"fmt"
	"time"
)

// ExhaustedError means no token could be had within MaxWait (or at once).
// RetryAfter is the time from the moment of failure until the earliest token
// frees by time, rounded up to whole seconds, at least 1 s; it is 1 s when
// the only blocked tokens wait for an in-flight request to finish.
type ExhaustedError struct {
	RetryAfter time.Duration
	Closed     bool // the pool was closed (config reload); retrying reaches the new pool
}

func (e *ExhaustedError) Error() string {
	if e.Closed {
		return fmt.Sprintf("tokenpool: pool closed, retry after %s", e.RetryAfter)
	}
	return fmt.Sprintf("tokenpool: all tokens busy, retry after %s", e.RetryAfter)
}

// ceilSecond rounds d up to whole seconds, minimum one second, as wanted by
// a Retry-After header.
func ceilSecond(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	return (d + time.Second - 1) / time.Second * time.Second
}
