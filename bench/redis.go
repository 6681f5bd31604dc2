package main

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// Limits that never bind at the bench's rates yet make every request do
// more of the shared-state work: a start recorded in the window, a lease
// taken and released (two scripts and a wake-up message). With scenario
// 1's rate_limit 0 the acquire script skips the window and there is no
// lease at all.
const (
	redisBenchRate       = 1000000
	redisBenchConcurrent = 100000
)

// redisPair is two module Caddys alike but for `redis`.
type redisPair struct {
	label, off, on           string // path names
	rateLimit, maxConcurrent int
}

var redisPairs = []redisPair{
	{"scenario 1's config (rate_limit 0)", "redis off", "redis on", 0, 0},
	{fmt.Sprintf("rate_limit %d, max_concurrent %d", redisBenchRate, redisBenchConcurrent),
		"redis off, leases", "redis on, leases", redisBenchRate, redisBenchConcurrent},
}

// scenarioRedis is scenario 6: scenario 1's load on the module with the
// key pool in memory and shared through a redis-server of its own on
// loopback, all paths' rounds interleaved as in scenario 1.
func (b *bench) scenarioRedis(ctx context.Context) *section {
	cfg := b.cfg
	j := b.mustJob(cfg.streamBot, true)
	rounds, round := roundsOf(cfg.duration, cfg.round)
	s := &section{
		id:    6,
		title: "Streaming throughput with redis on and off",
		params: fmt.Sprintf("%s (%d chunks of %d B), %d concurrent clients, %d interleaved rounds of %v per path after a warm-up; "+
			"four module Caddys in two pairs alike but for `redis` (one redis-server of its own on loopback, no persistence): "+
			"%s, where a request costs one acquire script; and %s (never reached), where it also records the start in the window and takes and releases a lease",
			j.bot, j.n, j.size, cfg.concurrency, rounds, round, redisPairs[0].label, redisPairs[1].label),
		header: []string{"path", "chunks/s (median of rounds)", "chunks/s (all rounds)", "answers checked", "failed", "rounds (chunks/s)",
			"CPU µs/chunk: Caddy", "fake", "client", "Caddy reads/chunk", "writes/chunk"},
	}
	goal := func(p redisPair) string { return fmt.Sprintf("%s >= 0.9 x %s chunks/s", p.on, p.off) }
	fail := func(err error) *section {
		s.errors = append(s.errors, err.Error())
		for _, p := range redisPairs {
			s.verdicts = append(s.verdicts, verdict{target: goal(p), measured: "not measured"})
		}
		return s
	}
	if !redistest.Installed() {
		return fail(fmt.Errorf("redis-server is not installed (apt-get install redis-server)"))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	red, err := redistest.Run(port, func(c *exec.Cmd) {
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL} // as the harness's children
	})
	if err != nil {
		return fail(err)
	}
	defer func() { _ = red.Process.Kill(); _ = red.Wait() }()
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)

	var targets []*target
	var names []string
	for i, p := range redisPairs {
		for k, name := range []string{p.off, p.on} {
			o := caddyOpts{module: "http://" + b.addrs.poe, rateLimit: p.rateLimit, maxConcurrent: p.maxConcurrent}
			if k == 1 {
				o.redis = url
			}
			if o.port, err = freePort(); err != nil {
				return fail(err)
			}
			c, err := startCaddy(ctx, b.dir, fmt.Sprintf("caddy-redis-%d-%d", i, k), o)
			if err != nil {
				return fail(err)
			}
			defer c.stop()
			targets = append(targets, &target{name: name, url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", o.port), caddy: c})
			names = append(names, name)
		}
	}
	redisCPU0, _ := cpuTime(red.Process.Pid)
	res := b.interleaveOver(ctx, targets, "6 redis", j, cfg.concurrency, rounds, round, false)
	redisCPU1, _ := cpuTime(red.Process.Pid)

	for _, name := range names {
		p := res[name]
		s.rows = append(s.rows, append([]string{name, rate(p.median()), rate(p.total(false)), fmt.Sprint(p.answers), fmt.Sprint(p.errs.n), rateList(p.rates)},
			p.perUnit(false)...))
	}
	onChunks := 0
	for _, p := range redisPairs {
		on, off := res[p.on], res[p.off]
		onChunks += on.chunks
		s.ratios = append(s.ratios, fmt.Sprintf("%s / %s = %s (median), %s (all rounds)",
			p.on, p.off, ratio(on.median(), off.median()), ratio(on.total(false), off.total(false))))
		s.verdicts = append(s.verdicts, verdict{
			target:   goal(p),
			measured: "ratio " + ratio(on.median(), off.median()),
			pass:     off.median() > 0 && on.median()/off.median() >= 0.9,
		})
	}
	if onChunks > 0 {
		s.notes = append(s.notes, fmt.Sprintf("redis-server CPU: %v over the rounds, warm-ups included (%.2f µs per chunk delivered by the two redis-on paths in the measured rounds)",
			(redisCPU1-redisCPU0).Round(10*time.Millisecond), float64(redisCPU1-redisCPU0)/float64(time.Microsecond)/float64(onChunks)))
	}
	s.notes = append(s.notes, cpuNote)
	s.addCorrectnessOf(res, names)
	return s
}
