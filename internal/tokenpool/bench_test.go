package tokenpool

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAcquireRelease measures the uncontended-by-limits path: the pool
// never blocks, all goroutines share one pool (its mutex is the contention).
func BenchmarkAcquireRelease(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			p := New(newTokens(n), Limits{}, SystemClock())
			defer p.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l, err := p.Acquire(ctx)
					if err != nil {
						b.Fatal(err)
					}
					l.Release()
				}
			})
		})
	}
}

// BenchmarkAcquireReleaseLimited adds a rate window and an in-flight cap, so
// the ring and the release notification run too (never blocking: the limits
// are far above what the benchmark reaches per token).
func BenchmarkAcquireReleaseLimited(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			p := New(newTokens(n), Limits{RateLimit: 1 << 20, MaxConcurrent: 1 << 20}, SystemClock())
			defer p.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l, err := p.Acquire(ctx)
					if err != nil {
						b.Fatal(err)
					}
					l.Release()
				}
			})
		})
	}
}
