package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

// TestMain lets the test binary stand in for the bench binary when the
// end-to-end test starts its children (`fake`, `caddy`).
func TestMain(m *testing.M) {
	if handled, code := childMain(os.Args[1:]); handled {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Microsecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Microsecond}, {99, 99 * time.Microsecond}, {100, 100 * time.Microsecond}, {0, time.Microsecond}, {0.5, time.Microsecond}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if s[0] != 100*time.Microsecond {
		t.Error("percentile sorted its input")
	}
	if percentile(nil, 50) != 0 || percentile([]time.Duration{7}, 99) != 7 {
		t.Error("edge cases")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tcaddy\nVmPeak:\t  900000 kB\nVmRSS:\t   64608 kB\nRssAnon:\t   50000 kB\n"
	if kb, err := parseVmRSS(status); err != nil || kb != 64608 {
		t.Fatalf("got %d, %v", kb, err)
	}
	if _, err := parseVmRSS("Name:\tx\n"); err == nil {
		t.Fatal("no VmRSS line: want an error")
	}
	if _, err := parseVmRSS("VmRSS:\t12 MB\n"); err == nil {
		t.Fatal("wrong unit: want an error")
	}
	// The real thing, for this process.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	if kb, err := parseVmRSS(string(b)); err != nil || kb <= 0 {
		t.Fatalf("/proc/self/status: %d, %v", kb, err)
	}
}

