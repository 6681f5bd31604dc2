package tokenpool

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// BenchmarkSharedAcquireRelease measures one request's cost of the shared
// state on loopback: the acquire script, and with leases (max_concurrent
// or cool_down) the release script too. Calls are sequential so each
// latency is one request's; p50 and p99 are reported per operation.
//
//	go test ./internal/tokenpool/ -run '^$' -bench SharedAcquireRelease -benchtime 20000x
func BenchmarkSharedAcquireRelease(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
		lim  Limits
	}{
		{"tokens=1/window", 1, Limits{RateLimit: 1 << 30}},
		{"tokens=1/window+leases", 1, Limits{RateLimit: 1 << 30, MaxConcurrent: 1 << 20}},
		{"tokens=10/window+leases", 10, Limits{RateLimit: 1 << 30, MaxConcurrent: 1 << 20}},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := redistest.Start(b)
			r, err := NewRedis(RedisOptions{URL: srv.URL(), Timeout: time.Second})
			if err != nil || !r.Up() {
				b.Fatal("redis not up", err)
			}
			defer r.Destruct()
			s := NewShared(r, newTokens(c.n), c.lim)
			defer s.Close()
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				l, err := s.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				l.Release()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			if !r.Up() {
				b.Fatal("fell back during the benchmark")
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
