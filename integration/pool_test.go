package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

// loadResult is what one of the concurrent clients saw.
type loadResult struct {
	status     int
	retryAfter string
	complete   bool
	body       string
}

// burst sends n streaming requests at once and reads each to the end.
func burst(t *testing.T, s *site, n int, model string, want string) []loadResult {
	t.Helper()
	results := make([]loadResult, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}, Timeout: 60 * time.Second}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", s.base+"/v1/chat/completions",
				strings.NewReader(`{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"go"}]}`))
			req.Header.Set("Authorization", "Bearer sk-load")
			resp, err := client.Do(req)
			if err != nil {
				results[i] = loadResult{status: -1, body: err.Error()}
				return
			}
			defer resp.Body.Close()
			body := readAll(t, resp.Body)
			r := loadResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body}
			if resp.StatusCode == 200 {
				var content strings.Builder
				events := sseEvents(body)
				for _, ev := range events {
					if i := strings.Index(ev, `"content":"`); i >= 0 {
						rest := ev[i+len(`"content":"`):]
						content.WriteString(rest[:strings.IndexByte(rest, '"')])
					}
				}
				r.complete = content.String() == want && events[len(events)-1] == "data: [DONE]" &&
					strings.Contains(events[len(events)-2], `"finish_reason":"stop"`)
			}
			results[i] = r
		}()
	}
	close(start)
	wg.Wait()
	return results
}

func chunksAnswer(n, size int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(poefake.ChunkText(i, size))
	}
	return b.String()
}

// loadPool's max_wait is long so that a slow or busy machine (each start
// waits for Poe's first byte of the one before) cannot turn the chain of
// cool-downs into 429s; the requests past the windows still fail at once,
// since no window frees within max_wait.
const loadPool = `
	poe_openai {
		tokens tok-load-1 tok-load-2 tok-load-3 tok-load-4
		auth_keys sk-load
		rate_limit 30
		cool_down 20ms
		max_wait 30s
		base_url {FAKE}
	}`

// checkLoad asserts the load test's contract and returns how many were served.
func checkLoad(t *testing.T, fake *poefake.Server, results []loadResult, tokens []string) int {
	t.Helper()
	served := 0
	for i, r := range results {
		switch {
		case r.status == 200 && r.complete:
			served++
		case r.status == 429:
			secs, err := strconv.Atoi(r.retryAfter)
			if err != nil || secs < 1 || secs > 60 || !strings.Contains(r.body, `"code":"rate_limit_exceeded"`) {
				t.Fatalf("request %d: 429 with Retry-After %q: %s", i, r.retryAfter, r.body)
			}
		default:
			t.Fatalf("request %d: status %d complete=%v: %.300s", i, r.status, r.complete, r.body)
		}
	}
	for _, tok := range tokens {
		starts := fake.Starts(tok)
		if n := poefake.MaxInWindow(starts, time.Minute); n > 30 {
			t.Fatalf("%s started %d requests in 60 s", tok, n)
		}
		if gap := poefake.MinGap(starts); len(starts) > 1 && gap < 20*time.Millisecond {
			t.Fatalf("%s: two starts %v apart, cool_down is 20ms", tok, gap)
		}
	}
	return served
}

func TestLoad200StreamsOver4Tokens(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, loadPool)
	want := chunksAnswer(5, 16)
	results := burst(t, s, 200, "Chunks-5x16", want)
	tokens := []string{"tok-load-1", "tok-load-2", "tok-load-3", "tok-load-4"}
	served := checkLoad(t, fake, results, tokens)
	// Four keys at 30 a minute: exactly 120 fit in the window.
	if served != 120 {
		t.Fatalf("served %d, want 120", served)
	}
	for _, tok := range tokens {
		if n := len(fake.Starts(tok)); n != 30 {
			t.Fatalf("%s started %d, want 30 (least recently used spreads the load)", tok, n)
		}
	}
}

