package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// Running load: many clients on one path for a while, and rounds that
// interleave the paths.

// requestTimeout bounds one answer in the throughput and latency scenarios.
const requestTimeout = 60 * time.Second

// loadStat is what a load of one path for some time achieved.
type loadStat struct {
	answers, chunks int
	elapsed         time.Duration
	errs            errorLog
}

// runLoad keeps conc clients busy with j on t for dur: each client starts
// answers until the deadline and finishes the one it is reading, so every
// counted answer was read and checked in full; the rate divides by the time
// until the last one ended.
func runLoad(ctx context.Context, client *http.Client, t *target, j *job, conc int, dur time.Duration) loadStat {
	ctx, cancel := context.WithTimeout(ctx, dur+requestTimeout)
	defer cancel()
	stats := make([]loadStat, conc)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for i := range conc {
		wg.Go(func() {
			w := &worker{client: client}
			st := &stats[i]
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if _, err := w.do(ctx, t, j, nil); err != nil {
					st.errs.add(err)
					time.Sleep(20 * time.Millisecond) // no busy loop on a dead path
					continue
				}
				st.answers++
				st.chunks += j.n
			}
		})
	}
	wg.Wait()
	total := loadStat{elapsed: time.Since(start)}
	for _, s := range stats {
		total.answers += s.answers
		total.chunks += s.chunks
		total.errs.merge(s.errs)
	}
	return total
}

// pathResult accumulates one path's rounds.
type pathResult struct {
	name    string
	rates   []float64 // per round: chunks/s or answers/s
	answers int
	chunks  int
	elapsed time.Duration
	errs    errorLog
	cpu     cpuUse // used by each process during the rounds
}

// cpuUse is CPU time per process: the path's Caddy (none for direct), the
// fake and the load generator; and the read and write system calls of the
// path's Caddy.
type cpuUse struct {
	caddy, fake, client time.Duration
	reads, writes       int64
}

func (b *bench) cpuNow(t *target) (u cpuUse) {
	if t.caddy != nil {
		u.caddy, _ = cpuTime(t.caddy.pid())
		u.reads, u.writes, _ = syscallCounts(t.caddy.pid())
	}
	u.fake, _ = cpuTime(b.fake.pid())
	u.client, _ = cpuTime(os.Getpid())
	return u
}

func (u *cpuUse) add(after, before cpuUse) {
	u.caddy += after.caddy - before.caddy
	u.fake += after.fake - before.fake
	u.client += after.client - before.client
	u.reads += after.reads - before.reads
	u.writes += after.writes - before.writes
}

// perUnit formats CPU time per chunk (or answer) in µs: Caddy, fake, client.
func (p *pathResult) perUnit(perAnswer bool) []string {
	n := p.chunks
	if perAnswer {
		n = p.answers
	}
	f := func(d time.Duration, has bool) string {
		if !has || n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(d)/float64(time.Microsecond)/float64(n))
	}
	calls := func(c int64) string {
		if p.name == pathDirect || n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(c)/float64(n))
	}
	return []string{f(p.cpu.caddy, p.name != pathDirect), f(p.cpu.fake, true), f(p.cpu.client, true),
		calls(p.cpu.reads), calls(p.cpu.writes)}
}

func (p *pathResult) median() float64 { return median(p.rates) }

// total is the rate over all rounds together.
func (p *pathResult) total(perAnswer bool) float64 {
	if p.elapsed <= 0 {
		return 0
	}
	n := p.chunks
	if perAnswer {
		n = p.answers
	}
	return float64(n) / p.elapsed.Seconds()
}

// interleave runs rounds of load on the three paths in turn, rotating the
// order each round, so that noise on the machine hits all of them alike.
// Each path first gets a warm-up (connections, heap sizes) that is not
// counted, except for its failures.
func (b *bench) interleave(ctx context.Context, label string, j *job, conc, rounds int, round time.Duration, perAnswer bool) map[string]*pathResult {
	return b.interleaveOver(ctx, b.targets, label, j, conc, rounds, round, perAnswer)
}

// interleaveOver is interleave on the given paths.
func (b *bench) interleaveOver(ctx context.Context, targets []*target, label string, j *job, conc, rounds int, round time.Duration, perAnswer bool) map[string]*pathResult {
	client := newClient(conc, false)
	defer client.CloseIdleConnections()
	res := map[string]*pathResult{}
	for _, t := range targets {
		res[t.name] = &pathResult{name: t.name}
		w := runLoad(ctx, client, t, j, conc, min(round, time.Second))
		res[t.name].errs.merge(w.errs)
	}
	for r := range rounds {
		for i := range targets {
			t := targets[(r+i)%len(targets)]
			if ctx.Err() != nil {
				return res
			}
			before := b.cpuNow(t)
			st := runLoad(ctx, client, t, j, conc, round)
			p := res[t.name]
			p.cpu.add(b.cpuNow(t), before)
			n := st.chunks
			if perAnswer {
				n = st.answers
			}
			p.rates = append(p.rates, float64(n)/st.elapsed.Seconds())
			p.answers += st.answers
			p.chunks += st.chunks
			p.elapsed += st.elapsed
			p.errs.merge(st.errs)
			b.progress("%s: round %d/%d %-13s %10.1f/s  (%d answers, %d failed)", label, r+1, rounds, t.name,
				p.rates[len(p.rates)-1], st.answers, st.errs.n)
		}
	}
	return res
}

func roundsOf(total, round time.Duration) (int, time.Duration) {
	if round <= 0 || round > total {
		round = total
	}
	return max(1, int(total/round)), round
}
