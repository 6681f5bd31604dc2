package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

// statusJSON is the part of GET /poe_openai/status the tests read.
type statusJSON struct {
	Handlers []struct {
		ID          int    `json:"id"`
		Site        string `json:"site"`
		PointsFloor int64  `json:"points_floor"`
		PointsCheck string `json:"points_check"`
		Keys        []struct {
			Fingerprint    string     `json:"fingerprint"`
			State          string     `json:"state"`
			Reason         string     `json:"reason"`
			Until          *time.Time `json:"until"`
			StartsInWindow int        `json:"starts_in_window"`
			InFlight       int        `json:"in_flight"`
			Points         *int64     `json:"points"`
			LastError      string     `json:"last_error"`
		} `json:"keys"`
		Clients []struct {
			Name  string `json:"name"`
			Today struct {
				Requests int64 `json:"requests"`
				Tokens   int64 `json:"tokens"`
			} `json:"today"`
			Month struct {
				Requests int64 `json:"requests"`
				Tokens   int64 `json:"tokens"`
			} `json:"month"`
			Budgets []struct {
				Budget string `json:"budget"`
				Used   int64  `json:"used"`
				Left   int64  `json:"left"`
			} `json:"budgets"`
			RateUsed int `json:"rate_used"`
			Daily    []struct {
				Date   string `json:"date"`
				Tokens int64  `json:"tokens"`
			} `json:"daily"`
		} `json:"clients"`
	} `json:"handlers"`
}

// v1Message asks the fake's bot V1, which says hello.
func v1Message(text string) openai.ChatCompletionNewParams {
	p := userMessage(text)
	p.Model = "V1"
	return p
}

func adminURL(path string) string { return fmt.Sprintf("http://localhost:%d%s", adminPort, path) }

