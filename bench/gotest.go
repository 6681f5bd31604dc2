package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// moduleRoot finds the directory of this project's go.mod, from the
// working directory up: go test must run there.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/poe-openai/caddy-poe-openai\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the harness inside the project (no go.mod of github.com/poe-openai/caddy-poe-openai above the working directory)")
		}
		dir = parent
	}
}

// goBench runs `go test -run '^$' -bench <pattern> -benchmem <pkg>` (no
// tests, only the benchmark) and returns its result lines and output.
func goBench(ctx context.Context, pattern, pkg string) ([]benchLine, string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", pattern, "-benchmem", pkg)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out), fmt.Errorf("go test %s: %v", pkg, err)
	}
	return parseBenchOutput(string(out)), string(out), nil
}

// scenarioPool is scenario 5: the token pool's benchmark.
func (b *bench) scenarioPool(ctx context.Context) *section {
	const pattern, pkg = "AcquireRelease/tokens=10000", "./tokenpool/"
	s := &section{
		id:     5,
		title:  "Token choice",
		params: fmt.Sprintf("go test -run '^$' -bench '%s' -benchmem %s (the pattern also matches AcquireReleaseLimited)", pattern, pkg),
		header: []string{"benchmark", "ns/op", "B/op", "allocs/op"},
	}
	b.progress("5 pool: go test -bench %s %s", pattern, pkg)
	lines, out, err := goBench(ctx, pattern, pkg)
	if err != nil {
		s.errors = append(s.errors, err.Error()+": "+lastLines(out, 5))
		return s
	}
	for _, l := range lines {
		s.rows = append(s.rows, []string{l.Name, metric(l, "ns/op"), metric(l, "B/op"), metric(l, "allocs/op")})
	}
	if len(lines) == 0 {
		s.errors = append(s.errors, "no benchmark result in the output: "+lastLines(out, 5))
	}
	return s
}

// sectionAllocs runs relay's BenchmarkHotPath, where one iteration is one
// chunk, and checks the target of at most 2 allocations per chunk.
func (b *bench) sectionAllocs(ctx context.Context) *section {
	const pattern, pkg = "HotPath", "./relay/"
	s := &section{
		title:  "Allocations per streamed chunk",
		params: fmt.Sprintf("go test -run '^$' -bench %s -benchmem %s", pattern, pkg),
		header: []string{"benchmark", "allocs per chunk", "all metrics"},
	}
	b.progress("allocs: go test -bench %s %s", pattern, pkg)
	lines, out, err := goBench(ctx, pattern, pkg)
	if err != nil {
		s.rows = append(s.rows, []string{"BenchmarkHotPath", "n/a", "-"})
		s.errors = append(s.errors, err.Error()+": "+lastLines(out, 5))
		return s
	}
	if len(lines) == 0 {
		s.rows = append(s.rows, []string{"BenchmarkHotPath", "n/a", "(no such benchmark yet)"})
	}
	for _, l := range lines {
		var all []string
		perChunk := "n/a"
		for _, u := range l.Units {
			all = append(all, fmt.Sprintf("%g %s", l.Metrics[u], u))
			if strings.HasPrefix(u, "allocs/") && (u == "allocs/chunk" || perChunk == "n/a") {
				perChunk = fmt.Sprintf("%g (%s)", l.Metrics[u], u)
			}
		}
		s.rows = append(s.rows, []string{l.Name, perChunk, strings.Join(all, ", ")})
		allocs, ok := l.Metrics["allocs/op"]
		s.verdicts = append(s.verdicts, verdict{
			target:   fmt.Sprintf("%s: <= 2 allocations per streamed chunk", l.Name),
			measured: perChunk,
			pass:     ok && allocs <= 2,
		})
	}
	return s
}

func metric(l benchLine, unit string) string {
	v, ok := l.Metrics[unit]
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%g", v)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
