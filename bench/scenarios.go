package main

import (
	"context"
	"fmt"
	"time"
)

// scenarioStream is scenario 1: chunks per second through each path.
func (b *bench) scenarioStream(ctx context.Context) *section {
	cfg := b.cfg
	j := b.mustJob(cfg.streamBot, true)
	rounds, round := roundsOf(cfg.duration, cfg.round)
	res := b.interleave(ctx, "1 stream", j, cfg.concurrency, rounds, round, false)
	if cfg.pprofDir != "" {
		b.cpuProfile(ctx, "cpu-module-stream.pprof", j, cfg.concurrency)
	}
	s := &section{
		id:    1,
		title: "Streaming throughput",
		params: fmt.Sprintf("%s (%d chunks of %d B), %d concurrent clients, %d interleaved rounds of %v per path after a warm-up",
			j.bot, j.n, j.size, cfg.concurrency, rounds, round),
		header: []string{"path", "chunks/s (median of rounds)", "chunks/s (all rounds)", "answers checked", "failed", "rounds (chunks/s)",
			"CPU µs/chunk: Caddy", "fake", "client", "Caddy reads/chunk", "writes/chunk"},
	}
	s.addThroughput(res, false)
	m, px := res[pathModule].median(), res[pathProxy].median()
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
	if cfg.pprofDir != "" {
		b.cpuProfile(ctx, "cpu-module-nonstream.pprof", j, cfg.nsConcurrency)
	}
	s := &section{
		id:    3,
		title: "Non-streaming requests",
		params: fmt.Sprintf("%s (%d B answer), stream:false, %d concurrent clients, %d interleaved rounds of %v per path; direct reads the whole Poe stream",
			j.bot, len(j.want), cfg.nsConcurrency, rounds, round),
		header: []string{"path", "req/s (median of rounds)", "req/s (all rounds)", "answers checked", "failed", "rounds (req/s)",
			"CPU µs/request: Caddy", "fake", "client", "Caddy reads/request", "writes/request"},
	}
	s.addThroughput(res, true)
	s.addCorrectness(res)
	return s
}

// addThroughput fills scenario 1's or 3's table (chunks, or requests when
// perRequest) with a row per path, the module's ratios and the CPU note.
func (s *section) addThroughput(res map[string]*pathResult, perRequest bool) {
	for _, name := range pathNames {
		p := res[name]
		s.rows = append(s.rows, append([]string{name, rate(p.median()), rate(p.total(perRequest)), fmt.Sprint(p.answers), fmt.Sprint(p.errs.n), rateList(p.rates)},
			p.perUnit(perRequest)...))
	}
	mod, px, d := res[pathModule], res[pathProxy], res[pathDirect]
	s.ratios = []string{
		fmt.Sprintf("module / reverse_proxy = %s (median), %s (all rounds)", ratio(mod.median(), px.median()), ratio(mod.total(perRequest), px.total(perRequest))),
		fmt.Sprintf("module / direct = %s (median), %s (all rounds)", ratio(mod.median(), d.median()), ratio(mod.total(perRequest), d.total(perRequest))),
	}
	s.notes = append(s.notes, cpuNote)
}

const cpuNote = "CPU µs per chunk (or request): user+system CPU time each process used during the measured rounds " +
	"(/proc/<pid>/stat, 10 ms ticks), divided by what was delivered; Caddy is the path's own Caddy, the fake serves both Poe and the OpenAI mirror, the client is this load generator"

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

func (b *bench) mustJob(bot string, stream bool) *job {
	j, err := newJob(bot, stream)
	if err != nil {
		panic(err) // flags are validated before the scenarios run
	}
	return j
}