func TestLoadWithOneKeyOutOfPoints(t *testing.T) {
	fake, url := fakePoe(t, nil)
	fake.SetToken("tok-np-2", poefake.TokenNoPoints)
	// One request at a time per key: a request's lease is released only
	// after Poe's answer was classified, so the key without points is
	// quarantined before anything else can start on it. Without the cap a
	// second request may start on it once cool_down has passed since Poe's
	// first byte, before the first request has read the error event: on a
	// loaded machine that took longer than 20 ms (seen once in 30 runs).
	cfg := strings.ReplaceAll(loadPool, "tok-load-", "tok-np-")
	// points_check 0: no balance read at start, which would set the key
	// aside before any request (TestPoints* cover that); this test is of
	// the in-request path.
	cfg = strings.Replace(cfg, "cool_down 20ms", "cool_down 20ms\n\t\tmax_concurrent 1\n\t\tpoints_check 0", 1)
	if !strings.Contains(cfg, "max_concurrent 1") {
		t.Fatal("loadPool no longer has cool_down 20ms to add the cap after")
	}
	s := startCaddy(t, url, cfg)
	want := chunksAnswer(5, 16)
	results := burst(t, s, 200, "Chunks-5x16", want)
	tokens := []string{"tok-np-1", "tok-np-2", "tok-np-3", "tok-np-4"}
	served := checkLoad(t, fake, results, tokens)
	if served != 90 {
		t.Fatalf("served %d, want 90 (three keys at 30 a minute)", served)
	}
	for _, tok := range []string{"tok-np-1", "tok-np-3", "tok-np-4"} {
		if n := len(fake.Starts(tok)); n != 30 {
			t.Fatalf("%s started %d, want 30", tok, n)
		}
	}
	if n := len(fake.Starts("tok-np-2")); n != 1 {
		t.Fatalf("the key without points was tried %d times; it must be quarantined after the first", n)
	}
	logs := s.logs()
	if !strings.Contains(logs, `"reason":"insufficient_points"`) || !strings.Contains(logs, `"state":"quarantined"`) ||
		!strings.Contains(logs, fingerprintOf("tok-np-2")) || strings.Contains(logs, "tok-np-") {
		t.Fatalf("quarantine not logged by fingerprint:\n%s", grepLines(logs, "set aside"))
	}
}