// readStatus fetches the admin endpoint's JSON; raw is the body as sent.
func readStatus(t *testing.T) (st statusJSON, raw string) {
	t.Helper()
	resp, err := http.Get(adminURL("/poe_openai/status"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw = readAll(t, resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return st, raw
}

// waitStatus polls the status until ok holds, with a deadline.
func waitStatus(t *testing.T, d time.Duration, what string, ok func(statusJSON) bool) statusJSON {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, raw := readStatus(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; status %s", what, d, raw)
		}
		time.Sleep(50 * time.Millisecond) // polling, not synchronising
	}
}

// keyState is one key's state, reason and points in handler 0.
func keyState(st statusJSON, fp string) (state, reason string, points int64) {
	if len(st.Handlers) == 0 {
		return
	}
	for _, k := range st.Handlers[0].Keys {
		if k.Fingerprint == fp {
			points = -1
			if k.Points != nil {
				points = *k.Points
			}
			return k.State, k.Reason, points
		}
	}
	return
}

// The scripted scenario of issue 11: a key out of points (set aside at
// provision, back once its balance rises), a key cooling after Poe's 429,
// a client over its budget; the JSON from the admin endpoint, the page in
// a real headless Chromium, and the points metric.
func TestStatusScenario(t *testing.T) {
	browser := findChromium(t) // before a minute of waiting, not after
	fake, url := fakePoe(t, nil)
	fake.SetBalance("key-poor", 0)
	fake.SetToken("key-cool", poefake.TokenRateLimited)
	fake.SetRateLimitReset(10 * time.Minute) // cooling for the whole test
	// Usage is saved to Caddy's storage: the test's own, so that earlier
	// runs do not count.
	s := startCaddyWith(t, url, "storage file_system "+t.TempDir(), `poe_openai {
	poe_keys key-poor key-cool key-ok
	base_url {FAKE}
	points_check 1m
	client alice sk-alice {
		budget 1 requests per day
	}
	client bob sk-bob {
		budget 1000000 tokens per month
	}
}
`+statusProxy())
	fpPoor, fpCool, fpOK := poefake.TokenFingerprint("key-poor"), poefake.TokenFingerprint("key-cool"), poefake.TokenFingerprint("key-ok")

	// Read at provision: the empty key is set aside, the others read.
	st := waitStatus(t, 10*time.Second, "the empty key set aside at provision", func(st statusJSON) bool {
		state, reason, _ := keyState(st, fpPoor)
		_, _, okPoints := keyState(st, fpOK)
		return state == "quarantined" && reason == "insufficient_points" && okPoints == 1000
	})
	if h := st.Handlers[0]; h.PointsCheck != "1m0s" || h.PointsFloor != 0 || len(h.Keys) != 3 || !strings.Contains(h.Site, "localhost") {
		t.Fatalf("handler %+v", h)
	}
	startedPoor := time.Now()
	fake.SetBalance("key-poor", 500) // topped up: back at the next round

	// bob's requests go to key-cool and key-ok; key-cool answers 429 and
	// cools, the request fails over.
	bobClient, aliceClient := s.client("sk-bob"), s.client("sk-alice")
	for i := 0; len(fake.Starts("key-cool")) == 0; i++ {
		if i == 3 {
			t.Fatal("key-cool never tried")
		}
		if _, err := bobClient.Chat.Completions.New(ctxTimeout(t, 30*time.Second), v1Message("hello")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fake.Starts("key-poor")); n != 0 {
		t.Fatalf("the key set aside got %d requests", n)
	}
	// alice's one request a day, then a refusal.
	if _, err := aliceClient.Chat.Completions.New(ctxTimeout(t, 30*time.Second), v1Message("hi")); err != nil {
		t.Fatal(err)
	}
	resp := s.post("/v1/chat/completions", "sk-alice", `{"model":"V1","messages":[{"role":"user","content":"again"}]}`)
	if body := readAll(t, resp.Body); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "insufficient_quota") {
		t.Fatalf("over budget: %d %s", resp.StatusCode, body)
	}

	st, raw := readStatus(t)
	if state, reason, _ := keyState(st, fpCool); state != "cooling" {
		t.Fatalf("key-cool %s %s: %s", state, reason, raw)
	}
	for _, k := range st.Handlers[0].Keys {
		if k.Fingerprint == fpCool && (k.Until == nil || time.Until(*k.Until) < 5*time.Minute || !strings.Contains(k.LastError, "rate_limit")) {
			t.Fatalf("key-cool %+v", k)
		}
		if k.Fingerprint == fpOK && (k.State != "ready" || k.StartsInWindow < 2) {
			t.Fatalf("key-ok %+v", k)
		}
	}
	clients := map[string]int{}
	for i, c := range st.Handlers[0].Clients {
		clients[c.Name] = i
	}
	alice, bob := st.Handlers[0].Clients[clients["alice"]], st.Handlers[0].Clients[clients["bob"]]
	if alice.Name != "alice" || len(alice.Budgets) != 1 || alice.Budgets[0].Left != 0 || alice.Budgets[0].Used != 1 ||
		alice.Budgets[0].Budget != "1 request per day" || alice.Today.Requests < 1 {
		t.Fatalf("alice %+v", alice)
	}
	if bob.Name != "bob" || bob.Today.Tokens == 0 || bob.Month.Tokens < bob.Today.Tokens || len(bob.Daily) != 14 ||
		bob.Daily[13].Tokens != bob.Today.Tokens || len(bob.Budgets) != 1 || bob.Budgets[0].Left != 1000000-bob.Today.Tokens {
		t.Fatalf("bob %+v", bob)
	}
	// Nothing secret: no key, no client key.
	for _, secret := range []string{"key-poor", "key-cool", "key-ok", "sk-alice", "sk-bob"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the status shows %s: %s", secret, raw)
		}
	}

	// The page, in a real browser.
	dom := chromiumDOM(t, browser, s.base+"/poe_openai/")
	for _, want := range []string{
		`<table class="keys">`, `<table class="clients">`, `<svg class="chart"`, `<rect class="bar"`,
		`data-fingerprint="` + fpPoor + `" data-state="quarantined"`, `data-fingerprint="` + fpCool + `" data-state="cooling"`,
		`data-name="alice"`, `data-name="bob"`, `class="fill over"`, `http-equiv="refresh" content="10"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Fatalf("the DOM Chromium rendered:\n%s", dom)
	}
	if strings.Contains(dom, "key-poor") || strings.Contains(dom, "sk-alice") {
		t.Error("the page shows a key")
	}
	if out := os.Getenv("POE_STATUS_SCREENSHOT"); out != "" {
		chromiumScreenshot(t, browser, s.base+"/poe_openai/", out)
	}

	// The topped-up key comes back at the next round, a minute after the
	// first; the balance was read twice, no more.
	waitStatus(t, 90*time.Second-time.Since(startedPoor), "the topped-up key back", func(st statusJSON) bool {
		state, _, points := keyState(st, fpPoor)
		return state == "ready" && points == 500
	})
	if n := fake.BalanceReads("key-poor"); n != 2 {
		t.Fatalf("%d balance reads of key-poor in a minute and a bit, want 2", n)
	}
	mresp, err := http.Get(adminURL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	metrics := readAll(t, mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`caddy_poe_openai_points{key="` + fpPoor + `"} 500`, `caddy_poe_openai_points{key="` + fpOK + `"} 1000`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A storm of "not enough points" answers from a key that has points (the
// bot costs more than it holds) reads its balance once, not once per
// failure; a key Poe says is empty and whose balance is 0 is set aside at
// the first failure and the request fails over. Polling is off, so every
// read here is one a failure asked for.
func TestPointsAfterNoPoints(t *testing.T) {
	fake, url := fakePoe(t, nil)
	fake.SetToken("key-pricey", poefake.TokenNoPoints)
	fake.SetBalance("key-pricey", 500)
	fake.SetToken("key-empty", poefake.TokenNoPoints)
	fake.SetBalance("key-empty", 0)
	s := startCaddy(t, url, `poe_openai {
	poe_keys key-empty key-pricey key-ok
	base_url {FAKE}
	points_check 0
	retries 0
}`)
	if n := fake.BalanceReads("key-empty") + fake.BalanceReads("key-pricey") + fake.BalanceReads("key-ok"); n != 0 {
		t.Fatalf("%d balance reads with polling off", n)
	}
	var failed int
	for range 12 {
		resp := s.post("/v1/chat/completions", "", `{"model":"V1","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusOK {
			failed++
		}
		resp.Body.Close()
	}
	if n := len(fake.Starts("key-pricey")); n < 3 || failed < 3 {
		t.Fatalf("key-pricey tried %d times, %d failures: not a storm", n, failed)
	}
	if n := fake.BalanceReads("key-pricey"); n != 1 {
		t.Fatalf("%d balance reads of key-pricey under a storm of failures, want 1", n)
	}
	if n := fake.BalanceReads("key-empty"); n != 1 {
		t.Fatalf("%d balance reads of key-empty, want 1", n)
	}
	if n := len(fake.Starts("key-empty")); n != 1 {
		t.Fatalf("the empty key got %d requests, want 1 (then set aside)", n)
	}
	st, _ := readStatus(t)
	fpEmpty, fpPricey := poefake.TokenFingerprint("key-empty"), poefake.TokenFingerprint("key-pricey")
	if state, reason, points := keyState(st, fpEmpty); state != "quarantined" || reason != "insufficient_points" || points != 0 {
		t.Fatalf("key-empty %s %s %d", state, reason, points)
	}
	if state, _, points := keyState(st, fpPricey); state != "ready" || points != 500 {
		t.Fatalf("key-pricey %s %d", state, points)
	}
	if st.Handlers[0].PointsCheck != "off" {
		t.Fatalf("points_check %q", st.Handlers[0].PointsCheck)
	}
}

// TestStatusAdminRoutes checks the admin module's answers besides the
// status itself.
func TestStatusAdminRoutes(t *testing.T) {
	_, url := fakePoe(t, nil)
	startCaddy(t, url, "poe_openai {\n\tpoe_keys key-a\n\tbase_url {FAKE}\n}")
	resp, err := http.Get(adminURL("/poe_openai/"))
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(page, "<table class=\"keys\">") {
		t.Fatalf("page: %d %v", resp.StatusCode, resp.Header)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/poe_openai/other", 404}, {"POST", "/poe_openai/status", 405}, {"DELETE", "/poe_openai/", 405}} {
		req, _ := http.NewRequest(c.method, adminURL(c.path), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
	}
}

// statusProxy is the README's way for a browser to reach the page: a
// route that proxies GETs of the two status paths to the admin endpoint,
// which refuses browsers (their Sec-Fetch-Mode header without an Origin)
// and Host names other than its own. (A real site protects the route.)
func statusProxy() string {
	return fmt.Sprintf(`@status {
	method GET
	path /poe_openai/ /poe_openai/status
}
handle @status {
	reverse_proxy localhost:%[1]d {
		header_up Host localhost:%[1]d
		header_up -Origin
		header_up -Referer
		header_up -Sec-Fetch-Mode
	}
}`, adminPort)
}

// findChromium finds Debian's chromium; its absence fails the test (.ci/run
// installs it).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium or chromium-browser on PATH: install Debian's chromium (apt-get install -y chromium), as .ci/run does")
	return ""
}

func chromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", browser, args, err, stderr.String())
	}
	return string(out)
}

