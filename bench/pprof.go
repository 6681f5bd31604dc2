package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// With -pprof, the Caddy children run with an admin endpoint on loopback,
// which serves /debug/pprof/ and /debug/vars: the harness saves profiles
// and reads Go's memory statistics there, so that a missed target comes
// with what the owners need to look into it.

// cpuProfile takes a CPU profile of the module's Caddy under scenario 1's
// load, outside the measured rounds.
func (b *bench) cpuProfile(ctx context.Context, name string, j *job, conc int) {
	secs := int(min(max(b.cfg.duration/2, time.Second), 10*time.Second) / time.Second)
	client := newClient(conc, false)
	defer client.CloseIdleConnections()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runLoad(ctx, client, b.targets[0], j, conc, time.Duration(secs)*time.Second+time.Second)
	}()
	b.saveProfile(ctx, b.adminPort, fmt.Sprintf("profile?seconds=%d", secs), name)
	<-done
}

// saveProfile saves /debug/pprof/<what> of the Caddy whose admin endpoint
// is on port into the -pprof directory.
func (b *bench) saveProfile(ctx context.Context, port int, what, name string) {
	file := filepath.Join(b.cfg.pprofDir, name)
	err := adminGet(ctx, port, "/debug/pprof/"+what, func(r io.Reader) error {
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			_ = f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		b.progress("pprof %s: %v", what, err)
		return
	}
	b.progress("profile saved: %s (go tool pprof -top %s)", file, file)
}

func adminGet(ctx context.Context, port int, path string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return read(resp.Body)
}

// forceGC makes the Caddy behind port collect its garbage (a heap profile
// with gc=1 does that first); the profile itself is dropped.
func forceGC(ctx context.Context, port int) {
	_ = adminGet(ctx, port, "/debug/pprof/heap?gc=1", func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
}

// goStats are a Caddy process's Go memory figures and goroutine count.
type goStats struct {
	HeapAlloc, HeapInuse, StackInuse, Sys uint64
	NumGC                                 uint32
	goroutines                            int
}

func readGoStats(ctx context.Context, port int) (goStats, error) {
	var v struct{ Memstats goStats }
	err := adminGet(ctx, port, "/debug/vars", func(r io.Reader) error { return json.NewDecoder(r).Decode(&v) })
	if err != nil {
		return v.Memstats, err
	}
	err = adminGet(ctx, port, "/debug/pprof/goroutine?debug=1", func(r io.Reader) error {
		line, _ := bufio.NewReader(r).ReadString('\n')
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total")))
		v.Memstats.goroutines = n
		return err
	})
	return v.Memstats, err
}

// describeGrowth explains an RSS growth per stream with Go's own figures.
func describeGrowth(before, after goStats, n int) string {
	per := func(a, b uint64) string { return fmt.Sprintf("%.2f kB", (float64(b)-float64(a))/1024/float64(n)) }
	return fmt.Sprintf("per stream: heap in use %s, heap allocated %s, goroutine stacks %s, all memory from the OS %s; goroutines %d -> %d (%.2f per stream), %d GCs while opening",
		per(before.HeapInuse, after.HeapInuse), per(before.HeapAlloc, after.HeapAlloc), per(before.StackInuse, after.StackInuse),
		per(before.Sys, after.Sys), before.goroutines, after.goroutines, float64(after.goroutines-before.goroutines)/float64(n),
		after.NumGC-before.NumGC)
}
