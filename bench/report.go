package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

var pathNames = []string{pathModule, pathProxy, pathDirect}

// section is one scenario's results.
type section struct {
	id       int // scenario number; 0 for the chart data
	title    string
	params   string
	header   []string
	rows     [][]string
	ratios   []string
	notes    []string
	errors   []string // first distinct failure messages
	verdicts []verdict
}

// verdict is one target, or the check that every answer was right.
type verdict struct {
	target   string
	measured string
	pass     bool
}

func (v verdict) word() string {
	if v.pass {
		return "PASS"
	}
	return "FAIL"
}

// correctness is the verdict every scenario gets: a failed answer fails it.
func correctness(answers, failed int) verdict {
	return verdict{
		target:   "every answer complete and correct",
		measured: fmt.Sprintf("%d failed, %d checked", failed, answers),
		pass:     failed == 0 && answers > 0,
	}
}

func (s *section) addCorrectness(res map[string]*pathResult) { s.addCorrectnessOf(res, pathNames) }

func (s *section) addCorrectnessOf(res map[string]*pathResult, names []string) {
	answers, failed := 0, 0
	for _, name := range names {
		p := res[name]
		answers += p.answers
		failed += p.errs.n
		for _, m := range p.errs.first {
			s.errors = append(s.errors, name+": "+m)
		}
	}
	s.verdicts = append(s.verdicts, correctness(answers, failed))
}

func (s *section) heading() string {
	if s.id > 0 {
		return fmt.Sprintf("Scenario %d: %s", s.id, s.title)
	}
	return s.title
}

// writeText prints the section as an aligned table.
func (s *section) writeText(w io.Writer) {
	fmt.Fprintf(w, "\n== %s ==\n%s\n\n", s.heading(), s.params)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(s.header, "\t"))
	for _, r := range s.rows {
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	if len(s.ratios) > 0 {
		fmt.Fprintln(w)
	}
	for _, r := range s.ratios {
		fmt.Fprintln(w, "  "+r)
	}
	for _, n := range s.notes {
		fmt.Fprintln(w, "  note: "+n)
	}
	for _, e := range s.errors {
		fmt.Fprintln(w, "  failure: "+e)
	}
	if len(s.verdicts) > 0 {
		fmt.Fprintln(w)
	}
	for _, v := range s.verdicts {
		fmt.Fprintf(w, "  %s  %s: %s\n", v.word(), v.target, v.measured)
	}
}

// writeMarkdown renders the section for BENCHMARKS.md.
func (s *section) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "\n### %s\n\n%s\n\n", s.heading(), s.params)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(s.header, " | "), strings.Repeat(" --- |", len(s.header)))
	for _, r := range s.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	if len(s.ratios)+len(s.notes)+len(s.errors) > 0 {
		fmt.Fprintln(w)
	}
	for _, r := range s.ratios {
		fmt.Fprintf(w, "- %s\n", r)
	}
	for _, n := range s.notes {
		fmt.Fprintf(w, "- Note: %s\n", n)
	}
	for _, e := range s.errors {
		fmt.Fprintf(w, "- Failure: `%s`\n", strings.ReplaceAll(e, "`", "'"))
	}
	if len(s.verdicts) > 0 {
		fmt.Fprintf(w, "\n| target | measured | verdict |\n| --- | --- | --- |\n")
	}
	for _, v := range s.verdicts {
		fmt.Fprintf(w, "| %s | %s | **%s** |\n", v.target, v.measured, v.word())
	}
}

// summary prints every verdict; it returns how many failed.
func summary(w io.Writer, sections []*section, quick bool) int {
	fmt.Fprintln(w, "\n== Targets ==")
	if quick {
		fmt.Fprintln(w, "  (-quick: a smoke run; its figures are too short to be measurements)")
	}
	failed := 0
	for _, s := range sections {
		for _, v := range s.verdicts {
			name := s.title
			if s.id > 0 {
				name = fmt.Sprintf("scenario %d", s.id)
			}
			fmt.Fprintf(w, "  %s  %s: %s: %s\n", v.word(), name, v.target, v.measured)
			if !v.pass {
				failed++
			}
		}
	}
	return failed
}

// machine describes where the run happened.
type machine struct {
	cpu    string
	cores  int
	memory string
	goVer  string
	caddy  string
}

func describeMachine() machine {
	m := machine{cpu: "unknown", cores: runtime.NumCPU(), memory: "unknown", goVer: runtime.Version(), caddy: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) == 2 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
					}
				}
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/caddyserver/caddy/v2" {
				m.caddy = d.Version
				if d.Replace != nil {
					m.caddy += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
	}
	return m
}

// writeMarkdownFile writes BENCHMARKS.md.
func writeMarkdownFile(file string, m machine, cmdline string, when time.Time, took time.Duration, sections []*section, chart string, quick bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Generated by the harness in `bench/` on %s (the run took %s). ", when.UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "Every figure below is as measured in that run.\n\n")
	if quick {
		fmt.Fprintf(&b, "> This was a `-quick` smoke run: its figures are too short to be measurements.\n\n")
	}
	fmt.Fprintf(&b, "## Machine\n\n- CPU: %s\n- Cores: %d\n- Memory: %s\n- Go: %s\n- Caddy: %s\n- Command: `%s`\n",
		m.cpu, m.cores, m.memory, m.goVer, m.caddy, cmdline)
	fmt.Fprintf(&b, "\n## How\n\n%s\n", method)
	fmt.Fprintf(&b, "\n## Results\n")
	for _, s := range sections {
		s.writeMarkdown(&b)
	}
	if chart != "" {
		rel, err := filepath.Rel(filepath.Dir(file), chart)
		if err != nil {
			rel = chart
		}
		fmt.Fprintf(&b, "\n## Chart\n\n![chunks per second against concurrency](%s)\n", filepath.ToSlash(rel))
	}
	return os.WriteFile(file, []byte(b.String()), 0o644) //nolint:gosec // a report for people to read
}

const method = `Three processes share the machine: the load generator (` + "`bench`" + `), the fake Poe ` +
	"(`internal/poefake`, with its OpenAI mirror on a second port)" + ` and Caddy, each with its own Go runtime. Three paths are measured with the same load, interleaved:

- **module**: client -> Caddy ` + "`poe_openai`" + ` -> fake Poe (Poe's SSE); the client reads OpenAI chunks.
- **reverse_proxy**: client -> Caddy ` + "`reverse_proxy`" + ` -> the fake's OpenAI mirror, which serves the same answers (same chunk count and sizes) already as ` + "`chat.completion.chunk`" + `s, pre-encoded: the floor, what any Caddy handler costs with no conversion.
- **direct**: client -> fake Poe, reading Poe's own SSE.

The client reads every answer to its end and checks it: the concatenated content must equal the expected text, the stream must end with a finish and ` + "`data: [DONE]`" + ` (Poe: ` + "`event: done`" + `); one answer in 64 per client is also decoded in full with encoding/json. A failed answer fails its scenario.`

func rate(x float64) string { return fmt.Sprintf("%.1f", x) }

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", a/b)
}

func rateList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, " ")
}