func TestReloadKeepsTokenState(t *testing.T) {
	fake, url := fakePoe(t, nil)
	config := func(model string) string {
		return `
	poe_openai {
		tokens tok-reload-window tok-reload-cool
		rate_limit 2
		max_wait 0
		bot anything ` + model + `
		base_url {FAKE}
	}`
	}
	fake.SetToken("tok-reload-cool", poefake.TokenRateLimited)
	fake.SetRateLimitReset(300 * time.Second)
	s := startCaddy(t, url, config("V1"))
	// First request: LRU tries both keys; the rate-limited one cools for
	// 300 s and the request fails over to the other.
	for i := 0; i < 2; i++ {
		if r := s.post("/v1/chat/completions", "", `{"model":"anything","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, r.StatusCode, readAll(t, r.Body))
		}
	}
	if r := s.post("/v1/chat/completions", "", `{"model":"anything","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 429 {
		t.Fatalf("window full: %d", r.StatusCode)
	}
	before := len(fake.Requests())
	fake.SetToken("tok-reload-cool", poefake.TokenOK)

	s = startCaddy(t, url, config("V7-text")) // a reload: new config, same keys
	r := s.post("/v1/chat/completions", "", `{"model":"anything","messages":[{"role":"user","content":"x"}]}`)
	if r.StatusCode != 429 || len(fake.Requests()) != before {
		t.Fatalf("after reload: %d and %d new upstream requests; the window and the cooling must survive", r.StatusCode, len(fake.Requests())-before)
	}
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 50 {
		t.Fatalf("Retry-After %q: the full window has about 60 s left", r.Header.Get("Retry-After"))
	}

	// A key removed from the config is forgotten: added back, it starts fresh.
	startCaddy(t, url, strings.Replace(config("V1"), "tok-reload-window tok-reload-cool", "tok-reload-other", 1))
	s = startCaddy(t, url, config("V1"))
	if r := s.post("/v1/chat/completions", "", `{"model":"anything","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 200 {
		t.Fatalf("re-added keys: %d", r.StatusCode)
	}
}

func TestPassthroughAndClientKeys(t *testing.T) {
	fake, url := fakePoe(t, nil)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tokens"), []byte("# pool\ntok-file-1\n\n  tok-file-2  \n"), 0o600)
	os.WriteFile(filepath.Join(dir, "keys"), []byte("sk-file\n"), 0o600)
	s := startCaddy(t, url, fmt.Sprintf(`
	poe_openai {
		tokens_file %s
		auth_keys_file %s
		auth_keys sk-inline
		passthrough
		client_rate_limit 2
		base_url {FAKE}
	}`, filepath.Join(dir, "tokens"), filepath.Join(dir, "keys")))
	body := `{"model":"V1","messages":[{"role":"user","content":"x"}]}`
	for _, k := range []string{"sk-file", "sk-inline", "my-own-poe-key"} {
		if r := s.post("/v1/chat/completions", k, body); r.StatusCode != 200 {
			t.Fatalf("%s: %d", k, r.StatusCode)
		}
	}
	var got []string
	for _, req := range fake.RequestsFor("V1") {
		got = append(got, req.Token)
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "tok-file-") || !strings.HasPrefix(got[1], "tok-file-") || got[2] != "my-own-poe-key" {
		t.Fatalf("tokens used: %q", got)
	}
	if r := s.post("/v1/chat/completions", "", body); r.StatusCode != 401 {
		t.Fatalf("no key with passthrough: %d", r.StatusCode)
	}
	// client_rate_limit 2 per key: the third request of sk-file is refused, sk-inline is not.
	if r := s.post("/v1/chat/completions", "sk-file", body); r.StatusCode != 200 {
		t.Fatalf("second: %d", r.StatusCode)
	}
	r := s.post("/v1/chat/completions", "sk-file", body)
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.StatusCode != 429 || ra < 1 || ra > 60 {
		t.Fatalf("third: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := s.post("/v1/chat/completions", "sk-inline", body); r.StatusCode != 200 {
		t.Fatalf("other key: %d", r.StatusCode)
	}
	// A passed-through key that Poe refuses is reported, not failed over,
	// and not set aside: once fixed (here: given points), it works at once.
	fake.SetToken("poor-own-key", poefake.TokenNoPoints)
	if r := s.post("/v1/chat/completions", "poor-own-key", body); r.StatusCode != 429 || len(fake.Starts("poor-own-key")) != 1 ||
		!strings.Contains(readAll(t, r.Body), "insufficient_quota") {
		t.Fatalf("poor own key: %d, %d attempts", r.StatusCode, len(fake.Starts("poor-own-key")))
	}
	fake.SetToken("poor-own-key", poefake.TokenOK)
	if r := s.post("/v1/chat/completions", "poor-own-key", body); r.StatusCode != 200 {
		t.Fatalf("own key after topping up: %d", r.StatusCode)
	}
	if logs := s.logs(); strings.Contains(logs, "my-own-poe-key") || strings.Contains(logs, "sk-file") || strings.Contains(logs, "tok-file-1") {
		t.Fatal("a key appeared in the log")
	}
}

func TestMaxConcurrentWaitsForRelease(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-concurrent
		max_concurrent 1
		max_wait 5s
		base_url {FAKE}
	}`)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.base+"/v1/chat/completions", strings.NewReader(`{"model":"Slow-150ms","messages":[{"role":"user","content":"x"}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 200 {
		t.Fatalf("codes %v", codes)
	}
	// One in flight at a time: each start waited for the previous answer.
	if gap := poefake.MinGap(fake.Starts("tok-concurrent")); gap < 150*time.Millisecond {
		t.Fatalf("starts %v apart with max_concurrent 1 and 150ms answers", gap)
	}
}

func fingerprintOf(secret string) string { return poefake.TokenFingerprint(secret) }

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
