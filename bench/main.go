// Command bench measures the poe_openai Caddy module against a plain Caddy
// reverse_proxy to an upstream that already speaks OpenAI's format (the
// floor: a Caddy handler with no conversion) and against the fake Poe read
// directly, under the same interleaved load, checking every answer:
//
//	go run ./bench [-scenario all] [-duration 10s] [-concurrency 64]
//	    [-streams 1000,10000] [-ttft-samples 3000]
//	    [-chart bench/chart.png] [-markdown BENCHMARKS.md] [-quick]
//
// Scenarios: 1 streaming throughput, 2 time to first token, 3 non-streaming
// requests, 4 open streams (Caddy's memory per stream), 5 the token pool's
// Go benchmark, 6 scenario 1 with `redis` on vs off (needs redis-server;
// not part of all). The fake Poe and each Caddy run as child processes of this
// binary (hidden subcommands `fake` and `caddy`). Exit status: 0 all targets
// met, 1 the harness failed, 2 bad flags, 3 a target was missed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

func main() {
	if handled, code := childMain(os.Args[1:]); handled {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	duration, round, chartDuration time.Duration
	concurrency, nsConcurrency     int
	scenarios                      map[int]bool
	streams, chartConc             []int
	ttftSamples                    int
	chart, markdown, pprofDir      string
	quick, allocs                  bool
	streamBot, ttftBot             string
	nonStreamBot, openBot          string
	openProto                      string
	openUpstream                   string
	args                           []string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per path in scenarios 1 and 3, split into interleaved rounds")
	fs.DurationVar(&cfg.round, "round", 2*time.Second, "length of one round (one path at a time)")
	fs.IntVar(&cfg.concurrency, "concurrency", 64, "concurrent clients in scenario 1")
	fs.IntVar(&cfg.nsConcurrency, "nonstream-concurrency", 32, "concurrent clients in scenario 3")
	scen := fs.String("scenario", "all", "scenarios to run: all (1-5), or a comma list of 1-6 or stream, ttft, nonstream, open, pool, redis")
	streams := fs.String("streams", "1000,10000", "scenario 4: numbers of streams held open at once")
	fs.IntVar(&cfg.ttftSamples, "ttft-samples", 3000, "scenario 2: samples per path")
	fs.StringVar(&cfg.chart, "chart", "", "write a chart of chunks/s against concurrency to this file (.png, .svg)")
	chartConc := fs.String("chart-concurrency", "1,8,64,256", "concurrencies of the chart")
	fs.DurationVar(&cfg.chartDuration, "chart-duration", 4*time.Second, "measured time per path and concurrency for the chart")
	fs.StringVar(&cfg.markdown, "markdown", "", "also write the results as markdown to this file")
	fs.BoolVar(&cfg.quick, "quick", false, "a short smoke run (well under a minute); explicit flags still win")
	fs.BoolVar(&cfg.allocs, "allocs", false, "also run relay's BenchmarkHotPath for allocations per chunk (target: at most 2); on by default with -scenario all, except with -quick")
	fs.StringVar(&cfg.pprofDir, "pprof", "", "enable Caddy's admin endpoint (with /debug/pprof) for the module's Caddy and save CPU and heap profiles in this directory")
	fs.StringVar(&cfg.streamBot, "stream-bot", "Chunks-200x16", "scenario 1 and chart: answer asked for")
	fs.StringVar(&cfg.ttftBot, "ttft-bot", "Chunks-1x16", "scenario 2: answer asked for")
	fs.StringVar(&cfg.nonStreamBot, "nonstream-bot", "Chunks-64x16", "scenario 3: answer asked for")
	fs.StringVar(&cfg.openBot, "open-bot", "Chunks-6x16-5s", "scenario 4: answer asked for (a chunk every interval)")
	fs.StringVar(&cfg.openProto, "open-proto", "auto", "scenario 4, client to Caddy: h1, h2c, or auto (h1 if Caddy's file descriptor limit allows)")
	fs.StringVar(&cfg.openUpstream, "open-upstream", "h2c", "scenario 4, Caddy to the upstream on both paths: h2c (many streams per connection, as Caddy to api.poe.com over TLS) or h1 (one connection per stream)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["allocs"] {
		cfg.allocs = *scen == "all" && !cfg.quick
	}
	if cfg.quick {
		quick := map[string]string{
			"duration": "1s", "round": "500ms", "ttft-samples": "300", "streams": "200",
			"open-bot": "Chunks-3x16-1s", "chart-duration": "500ms", "chart-concurrency": "1,8,64",
		}
		for name, v := range quick {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	var err error
	if cfg.scenarios, err = parseScenarios(*scen); err != nil {
		return nil, fmt.Errorf("-scenario: %v", err)
	}
	if cfg.streams, err = parseInts(*streams); err != nil {
		return nil, fmt.Errorf("-streams: %v", err)
	}
	if cfg.chartConc, err = parseInts(*chartConc); err != nil {
		return nil, fmt.Errorf("-chart-concurrency: %v", err)
	}
	for _, bot := range []string{cfg.streamBot, cfg.ttftBot, cfg.nonStreamBot, cfg.openBot} {
		if _, _, _, ok := poefake.ParseChunks(bot); !ok {
			return nil, fmt.Errorf("%q is not a Chunks-<n>x<size>[-<interval>] bot", bot)
		}
	}
	switch {
	case cfg.duration <= 0 || cfg.round <= 0 || cfg.chartDuration <= 0:
		return nil, errors.New("durations must be positive")
	case cfg.concurrency <= 0 || cfg.nsConcurrency <= 0 || cfg.ttftSamples <= 0:
		return nil, errors.New("-concurrency, -nonstream-concurrency and -ttft-samples must be positive")
	case cfg.openProto != "auto" && cfg.openProto != "h1" && cfg.openProto != "h2c":
		return nil, errors.New("-open-proto must be auto, h1 or h2c")
	case cfg.openUpstream != "h1" && cfg.openUpstream != "h2c":
		return nil, errors.New("-open-upstream must be h1 or h2c")
	}
	return cfg, nil
}

var scenarioNames = map[string]int{"stream": 1, "ttft": 2, "nonstream": 3, "open": 4, "pool": 5, "redis": 6}

func parseScenarios(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			for i := 1; i <= 5; i++ {
				out[i] = true
			}
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			n = scenarioNames[f]
		}
		if n < 1 || n > 6 {
			return nil, fmt.Errorf("unknown scenario %q", f)
		}
		out[n] = true
	}
	return out, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "bench:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runBench(ctx, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if res.failedTargets > 0 {
		return 3
	}
	return 0
}

