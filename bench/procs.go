package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process the harness started (Caddy or the fake), re-executing
// its own binary so that the load generator, the fake and Caddy each have a
// Go runtime of their own, and Caddy's memory can be read from /proc.
type child struct {
	name   string
	cmd    *exec.Cmd
	logf   string // its stdout and stderr
	exited chan struct{}
	err    error // valid after exited is closed
}

// startChild runs `<this binary> args...` with its output in dir/<name>.log.
func startChild(dir, name string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf := filepath.Join(dir, name+".log")
	out, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	defer func() { _ = out.Close() }() // the child has its own descriptor
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	// Caddy keeps autosave.json and its data under these: keep them in dir.
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir, "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Ctrl-C reaches the harness only; it stops the children itself
		Pdeathsig: syscall.SIGKILL, // and should the harness die, so do they
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", name, err)
	}
	c := &child{name: name, cmd: cmd, logf: logf, exited: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	return c, nil
}

// stop kills the child and waits for it. Caddy keeps nothing worth a
// graceful shutdown here, and open streams would only delay it.
func (c *child) stop() {
	if c == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// rssKB is the child's resident memory (VmRSS), in kB.
func (c *child) rssKB() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

// cpuTime is the CPU time (user + system, all threads) that process pid
// has used, from /proc/<pid>/stat, in clock ticks of 10 ms (USER_HZ is 100
// on Linux).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime, fields 14 and 15 of /proc/<pid>/stat
// (counted after the command name, which may contain spaces).
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed stat %q", stat)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// logTail is the end of the child's output, for error messages.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.logf)
	const n = 2000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// waitHTTP polls url until it answers (any status) or the child exits.
func (c *child) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited (%v):\n%s", c.name, c.err, c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (%v):\n%s", c.name, timeout, err, c.logTail())
		}
	}
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the child binds it; on a benchmark machine that does not
// happen.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// raiseNoFile sets the soft RLIMIT_NOFILE to the hard limit; the children
// inherit it. It returns the limit in force.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// caddyOpts describes one Caddy child.
type caddyOpts struct {
	port     int
	admin    int  // 0: admin off; else the admin (and pprof) port
	h2c      bool // accept HTTP/2 without TLS (the open-streams scenario)
	upH2C    bool // talk HTTP/2 without TLS to the upstream, on both paths
	module   string
	upstream string // reverse_proxy: host:port of the OpenAI mirror

	// The module's `redis` URL ("" = none), rate_limit (0 = unlimited) and
	// max_concurrent (0 = none).
	redis                    string
	rateLimit, maxConcurrent int
}

// caddyfile renders the config: the module, or a plain reverse_proxy.
func (o caddyOpts) caddyfile() string {
	var b strings.Builder
	b.WriteString("{\n")
	if o.admin > 0 {
		fmt.Fprintf(&b, "\tadmin 127.0.0.1:%d\n", o.admin)
	} else {
		b.WriteString("\tadmin off\n")
	}
	b.WriteString("\tauto_https off\n\tpersist_config off\n\tlog {\n\t\tlevel WARN\n\t}\n")
	if o.h2c {
		b.WriteString("\tservers {\n\t\tprotocols h1 h2c\n\t}\n")
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "http://127.0.0.1:%d {\n\tbind 127.0.0.1\n", o.port)
	if o.module != "" {
		// rate_limit 0: unlimited; the fake answers at once, so that only the
		// module's own cost is measured.
		extra := ""
		if o.upH2C {
			extra = "\t\tupstream_h2c\n"
		}
		if o.redis != "" {
			extra += "\t\tredis " + o.redis + "\n"
		}
		if o.maxConcurrent > 0 {
			extra += fmt.Sprintf("\t\tmax_concurrent %d\n", o.maxConcurrent)
		}
		fmt.Fprintf(&b, "\tpoe_openai {\n\t\ttokens %s\n\t\trate_limit %d\n\t\tmax_wait 30s\n\t\tbase_url %s\n%s\t}\n",
			strings.Join(benchTokens, " "), o.rateLimit, o.module, extra)
	} else {
		// The same connection pool sizes as the module's transport, so that
		// neither path pays for reconnecting more than the other.
		versions := ""
		if o.upH2C {
			versions = "\t\t\tversions h2c\n"
		}
		fmt.Fprintf(&b, "\treverse_proxy %s {\n\t\tflush_interval -1\n\t\ttransport http {\n"+
			"\t\t\tkeepalive 90s\n\t\t\tkeepalive_idle_conns 1024\n\t\t\tkeepalive_idle_conns_per_host 256\n%s\t\t}\n\t}\n", o.upstream, versions)
	}
	b.WriteString("}\n")
	return b.String()
}

var benchTokens = []string{"bench-token-1", "bench-token-2", "bench-token-3", "bench-token-4"}

// startCaddy writes the Caddyfile and starts Caddy; it returns once Caddy
// answers HTTP.
func startCaddy(ctx context.Context, dir, name string, o caddyOpts) (*child, error) {
	cfg := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(cfg, []byte(o.caddyfile()), 0o600); err != nil {
		return nil, err
	}
	c, err := startChild(dir, name, "caddy", "run", "--config", cfg, "--adapter", "caddyfile")
	if err != nil {
		return nil, err
	}
	if err := c.waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/v1/models", o.port), 60*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// fakeAddrs are the fake's two listeners.
type fakeAddrs struct{ poe, openai string }

func startFake(ctx context.Context, dir string) (*child, fakeAddrs, error) {
	p1, err1 := freePort()
	p2, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fakeAddrs{}, err
	}
	a := fakeAddrs{fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)}
	c, err := startChild(dir, "fake", "fake", "-poe", a.poe, "-openai", a.openai)
	if err != nil {
		return nil, a, err
	}
	for _, u := range []string{"http://" + a.poe + "/v1/models", "http://" + a.openai + "/"} {
		if err := c.waitHTTP(ctx, u, 30*time.Second); err != nil {
			c.stop()
			return nil, a, err
		}
	}
	return c, a, nil
}

// syscallCounts reads syscr and syscw (read and write system calls) from
// /proc/<pid>/io.
func syscallCounts(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes, nil
}
