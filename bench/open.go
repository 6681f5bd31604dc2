package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

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
	err        error  // the measurement itself failed
	growth     string // with -pprof: Go's own figures for the growth
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
			if r.growth != "" {
				s.notes = append(s.notes, fmt.Sprintf("%s, %d streams (Caddy's /debug/vars): %s", path, n, r.growth))
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
	if cfg.openUpstream == "h2c" {
		s.notes = append(s.notes, "Caddy -> upstream is cleartext HTTP/2 on both paths (poe_openai `upstream_h2c`, reverse_proxy `versions h2c`): streams share connections, as they do from Caddy to api.poe.com, which speaks HTTP/2 over TLS; -open-upstream h1 measures one HTTP/1.1 connection per stream instead")
	} else {
		s.notes = append(s.notes, "Caddy -> upstream is HTTP/1.1 without TLS on both paths, so each stream also holds one upstream connection (its buffers and its two net/http goroutines)")
	}
	if len(s.rows) > 0 && cfg.openProto == "auto" {
		s.notes = append(s.notes, fmt.Sprintf("client->Caddy is HTTP/1.1 when one connection per stream fits in Caddy's file descriptor limit (%d), else cleartext HTTP/2 (h2c, many streams per connection)", b.nofile))
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
	opts := caddyOpts{port: port, h2c: h2c, upH2C: b.cfg.openUpstream == "h2c"}
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
	var before goStats
	haveStats := false
	if opts.admin != 0 {
		forceGC(ctx, opts.admin) // so before.HeapAlloc is what is live
		before, err = readGoStats(ctx, opts.admin)
		haveStats = err == nil
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
	if opts.admin != 0 {
		if after, err := readGoStats(ctx, opts.admin); err == nil && haveStats {
			r.growth = describeGrowth(before, after, n)
		}
		// gc=1 collects first, so the profile and the figures read after it
		// show what is live, without the garbage the pacer lets accumulate.
		b.saveProfile(ctx, opts.admin, "heap?gc=1", fmt.Sprintf("heap-%s-open-%d.pprof", path, n))
		if live, err := readGoStats(ctx, opts.admin); err == nil && haveStats && r.growth != "" {
			r.growth += fmt.Sprintf("; after a forced GC: live heap %.2f kB per stream",
				(float64(live.HeapAlloc)-float64(before.HeapAlloc))/1024/float64(n))
		}
		b.saveProfile(ctx, opts.admin, "goroutine?debug=2", fmt.Sprintf("goroutines-%s-open-%d.txt", path, n))
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
// the sockets it needs: one per stream to the client, and one more per
// stream to an HTTP/1.1 upstream. Else h2c.
func (b *bench) openProto(n int) string {
	if b.cfg.openProto != "auto" {
		return b.cfg.openProto
	}
	perStream := uint64(2)
	if b.cfg.openUpstream == "h2c" {
		perStream = 1
	}
	if perStream*uint64(n)+256 <= b.nofile {
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