// bench is one run: its children, paths and progress output.
type bench struct {
	cfg       *config
	dir       string // temporary: configs, logs, Caddy's state
	stderr    io.Writer
	start     time.Time
	nofile    uint64
	addrs     fakeAddrs
	children  []*child
	fake      *child
	targets   []*target // module, reverse_proxy, direct
	adminPort int       // the module Caddy's admin endpoint, with -pprof
}

// runResult is what a test looks at.
type runResult struct {
	sections      []*section
	failedTargets int
}

func runBench(ctx context.Context, cfg *config, stdout, stderr io.Writer) (*runResult, error) {
	b := &bench{cfg: cfg, stderr: stderr, start: time.Now()}
	var err error
	if b.nofile, err = raiseNoFile(); err != nil {
		return nil, fmt.Errorf("raising RLIMIT_NOFILE: %v", err)
	}
	if b.dir, err = os.MkdirTemp("", "poe-bench-"); err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(b.dir) }()
	defer func() {
		for _, c := range b.children {
			c.stop()
		}
	}()
	if cfg.pprofDir != "" {
		if err := os.MkdirAll(cfg.pprofDir, 0o750); err != nil { //nolint:gosec // the directory the user named
			return nil, err
		}
	}

	fake, addrs, err := startFake(ctx, b.dir)
	if err != nil {
		return nil, err
	}
	b.children, b.addrs, b.fake = append(b.children, fake), addrs, fake
	b.progress("fake Poe on %s, OpenAI mirror on %s, RLIMIT_NOFILE %d", addrs.poe, addrs.openai, b.nofile)
	if cfg.scenarios[1] || cfg.scenarios[2] || cfg.scenarios[3] || cfg.chart != "" {
		if err := b.startPaths(ctx); err != nil {
			return nil, err
		}
	}

	var sections []*section
	add := func(s *section) {
		s.writeText(stdout)
		sections = append(sections, s)
	}
	if cfg.quick {
		fmt.Fprintln(stdout, "(-quick: a smoke run; its figures are too short to be measurements)")
	}
	steps := []struct {
		on  bool
		run func(context.Context) *section
	}{
		{cfg.scenarios[1], b.scenarioStream},
		{cfg.scenarios[2], b.scenarioTTFT},
		{cfg.scenarios[3], b.scenarioNonStream},
		{cfg.chart != "", b.chartSection},
		{cfg.scenarios[4], b.scenarioOpen},
		{cfg.scenarios[5], b.scenarioPool},
		{cfg.scenarios[6], b.scenarioRedis},
		{cfg.allocs, b.sectionAllocs},
	}
	for _, st := range steps {
		if !st.on {
			continue
		}
		add(st.run(ctx))
		if ctx.Err() != nil {
			return nil, errors.New("interrupted")
		}
	}
	res := &runResult{sections: sections, failedTargets: summary(stdout, sections, cfg.quick)}
	if cfg.markdown != "" {
		if err := writeMarkdownFile(cfg.markdown, describeMachine(), commandLine(cfg.args), b.start, time.Since(b.start),
			sections, cfg.chart, cfg.quick); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "\nmarkdown written to %s\n", cfg.markdown)
	}
	return res, nil
}

