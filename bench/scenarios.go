package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

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
	client := newClient(conc, false)
	defer client.CloseIdleConnections()
	res := map[string]*pathResult{}
	for _, t := range b.targets {
		res[t.name] = &pathResult{name: t.name}
		w := runLoad(ctx, client, t, j, conc, min(round, time.Second))
		res[t.name].errs.merge(w.errs)
	}
	for r := range rounds {
		for i := range b.targets {
			t := b.targets[(r+i)%len(b.targets)]
			if ctx.Err() != nil {
				return res
			}
			st := runLoad(ctx, client, t, j, conc, round)
			p := res[t.name]
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

// scenarioStream is scenario 1: chunks per second through each path.
func (b *bench) scenarioStream(ctx context.Context) *section {
	cfg := b.cfg
	j := b.mustJob(cfg.streamBot, true)
	rounds, round := roundsOf(cfg.duration, cfg.round)
	res := b.interleave(ctx, "1 stream", j, cfg.concurrency, rounds, round, false)
	if cfg.pprofDir != "" {
		b.cpuProfile(ctx, "cpu-module-stream.pprof", j, cfg.concurrency, round)
	}
	s := &section{
		id:    1,
		title: "Streaming throughput",
		params: fmt.Sprintf("%s (%d chunks of %d B), %d concurrent clients, %d interleaved rounds of %v per path after a warm-up",
			j.bot, j.n, j.size, cfg.concurrency, rounds, round),
		header: []string{"path", "chunks/s (median of rounds)", "chunks/s (all rounds)", "answers checked", "failed", "rounds (chunks/s)"},
	}
	for _, name := range pathNames {
		p := res[name]
		s.rows = append(s.rows, []string{name, rate(p.median()), rate(p.total(false)), fmt.Sprint(p.answers), fmt.Sprint(p.errs.n), rateList(p.rates)})
	}
	m, px, d := res[pathModule].median(), res[pathProxy].median(), res[pathDirect].median()
	s.ratios = []string{
		fmt.Sprintf("module / reverse_proxy = %s (median), %s (all rounds)", ratio(m, px), ratio(res[pathModule].total(false), res[pathProxy].total(false))),
		fmt.Sprintf("module / direct = %s (median), %s (all rounds)", ratio(m, d), ratio(res[pathModule].total(false), res[pathDirect].total(false))),
	}
	s.verdicts = append(s.verdicts, verdict{
		target:   "module >= 0.8 x reverse_proxy chunks/s",
		measured: "ratio " + ratio(m, px),
		pass:     px > 0 && m/px >= 0.8,
	})
	s.addCorrectness(res)
	return s
}

// scenarioTTFT is scenario 2: time to the first content byte, one request
// at a time, interleaving the paths request by request.
func (b *bench) scenarioTTFT(ctx context.Context) *section {
	cfg := b.cfg
	j := b.mustJob(cfg.ttftBot, true)
	client := newClient(1, false)
	defer client.CloseIdleConnections()
	samples := map[string][]time.Duration{}
	errs := map[string]*errorLog{}
	workers := map[string]*worker{}
	for _, t := range b.targets {
		workers[t.name] = &worker{client: client}
		errs[t.name] = &errorLog{}
	}
	one := func(t *target, keep bool) {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		r, err := workers[t.name].do(rctx, t, j, nil)
		switch {
		case err != nil:
			errs[t.name].add(err)
		case keep:
			samples[t.name] = append(samples[t.name], r.ttft)
		}
	}
	warm := min(200, cfg.ttftSamples/10+1)
	for i := 0; i < warm*len(b.targets) && ctx.Err() == nil; i++ {
		one(b.targets[i%len(b.targets)], false)
	}
	for i := 0; i < cfg.ttftSamples && ctx.Err() == nil; i++ {
		for k := range b.targets {
			one(b.targets[(i+k)%len(b.targets)], true)
		}
		if (i+1)%1000 == 0 {
			b.progress("2 ttft: %d/%d samples per path", i+1, cfg.ttftSamples)
		}
	}
	s := &section{
		id:     2,
		title:  "Time to first token",
		params: fmt.Sprintf("%s, sequential requests, %d samples per path (after %d warm-up requests each), paths interleaved request by request; time from sending the request to reading the first content piece", j.bot, cfg.ttftSamples, warm),
		header: []string{"path", "p50 (µs)", "p90 (µs)", "p99 (µs)", "samples", "failed"},
	}
	pct := func(name string, p float64) time.Duration { return percentile(samples[name], p) }
	for _, name := range pathNames {
		s.rows = append(s.rows, []string{name, micros(pct(name, 50)), micros(pct(name, 90)), micros(pct(name, 99)),
			fmt.Sprint(len(samples[name])), fmt.Sprint(errs[name].n)})
	}
	d50p, d99p := pct(pathModule, 50)-pct(pathProxy, 50), pct(pathModule, 99)-pct(pathProxy, 99)
	d50d, d99d := pct(pathModule, 50)-pct(pathDirect, 50), pct(pathModule, 99)-pct(pathDirect, 99)
	s.ratios = []string{
		fmt.Sprintf("module - reverse_proxy: p50 %s µs, p99 %s µs", micros(d50p), micros(d99p)),
		fmt.Sprintf("module - direct: p50 %s µs, p99 %s µs", micros(d50d), micros(d99d)),
	}
	s.verdicts = append(s.verdicts, verdict{
		target:   "module adds <= 200 µs at p50 over reverse_proxy",
		measured: micros(d50p) + " µs",
		pass:     len(samples[pathModule]) > 0 && len(samples[pathProxy]) > 0 && d50p <= 200*time.Microsecond,
	})
	failed, answers := 0, 0
	for _, name := range pathNames {
		failed += errs[name].n
		answers += len(samples[name])
		for _, m := range errs[name].first {
			s.errors = append(s.errors, name+": "+m)
		}
	}
	s.verdicts = append(s.verdicts, correctness(answers, failed))
	return s
}

// scenarioNonStream is scenario 3: requests per second with stream:false.
func (b *bench) scenarioNonStream(ctx context.Context) *section {
	cfg := b.cfg
	j := b.mustJob(cfg.nonStreamBot, false)
	rounds, round := roundsOf(cfg.duration, cfg.round)
	res := b.interleave(ctx, "3 non-stream", j, cfg.nsConcurrency, rounds, round, true)
	s := &section{
		id:    3,
		title: "Non-streaming requests",
		params: fmt.Sprintf("%s (%d B answer), stream:false, %d concurrent clients, %d interleaved rounds of %v per path; direct reads the whole Poe stream",
			j.bot, len(j.want), cfg.nsConcurrency, rounds, round),
		header: []string{"path", "req/s (median of rounds)", "req/s (all rounds)", "answers checked", "failed", "rounds (req/s)"},
	}
	for _, name := range pathNames {
		p := res[name]
		s.rows = append(s.rows, []string{name, rate(p.median()), rate(p.total(true)), fmt.Sprint(p.answers), fmt.Sprint(p.errs.n), rateList(p.rates)})
	}
	m, px, d := res[pathModule].median(), res[pathProxy].median(), res[pathDirect].median()
	s.ratios = []string{
		fmt.Sprintf("module / reverse_proxy = %s (median), %s (all rounds)", ratio(m, px), ratio(res[pathModule].total(true), res[pathProxy].total(true))),
		fmt.Sprintf("module / direct = %s (median), %s (all rounds)", ratio(m, d), ratio(res[pathModule].total(true), res[pathDirect].total(true))),
	}
	s.addCorrectness(res)
	return s
}

// sweep measures scenario 1's load at each concurrency of the chart.
func (b *bench) sweep(ctx context.Context) (*section, map[string][]float64) {
	cfg := b.cfg
	j := b.mustJob(cfg.streamBot, true)
	rounds, round := roundsOf(cfg.chartDuration, cfg.round)
	series := map[string][]float64{}
	s := &section{
		id:     0,
		title:  "Chart: chunks per second against concurrency",
		params: fmt.Sprintf("%s, %d interleaved rounds of %v per path and concurrency; median of rounds", j.bot, rounds, round),
		header: []string{"clients", pathModule, pathProxy, pathDirect, "module / reverse_proxy", "module / direct", "failed"},
	}
	all := map[string]*pathResult{}
	for _, n := range pathNames {
		all[n] = &pathResult{}
	}
	for _, conc := range cfg.chartConc {
		res := b.interleave(ctx, fmt.Sprintf("chart c=%d", conc), j, conc, rounds, round, false)
		failed := 0
		for _, n := range pathNames {
			series[n] = append(series[n], res[n].median())
			failed += res[n].errs.n
			all[n].answers += res[n].answers
			all[n].errs.merge(res[n].errs)
		}
		m, px, d := res[pathModule].median(), res[pathProxy].median(), res[pathDirect].median()
		s.rows = append(s.rows, []string{fmt.Sprint(conc), rate(m), rate(px), rate(d), ratio(m, px), ratio(m, d), fmt.Sprint(failed)})
	}
	s.addCorrectness(all)
	return s, series
}

// openResult is one open-streams measurement.
type openResult struct {
	path       string
	streams    int
	proto      string
	base, open int64 // VmRSS in kB before opening and once all are open
	openTime   time.Duration
	firstOK    int // streams that received their first chunk
	served     int // streams that completed with the right content
	early      int // streams that had ended before the measurement
	errs       errorLog
	err        error // the measurement itself failed
}

func (r *openResult) perStream() float64 {
	return float64(r.open-r.base) / float64(r.streams)
}

// scenarioOpen is scenario 4: n streams held open at once through a fresh
// Caddy, its resident memory growth, and every stream served.
func (b *bench) scenarioOpen(ctx context.Context) *section {
	cfg := b.cfg
	j := b.mustJob(cfg.openBot, true)
	s := &section{
		id:    4,
		title: "Open streams",
		params: fmt.Sprintf("%s held open at once through a fresh Caddy per measurement; VmRSS of that Caddy process before opening (after warm-up) and once every stream has its first chunk; kB = 1024 B as /proc reports it",
			j.bot),
		header: []string{"path", "streams", "client->Caddy", "RSS before (MB)", "RSS open (MB)", "growth (MB)", "per stream (kB)", "open in (s)", "served", "failed"},
	}
	for _, n := range cfg.streams {
		for _, path := range []string{pathModule, pathProxy} {
			if ctx.Err() != nil {
				return s
			}
			r := b.openStreams(ctx, path, j, n)
			mb := func(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }
			if r.err != nil {
				s.rows = append(s.rows, []string{path, fmt.Sprint(n), r.proto, "-", "-", "-", "-", "-", "-", fmt.Sprint(r.errs.n)})
				s.errors = append(s.errors, fmt.Sprintf("%s, %d streams: %v", path, n, r.err))
			} else {
				s.rows = append(s.rows, []string{path, fmt.Sprint(n), r.proto, mb(r.base), mb(r.open), mb(r.open - r.base),
					fmt.Sprintf("%.2f", r.perStream()), fmt.Sprintf("%.2f", r.openTime.Seconds()),
					fmt.Sprintf("%d/%d", r.served, n), fmt.Sprint(r.errs.n)})
			}
			for _, m := range r.errs.first {
				s.errors = append(s.errors, fmt.Sprintf("%s, %d streams: %s", path, n, m))
			}
			if r.early > 0 {
				s.errors = append(s.errors, fmt.Sprintf("%s, %d streams: %d streams had ended before all were open; use a longer -open-bot", path, n, r.early))
			}
			if path != pathModule {
				continue
			}
			s.verdicts = append(s.verdicts,
				verdict{
					target:   fmt.Sprintf("<= 40 kB resident per open stream (%d streams)", n),
					measured: fmt.Sprintf("%.2f kB", r.perStream()),
					pass:     r.err == nil && r.early == 0 && r.perStream() <= 40,
				},
				verdict{
					target:   fmt.Sprintf("all %d streams served", n),
					measured: fmt.Sprintf("%d/%d", r.served, n),
					pass:     r.err == nil && r.served == n && r.errs.n == 0,
				})
		}
	}
	if len(s.rows) > 0 && cfg.openProto == "auto" {
		s.notes = append(s.notes, fmt.Sprintf("client->Caddy is HTTP/1.1 when one connection per stream fits in Caddy's file descriptor limit (%d: two sockets per stream, to the client and to the upstream), else cleartext HTTP/2 (h2c, many streams per connection); the upstream side is always HTTP/1.1, one connection per stream", b.nofile))
	}
	return s
}

// openStreams starts a fresh Caddy for path, then opens n streams of j.
func (b *bench) openStreams(ctx context.Context, path string, j *job, n int) (r openResult) {
	r = openResult{path: path, streams: n, proto: b.openProto(n)}
	h2c := r.proto == "h2c"
	port, err := freePort()
	if err != nil {
		r.err = err
		return r
	}
	opts := caddyOpts{port: port, h2c: h2c}
	if path == pathModule {
		opts.module = "http://" + b.addrs.poe
	} else {
		opts.upstream = b.addrs.openai
	}
	if b.cfg.pprofDir != "" {
		if opts.admin, err = freePort(); err != nil {
			r.err = err
			return r
		}
	}
	b.progress("4 open: %s, %d streams (%s): starting a fresh Caddy", path, n, r.proto)
	caddy, err := startCaddy(ctx, b.dir, fmt.Sprintf("caddy-open-%s-%d", path, n), opts)
	if err != nil {
		r.err = err
		return r
	}
	defer caddy.stop()
	t := &target{name: path, url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)}

	client := newClient(n, h2c)
	defer client.CloseIdleConnections()
	// Warm up with short answers, then wait for the RSS to settle (the
	// module preloads its tokenizer in the background).
	warm := b.mustJob(b.cfg.ttftBot, true)
	w := &worker{client: client}
	for range 20 {
		if _, err := w.do(ctx, t, warm, nil); err != nil {
			r.err = fmt.Errorf("warm-up: %v", err)
			return r
		}
	}
	if r.base, err = settledRSS(ctx, caddy); err != nil {
		r.err = err
		return r
	}

	var first sync.WaitGroup // every stream got its first chunk, or failed
	var wg sync.WaitGroup
	var measured atomic.Bool
	var mu sync.Mutex
	var firstOK, served, early int
	sem := make(chan struct{}, 256) // streams being opened at once
	life := time.Duration(j.n)*b.openInterval(j) + 2*time.Minute
	sctx, cancel := context.WithTimeout(ctx, life)
	defer cancel()
	start := time.Now()
	first.Add(n)
	for range n {
		select {
		case sem <- struct{}{}:
		case <-sctx.Done():
			first.Done()
			continue
		}
		wg.Go(func() {
			var once sync.Once
			release := func() { once.Do(func() { <-sem; first.Done() }) }
			w := &worker{client: client}
			_, err := w.do(sctx, t, j, func() {
				mu.Lock()
				firstOK++
				mu.Unlock()
				release()
			})
			release()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errs.add(err)
				return
			}
			served++
			if !measured.Load() {
				early++
			}
		})
	}
	first.Wait()
	r.openTime = time.Since(start)
	r.open, err = caddy.rssKB()
	measured.Store(true)
	if err != nil {
		r.err = err
	}
	if b.cfg.pprofDir != "" && path == pathModule {
		b.fetchProfile(ctx, opts.admin, "heap", fmt.Sprintf("heap-module-open-%d.pprof", n))
	}
	mu.Lock()
	b.progress("4 open: %s, %d streams open in %.2fs (%d with a first chunk), RSS %d kB -> %d kB; waiting for them to end",
		path, n, r.openTime.Seconds(), firstOK, r.base, r.open)
	mu.Unlock()
	wg.Wait()
	r.firstOK, r.served, r.early = firstOK, served, early
	return r
}

// openProto chooses HTTP/1.1 between client and Caddy when Caddy can hold
// one socket per stream on each side, else h2c.
func (b *bench) openProto(n int) string {
	if b.cfg.openProto != "auto" {
		return b.cfg.openProto
	}
	if uint64(2*n+256) <= b.nofile {
		return "h1"
	}
	return "h2c"
}

func (b *bench) openInterval(j *job) time.Duration {
	iv := time.Second
	if _, _, d, ok := poefake.ParseChunks(j.bot); ok && d > 0 {
		iv = d
	}
	return iv
}

// settledRSS waits until Caddy's RSS stops moving (within 64 kB over half a
// second, at most 10 s) and returns it.
func settledRSS(ctx context.Context, c *child) (int64, error) {
	prev, err := c.rssKB()
	if err != nil {
		return 0, err
	}
	for range 20 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		cur, err := c.rssKB()
		if err != nil {
			return 0, err
		}
		if d := cur - prev; d < 64 && d > -64 {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

func (b *bench) mustJob(bot string, stream bool) *job {
	j, err := newJob(bot, stream)
	if err != nil {
		panic(err) // flags are validated before the scenarios run
	}
	return j
}