// chromiumDOM loads url in headless Chromium and returns the DOM it
// rendered.
func chromiumDOM(t *testing.T, browser, url string) string {
	return chromium(t, browser, "--dump-dom", url)
}

func chromiumScreenshot(t *testing.T, browser, url, out string) {
	out, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	chromium(t, browser, "--screenshot="+out, "--window-size=1200,900", "--hide-scrollbars", url)
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", out, err)
	}
}

// A reload keeps each key's reading and does not read again within the
// minute: one poller's worth of reads, not one per config.
func TestPointsReload(t *testing.T) {
	fake, url := fakePoe(t, nil)
	fake.SetBalance("key-r", 777)
	body := "poe_openai {\n\tpoe_keys key-r\n\tbase_url {FAKE}\n\tpoints_check 1m\n}"
	startCaddy(t, url, body)
	fp := poefake.TokenFingerprint("key-r")
	waitStatus(t, 10*time.Second, "the key read at provision", func(st statusJSON) bool {
		_, _, points := keyState(st, fp)
		return points == 777
	})
	fake.SetBalance("key-r", 5) // a read now would show it
	startCaddy(t, url, body)    // a reload: same key, new handler
	st := waitStatus(t, 10*time.Second, "the old handler gone", func(st statusJSON) bool { return len(st.Handlers) == 1 })
	if _, _, points := keyState(st, fp); points != 777 {
		t.Fatalf("after the reload the key shows %d points, want the kept reading 777", points)
	}
	if n := fake.BalanceReads("key-r"); n != 1 {
		t.Fatalf("%d balance reads across a reload within a minute, want 1", n)
	}
}

// The README's points and status-page examples adapt to what they say.
func TestStatusREADMEExamples(t *testing.T) {
	h := findHandler(adapt(t, "http://localhost:8080 {\n"+readmeBlock(t, "points:caddyfile")+"\n}"))
	if h["points_check"] != float64(10*time.Minute) || h["points_floor"] != float64(5000) {
		t.Fatalf("points example adapted to %v", h)
	}
	cfg, _ := json.Marshal(adapt(t, readmeBlock(t, "status:caddyfile")))
	for _, want := range []string{`"method":["GET"]`, `"path":["/poe_openai/","/poe_openai/status"]`, `"dial":"localhost:2019"`,
		`"Sec-Fetch-Mode"`, `"Origin"`, `"Referer"`, `"authentication"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("the status proxy example lacks %s: %s", want, cfg)
		}
	}
}