// startPaths starts the module's Caddy and the reverse_proxy Caddy and
// checks one answer on each path.
func (b *bench) startPaths(ctx context.Context) error {
	mport, err1 := freePort()
	pport, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	mod := caddyOpts{port: mport, module: "http://" + b.addrs.poe}
	if b.cfg.pprofDir != "" {
		if mod.admin, err1 = freePort(); err1 != nil {
			return err1
		}
		b.adminPort = mod.admin
	}
	var caddys []*child
	for _, c := range []struct {
		name string
		opts caddyOpts
	}{{"caddy-module", mod}, {"caddy-proxy", caddyOpts{port: pport, upstream: b.addrs.openai}}} {
		ch, err := startCaddy(ctx, b.dir, c.name, c.opts)
		if err != nil {
			return err
		}
		b.children = append(b.children, ch)
		caddys = append(caddys, ch)
	}
	if b.adminPort != 0 {
		b.progress("module Caddy pprof: http://127.0.0.1:%d/debug/pprof/", b.adminPort)
	}
	b.targets = []*target{
		{name: pathModule, url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", mport), caddy: caddys[0]},
		{name: pathProxy, url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", pport), caddy: caddys[1]},
		{name: pathDirect, url: "http://" + b.addrs.poe + "/bot/", poe: true},
	}
	// One checked answer per path and mode before measuring anything.
	w := &worker{client: newClient(1, false)}
	defer w.client.CloseIdleConnections()
	for _, stream := range []bool{true, false} {
		j := b.mustJob("Chunks-3x16", stream)
		for _, t := range b.targets {
			if _, err := w.do(ctx, t, j, nil); err != nil {
				return fmt.Errorf("%s (stream %v) does not answer correctly: %v", t.name, stream, err)
			}
		}
	}
	return nil
}

// chartSection runs the concurrency sweep and draws the chart.
func (b *bench) chartSection(ctx context.Context) *section {
	s, series := b.sweep(ctx)
	if ctx.Err() != nil {
		return s
	}
	if dir := filepath.Dir(b.cfg.chart); dir != "" {
		_ = os.MkdirAll(dir, 0o750)
	}
	if err := drawChart(b.cfg.chart, b.cfg.streamBot, b.cfg.chartConc, series); err != nil {
		s.errors = append(s.errors, "chart: "+err.Error())
	} else {
		s.notes = append(s.notes, "chart written to "+b.cfg.chart)
	}
	return s
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// commandLine is how the run was started, for BENCHMARKS.md.
func commandLine(args []string) string {
	prog := "go run ./bench"
	if exe, err := os.Executable(); err == nil && !strings.Contains(exe, "go-build") {
		prog = filepath.Base(exe)
	}
	return strings.TrimSpace(prog + " " + strings.Join(args, " "))
}
