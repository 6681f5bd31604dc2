package tokenpool

import (
	"math"
	"time"
)

// Clock is the source of time and timers, replaceable in tests by FakeClock.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of *time.Timer the pool uses.
type Timer interface {
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// SystemClock returns the real clock.
func SystemClock() Clock { return systemClock{} }

// Instants are kept as int64 nanoseconds since epoch: cheap to compare in the
// heaps and 8 bytes in the window ring. Subtracting a time.Now() reading from
// epoch uses the monotonic clock, so windows ignore wall-clock steps; times
// without a monotonic reading (fake clock, parsed reset headers) fall back to
// wall-clock arithmetic, which is exact for them.
var epoch = time.Now()

// never marks "no such instant" (token never used, no cooling, ...).
const never int64 = math.MinInt64

func nanos(t time.Time) int64 { return int64(t.Sub(epoch)) }

func timeOf(n int64) time.Time { return epoch.Add(time.Duration(n)).Round(0) }