func TestParseBenchOutput(t *testing.T) {
	out := `goos: linux
BenchmarkAcquireRelease/tokens=10000-2         	 2362374	       506.2 ns/op	      48 B/op	       1 allocs/op
BenchmarkHotPath/plain-2   	 2753424	       435.5 ns/op	       221 bytes/chunk	      94 B/op	       0 allocs/op
BenchmarkBroken-2   	 12	 abc ns/op
PASS
ok  	github.com/poe-openai/caddy-poe-openai/tokenpool	3.1s`
	lines := parseBenchOutput(out)
	if len(lines) != 2 {
		t.Fatalf("%d lines: %+v", len(lines), lines)
	}
	if l := lines[0]; l.Name != "BenchmarkAcquireRelease/tokens=10000-2" || l.N != 2362374 || l.Metrics["ns/op"] != 506.2 || l.Metrics["allocs/op"] != 1 {
		t.Errorf("%+v", l)
	}
	if l := lines[1]; l.Metrics["bytes/chunk"] != 221 || len(l.Units) != 4 {
		t.Errorf("%+v", l)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-quick", "-streams", "50", "-scenario", "stream,4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.duration != time.Second || len(cfg.streams) != 1 || cfg.streams[0] != 50 || !cfg.scenarios[1] || !cfg.scenarios[4] || cfg.scenarios[2] {
		t.Errorf("%+v", cfg)
	}
	for _, bad := range [][]string{{"-scenario", "7"}, {"-streams", "0"}, {"-open-bot", "Slow-1s"}, {"-open-proto", "h3"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// TestFindValue compares the scanner with encoding/json.
func TestFindValue(t *testing.T) {
	docs := []string{
		`{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"héllo \"w\"\n\\ \u00e9\ud83d\ude00 \/"},"finish_reason":null}]}`,
		`{"choices":[{"delta":{"reasoning_content":"no","content":"yes"},"finish_reason":"stop"}]}`,
		`{"text": "0.bcdefghijklmno"}`,
		`{"a":"\"content\":\"fake\"","content" :  "real"}`,
		`{"content":null}`,
		`{"content":"bad \ud83d surrogate"}`,
	}
	want := []string{"héllo \"w\"\n\\ é😀 /", "yes", "0.bcdefghijklmno", "real", "", "bad \ufffd surrogate"}
	keys := []string{"content", "content", "text", "content", "content", "content"}
	for i, d := range docs {
		var scratch []byte
		raw := findValue([]byte(d), keys[i])
		if string(raw) == "null" {
			continue
		}
		got, err := unquote(raw, &scratch)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if string(got) != want[i] {
			t.Errorf("%s: got %q, want %q", d, got, want[i])
		}
		// encoding/json agrees on the value.
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || v != string(got) {
			t.Errorf("%s: encoding/json reads %q (%v), scanner %q", d, v, err, got)
		}
	}
	if findValue([]byte(`{"object":"x"}`), "content") != nil {
		t.Error("absent key found")
	}
}

// openAIStream renders a stream as the module writes it.
func openAIStream(pieces []string, finish, done bool) string {
	var b strings.Builder
	head := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{`
	for i, p := range pieces {
		q, _ := json.Marshal(p)
		role := ""
		if i == 0 {
			role = `"role":"assistant",`
		}
		fmt.Fprintf(&b, "%s%s\"content\":%s},\"logprobs\":null,\"finish_reason\":null}]}\n\n", head, role, q)
	}
	b.WriteString(": keep-alive\n\n")
	if finish {
		fmt.Fprintf(&b, "%s},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n", head)
	}
	if done {
		b.WriteString("data: [DONE]\n\n")
	}
	return b.String()
}

func checkOpenAI(body, want string, strict bool) error {
	w := &worker{}
	w.check.reset([]byte(want), nil, strict)
	if err := w.readStream(strings.NewReader(body), false); err != nil {
		return err
	}
	return w.check.complete()
}

func TestCheckOpenAIStream(t *testing.T) {
	pieces := []string{"Hel", "lo \"", "wörld\n"}
	want := strings.Join(pieces, "")
	for _, strict := range []bool{false, true} {
		if err := checkOpenAI(openAIStream(pieces, true, true), want, strict); err != nil {
			t.Errorf("strict %v: good stream: %v", strict, err)
		}
		for name, body := range map[string]string{
			"wrong content": openAIStream([]string{"Hel", "lo \"", "world\n"}, true, true),
			"short":         openAIStream(pieces[:2], true, true),
			"long":          openAIStream(append(pieces, "!"), true, true),
			"no finish":     openAIStream(pieces, false, true),
			"no done":       openAIStream(pieces, true, false),
			"after done":    openAIStream(pieces, true, true) + "data: {}\n\n",
			"bad line":      "event: x\n" + openAIStream(pieces, true, true),
			"not a chunk":   strings.Replace(openAIStream(pieces, true, true), "chat.completion.chunk", "chat.completion", 1),
		} {
			if err := checkOpenAI(body, want, strict); err == nil {
				t.Errorf("strict %v: %s: no error", strict, name)
			}
		}
	}
	// Only the strict check sees a broken shape the fast path ignores.
	twoChoices := strings.Replace(openAIStream(pieces, true, true), `"finish_reason":null}]`, `"finish_reason":null},{"index":1}]`, 1)
	if err := checkOpenAI(twoChoices, want, false); err != nil {
		t.Errorf("fast path: %v", err)
	}
	if err := checkOpenAI(twoChoices, want, true); err == nil {
		t.Error("strict: two choices accepted")
	}
}

func TestCheckCompletion(t *testing.T) {
	good := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a\"b"},"finish_reason":"stop"}]}`
	for _, strict := range []bool{false, true} {
		var c answerCheck
		c.reset([]byte(`a"b`), nil, strict)
		if err := c.completion([]byte(good)); err != nil || c.complete() != nil {
			t.Errorf("strict %v: %v", strict, err)
		}
		for _, bad := range []string{
			strings.Replace(good, `a\"b`, `ab`, 1),
			strings.Replace(good, `"stop"`, `"length"`, 1),
			strings.Replace(good, `"chat.completion"`, `"chat.completion.chunk"`, 1),
		} {
			c.reset([]byte(`a"b`), nil, strict)
			if err := c.completion([]byte(bad)); err == nil {
				t.Errorf("strict %v: %s accepted", strict, bad)
			}
		}
	}
}

// TestCheckPoeStream feeds the fake's own wire bytes to the Poe checker.
func TestCheckPoeStream(t *testing.T) {
	fake := poefake.New(poefake.Options{})
	sc, ok := fake.Script("Chunks-20x7", nil)
	if !ok {
		t.Fatal("no Chunks bot")
	}
	j, err := newJob("Chunks-20x7", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []poefake.Framing{poefake.CRLF, poefake.LF} {
		wire := string(sc.Bytes(f))
		for _, strict := range []bool{false, true} {
			w := &worker{}
			w.check.reset(j.want, nil, strict)
			if err := w.readStream(strings.NewReader(wire), true); err != nil || w.check.complete() != nil || w.check.pieces != 20 {
				t.Errorf("%v strict %v: %v / %v, %d pieces", f, strict, err, w.check.complete(), w.check.pieces)
			}
		}
		bad := map[string]string{
			"no done":     wire[:strings.LastIndex(wire, "event: done")],
			"wrong text":  strings.Replace(wire, poefake.ChunkText(3, 7), "3.wrong", 1),
			"error event": strings.Replace(wire, "event: done", "event: error", 1),
		}
		for name, body := range bad {
			w := &worker{}
			w.check.reset(j.want, nil, false)
			err := w.readStream(strings.NewReader(body), true)
			if err == nil {
				err = w.check.complete()
			}
			if err == nil {
				t.Errorf("%v: %s: no error", f, name)
			}
		}
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 10000)
	var l lineReader
	l.reset(strings.NewReader("a\r\n\r\n" + long + "\nlast"))
	var got []string
	for {
		line, err := l.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	if len(got) != 4 || got[0] != "a" || got[1] != "" || got[2] != long || got[3] != "last" {
		t.Fatalf("%d lines: %q", len(got), got)
	}
}

// TestCaddyfiles adapts both configs with Caddy's own adapter, so that a
// renamed subdirective of the module fails here and not in the middle of a
// run.
func TestCaddyfiles(t *testing.T) {
	for _, tc := range []struct {
		o    caddyOpts
		want []string
	}{
		{caddyOpts{port: 8080, module: "http://127.0.0.1:9000"}, []string{`"handler":"poe_openai"`, `"rate_limit":0`, `"base_url":"http://127.0.0.1:9000"`}},
		{caddyOpts{port: 8080, module: "http://127.0.0.1:9000", admin: 2019, h2c: true}, []string{`"h2c"`, `"listen":"127.0.0.1:2019"`}},
		{caddyOpts{port: 8080, module: "http://127.0.0.1:9000", redis: "redis://127.0.0.1:6390/0", rateLimit: 1000000, maxConcurrent: 100000},
			[]string{`"redis":"redis://127.0.0.1:6390/0"`, `"rate_limit":1000000`, `"max_concurrent":100000`}},
		{caddyOpts{port: 8081, upstream: "127.0.0.1:9001"}, []string{`"handler":"reverse_proxy"`, `"flush_interval":-1`, `"max_idle_conns_per_host":256`}},
	} {
		cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.o.caddyfile()), nil)
		if err != nil {
			t.Fatalf("%s\n%v", tc.o.caddyfile(), err)
		}
		if len(warnings) > 0 {
			t.Errorf("warnings: %v", warnings)
		}
		for _, w := range tc.want {
			if !bytes.Contains(cfg, []byte(w)) {
				t.Errorf("adapted config lacks %s:\n%s", w, cfg)
			}
		}
	}
}

// TestQuickEndToEnd runs `bench -quick` for real: the fake, two Caddys,
// every scenario, the chart and the markdown. Opt in with POE_BENCH=1 (it
// takes about half a minute and starts processes).
func TestQuickEndToEnd(t *testing.T) {
	if testing.Short() || os.Getenv("POE_BENCH") != "1" {
		t.Skip("set POE_BENCH=1 (and no -short) to run the harness end to end")
	}
	dir := t.TempDir()
	cfg, err := parseFlags([]string{"-quick", "-chart", filepath.Join(dir, "chart.png"), "-markdown", filepath.Join(dir, "BENCHMARKS.md")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := runBench(ctx, cfg, &out, io.Discard)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for _, s := range res.sections {
		ids[s.id] = true
		for _, v := range s.verdicts {
			// Quick figures are noise; wrong answers never are.
			if strings.HasPrefix(v.target, "every answer") || strings.HasPrefix(v.target, "all ") {
				if !v.pass {
					t.Errorf("%s: %s: %s", s.heading(), v.target, v.measured)
				}
			}
		}
		if s.id == 5 && len(s.rows) == 0 {
			t.Errorf("scenario 5 has no benchmark result: %v", s.errors)
		}
	}
	for id := range 6 {
		if !ids[id] {
			t.Errorf("no section %d", id)
		}
	}
	for _, f := range []string{"chart.png", "BENCHMARKS.md"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "1234 (bench caddy) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	if d, err := parseStatCPU(stat); err != nil || d != 3*time.Second {
		t.Fatalf("got %v, %v; want 3s (300 ticks)", d, err)
	}
	if _, err := parseStatCPU("1234 (x) S 1"); err == nil {
		t.Fatal("short stat: want an error")
	}
	if d, err := cpuTime(os.Getpid()); err != nil || d < 0 {
		t.Fatalf("own CPU time: %v, %v", d, err)
	}
}

// BenchmarkCheckStream is the load generator's own cost to read and check
// one 200-chunk answer (fast path): it must stay small next to Caddy's.
func BenchmarkCheckStream(b *testing.B) {
	j, err := newJob("Chunks-200x16", true)
	if err != nil {
		b.Fatal(err)
	}
	pieces := make([]string, j.n)
	for i := range pieces {
		pieces[i] = poefake.ChunkText(i, j.size)
	}
	body := openAIStream(pieces, true, true)
	w := &worker{answers: 1} // never strict
	r := strings.NewReader(body)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(body)
		w.check.reset(j.want, nil, false)
		if err := w.readStream(r, false); err != nil || w.check.complete() != nil {
			b.Fatal(err, w.check.complete())
		}
	}
}
