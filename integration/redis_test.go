package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// The Redis tests run three Caddy processes (Caddy holds one config per
// process) sharing one redis-server, against one fake Poe in this process.

var (
	caddyOnce sync.Once
	caddyBin  string
	caddyErr  error
)

// caddyBinary builds cmd/caddy once per test run.
func caddyBinary(t *testing.T) string {
	t.Helper()
	caddyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "poe-openai-caddy-")
		if err != nil {
			caddyErr = err
			return
		}
		caddyBin = filepath.Join(dir, "caddy")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-o", caddyBin, "./cmd/caddy")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			caddyErr = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
		}
	})
	if caddyErr != nil {
		t.Fatal(caddyErr)
	}
	return caddyBin
}

// caddyProc is one Caddy process; its log (stderr, JSON) is kept so the
// test can wait for a line instead of sleeping.
type caddyProc struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	log     strings.Builder
	changed chan struct{} // closed and replaced on every line
	exited  chan struct{}
}

// procGlobals is the global options block of a Caddy process: its own
// admin port, no HTTPS, logs as JSON on stderr (caddyProc reads them), and
// storage in dir (a fresh one when ""), so that no two tests share usage
// counts through Caddy's default storage.
func procGlobals(t *testing.T, dir string) string {
	if dir == "" {
		dir = t.TempDir()
	}
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	grace_period 1ns
	storage file_system %s
	log {
		output stderr
		format json
	}
}
`, freePort(), dir)
}

func startCaddyProc(t *testing.T, bin, config string, env []string) *caddyProc {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	stderr, _ := cmd.StderrPipe()
	p := &caddyProc{cmd: cmd, changed: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("caddy log:\n%s", p.logs())
		}
	})
	p.waitLog(t, "serving initial configuration", 1, time.Now().Add(30*time.Second))
	return p
}

func (p *caddyProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits until the log holds substr n times, or fails at deadline.
func (p *caddyProc) waitLog(t *testing.T, substr string, n int, deadline time.Time) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		p.mu.Lock()
		got := strings.Count(p.log.String(), substr)
		ch := p.changed
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-p.exited:
			t.Fatalf("caddy exited waiting for %q", substr)
		case <-timer.C:
			t.Fatalf("no %q in the log in time", substr)
		}
	}
}

type reply struct {
	status     int
	retryAfter string
	body       string
}

var redisTestClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: 60 * time.Second}

func chat(t *testing.T, base, key, model string) reply {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := redisTestClient.Do(req)
	if err != nil {
		return reply{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
}

// burstOver sends n requests at once, request i to bases[i%len(bases)].
func burstOver(t *testing.T, bases []string, n int, key, model string) []reply {
	out := make([]reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = chat(t, bases[i%len(bases)], key, model)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts 200s and checks that everything else is a 429 with
// Retry-After.
func tally(t *testing.T, rs []reply) (served int) {
	t.Helper()
	for _, r := range rs {
		switch {
		case r.status == 200:
			served++
		case r.status == 429 && r.retryAfter != "":
		default:
			t.Errorf("status %d (Retry-After %q): %s", r.status, r.retryAfter, r.body)
		}
	}
	return served
}

func startsSince(fake *poefake.Server, token string, since time.Time) []time.Time {
	var out []time.Time
	for _, s := range fake.Starts(token) {
		if !s.Before(since) {
			out = append(out, s)
		}
	}
	return out
}

// The sites every instance serves, one per scenario; %[1]s is the fake
// Poe, ports come from the instance. redis_timeout is long so that a busy
// test machine never looks like an outage: a killed Redis refuses
// connections at once anyway.
const redisSites = `
http://127.0.0.1:%[2]d {
	poe_openai {
		tokens tok-rate-1 tok-rate-2
		rate_limit 20
		base_url %[1]s
		redis {env.POE_REDIS_URL}
		redis_timeout 1s
	}
}
http://127.0.0.1:%[3]d {
	poe_openai {
		tokens tok-cool
		cool_down 1s
		max_wait 30s
		base_url %[1]s
		redis {env.POE_REDIS_URL}
		redis_timeout 1s
	}
}
http://127.0.0.1:%[4]d {
	poe_openai {
		tokens tok-client
		auth_keys sk-client
		client_rate_limit 2
		base_url %[1]s
		redis {env.POE_REDIS_URL}
		redis_timeout 1s
	}
}
http://127.0.0.1:%[5]d {
	poe_openai {
		tokens tok-nopoints tok-points
		# No balance read at start (that would set the key aside before
		# any request): this site tests the in-request path, where Poe's
		# "not enough points" is confirmed once and shared through Redis.
		points_check 0
		base_url %[1]s
		redis {env.POE_REDIS_URL}
		redis_timeout 1s
	}
}
http://127.0.0.1:%[6]d {
	poe_openai {
		tokens tok-out-1 tok-out-2
		rate_limit 20
		base_url %[1]s
		redis {env.POE_REDIS_URL}
		redis_timeout 1s
	}
}
`

func TestRedisSharedPool(t *testing.T) {
	red := redistest.Start(t)
	bin := caddyBinary(t)
	arrived := make(chan string, 256)
	fake, fakeURL := fakePoe(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/bot/") {
				select {
				case arrived <- r.URL.Path:
				default:
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	fake.SetToken("tok-nopoints", poefake.TokenNoPoints)
	env := []string{fmt.Sprintf("POE_REDIS_URL=redis://127.0.0.1:%d/0", red.Port)}

	const scenarios = 5
	var procs []*caddyProc
	sites := make([][]string, scenarios) // per scenario, the three instances' base URLs
	for range 3 {
		ports := make([]any, scenarios)
		for i := range ports {
			ports[i] = freePort()
			sites[i] = append(sites[i], fmt.Sprintf("http://127.0.0.1:%d", ports[i]))
		}
		config := procGlobals(t, "") + fmt.Sprintf(redisSites, append([]any{fakeURL}, ports...)...)
		procs = append(procs, startCaddyProc(t, bin, config, env))
	}
	for _, p := range procs {
		if !strings.Contains(p.logs(), "key pool state shared through redis") || strings.Contains(p.logs(), "unreachable") {
			t.Fatalf("not on redis at start:\n%s", p.logs())
		}
	}

	t.Run("rate_limit", func(t *testing.T) {
		rs := burstOver(t, sites[0], 120, "", "Echo")
		served := tally(t, rs)
		for _, tok := range []string{"tok-rate-1", "tok-rate-2"} {
			if n := poefake.MaxInWindow(fake.Starts(tok), time.Minute); n > 20 {
				t.Errorf("%s started %d times in 60 s", tok, n)
			}
		}
		if served < 36 {
			t.Errorf("served %d, want >= 36", served)
		}
		t.Logf("served %d of 120", served)
	})

	t.Run("cool_down", func(t *testing.T) {
		rs := burstOver(t, append(sites[1], sites[1][0]), 4, "", "Echo")
		if served := tally(t, rs); served != 4 {
			t.Errorf("served %d of 4", served)
		}
		starts := fake.Starts("tok-cool")
		if len(starts) != 4 || poefake.MinGap(starts) < time.Second {
			t.Errorf("%d starts, min gap %v", len(starts), poefake.MinGap(starts))
		}
	})

	t.Run("client_rate_limit", func(t *testing.T) {
		for i, base := range sites[2] {
			r := chat(t, base, "sk-client", "Echo")
			switch {
			case i < 2 && r.status != 200:
				t.Errorf("request %d: %d %s", i, r.status, r.body)
			case i == 2 && (r.status != 429 || r.retryAfter == ""):
				t.Errorf("third request across instances: %d (Retry-After %q)", r.status, r.retryAfter)
			}
		}
	})

	t.Run("out_of_points", func(t *testing.T) {
		for i := range 6 {
			if r := chat(t, sites[3][i%3], "", "Echo"); r.status != 200 {
				t.Errorf("request %d: %d %s", i, r.status, r.body)
			}
		}
		if n := len(fake.Starts("tok-nopoints")); n != 1 {
			t.Errorf("the key out of points was used %d times, want 1 cluster-wide", n)
		}
	})

	t.Run("redis_outage", func(t *testing.T) {
		for len(arrived) > 0 {
			<-arrived
		}
		// Twelve slow requests in flight, then Redis dies under them.
		inflight := make(chan []reply, 1)
		go func() { inflight <- burstOver(t, sites[4], 12, "", "Slow-1s") }()
		for range 12 {
			select {
			case <-arrived:
			case <-time.After(20 * time.Second):
				t.Fatal("the slow requests did not reach the fake")
			}
		}
		red.Kill()
		during := burstOver(t, sites[4], 18, "", "Echo")
		for i, r := range append(<-inflight, during...) {
			if r.status != 200 {
				t.Errorf("request %d during the outage: %d %s", i, r.status, r.body)
			}
		}
		for i, p := range procs {
			if n := strings.Count(p.logs(), "shared state (redis) unreachable"); n != 1 {
				t.Errorf("instance %d logged %d outage warnings, want 1", i, n)
			}
		}

		red.Start()
		back := time.Now()
		for _, p := range procs {
			p.waitLog(t, "shared state (redis) answers again", 1, back.Add(5*time.Second))
		}
		rs := burstOver(t, sites[4], 60, "", "Echo")
		served := tally(t, rs)
		for _, tok := range []string{"tok-out-1", "tok-out-2"} {
			if n := len(startsSince(fake, tok, back)); n > 20 {
				t.Errorf("%s started %d times since Redis came back, want <= 20", tok, n)
			}
		}
		if served < 36 {
			t.Errorf("served %d after the return, want >= 36", served)
		}
		for i, p := range procs {
			if n := strings.Count(p.logs(), "shared state (redis) unreachable"); n != 1 {
				t.Errorf("instance %d: %d outage warnings after the return", i, n)
			}
		}
	})
}
