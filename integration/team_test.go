package integration

// Named clients, budgets and usage, through a real Caddy against the fake
// Poe: rate limits and model patterns per client, budgets refusing with
// the caller's own error shape, counts carried across a reload and a
// restart (Caddy's storage) and shared between instances (Redis).
// Budget windows at their UTC boundaries are tested with a fake clock in
// internal/team.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// longPrompt is a prompt of some hundred tokens, so one answer (Echo repeats
// it) crosses a small tokens budget.
var longPrompt = strings.Repeat("lorem ipsum dolor sit amet ", 20)

func chatBody(model, text string, stream bool) string {
	b, _ := json.Marshal(map[string]any{"model": model, "stream": stream,
		"messages": []map[string]string{{"role": "user", "content": text}}})
	return string(b)
}

func messagesBody(model, text string, stream bool) string {
	b, _ := json.Marshal(map[string]any{"model": model, "stream": stream, "max_tokens": 1024,
		"messages": []map[string]string{{"role": "user", "content": text}}})
	return string(b)
}

// apiError is the error object of both shapes: OpenAI's {"error":{...}}
// and Anthropic's {"type":"error","error":{...}}.
type apiError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string  `json:"type"`
		Code    *string `json:"code"`
		Param   *string `json:"param"`
		Message string  `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, resp *http.Response) apiError {
	t.Helper()
	var e apiError
	body := readAll(t, resp.Body)
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an API error (%v): %s", err, body)
	}
	return e
}

func errCode(e apiError) string {
	if e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

func anthropicHeaders(key string) []string {
	return []string{"x-api-key", key, "anthropic-version", "2023-06-01"}
}

// untilUTC is the time left until the start of the next UTC day or month.
func untilUTC(month bool) time.Duration {
	now := time.Now().UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	if month {
		next = time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return next.Sub(now)
}

// checkRetryAfter checks that Retry-After points at the window's end.
func checkRetryAfter(t *testing.T, resp *http.Response, month bool) {
	t.Helper()
	got, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	want := untilUTC(month).Seconds()
	if err != nil || float64(got) < want-30 || float64(got) > want+30 {
		t.Errorf("Retry-After %q, want about %.0f s (until the window resets)", resp.Header.Get("Retry-After"), want)
	}
	if resp.Header.Get("X-Should-Retry") != "false" {
		t.Errorf("x-should-retry %q", resp.Header.Get("X-Should-Retry"))
	}
}

func TestClientRateLimitAndNames(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-team
		auth_keys sk-nameless
		client_rate_limit 5
		client alice sk-alice-secret-1 sk-alice-secret-2 {
			rate_limit 2
		}
		client bob sk-bob-secret
		base_url {FAKE}
	}`)
	// alice's two keys share her limit of 2 a minute.
	for i, key := range []string{"sk-alice-secret-1", "sk-alice-secret-2", "sk-alice-secret-1"} {
		r := s.post("/v1/chat/completions", key, chatBody("Echo", "hi", false))
		switch {
		case i < 2 && r.StatusCode != 200:
			t.Fatalf("alice request %d: %d %s", i, r.StatusCode, readAll(t, r.Body))
		case i == 2:
			if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("alice over her rate_limit: %d (Retry-After %q)", r.StatusCode, r.Header.Get("Retry-After"))
			}
			if e := decodeError(t, r); errCode(e) != "rate_limit_exceeded" {
				t.Errorf("code %q", errCode(e))
			}
		}
	}
	// bob keeps client_rate_limit (5).
	for i := range 3 {
		if r := s.post("/v1/chat/completions", "sk-bob-secret", chatBody("Echo", "hi", false)); r.StatusCode != 200 {
			t.Fatalf("bob request %d: %d", i, r.StatusCode)
		}
	}
	if r := s.post("/v1/chat/completions", "sk-nameless", chatBody("Echo", "hi", false)); r.StatusCode != 200 {
		t.Fatalf("nameless key: %d", r.StatusCode)
	}
	if r := s.post("/v1/chat/completions", "sk-unknown", chatBody("Echo", "hi", false)); r.StatusCode != 401 {
		t.Fatalf("unknown key: %d", r.StatusCode)
	}
	logs := s.logs()
	if !strings.Contains(logs, `"poe_client":"alice"`) || !strings.Contains(logs, `"poe_client":"bob"`) {
		t.Error("the log does not name the clients")
	}
	if strings.Contains(logs, "secret") {
		t.Error("a client key reached the log")
	}
}

func TestClientModels(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-team
		bot gpt-4o Echo
		bot claude-echo Echo
		client alice sk-alice {
			models gpt-4o claude-*
		}
		client bob sk-bob
		base_url {FAKE}
	}`)
	for _, m := range []string{"gpt-4o", "GPT-4o"} {
		if r := s.post("/v1/chat/completions", "sk-alice", chatBody(m, "hi", false)); r.StatusCode != 200 {
			t.Fatalf("alice, %s: %d %s", m, r.StatusCode, readAll(t, r.Body))
		}
	}
	r := s.post("/v1/chat/completions", "sk-alice", chatBody("Echo", "hi", false))
	if r.StatusCode != 404 {
		t.Fatalf("alice, a model not hers: %d", r.StatusCode)
	}
	if e := decodeError(t, r); errCode(e) != "model_not_found" || e.Error.Type != "invalid_request_error" || e.Error.Param == nil || *e.Error.Param != "model" {
		t.Errorf("OpenAI shape: %+v", e)
	}
	r = s.post("/v1/responses", "sk-alice", `{"model":"Echo","input":"hi"}`)
	if r.StatusCode != 404 {
		t.Fatalf("Responses, a model not hers: %d", r.StatusCode)
	}
	r = s.post("/v1/messages", "", messagesBody("claude-echo", "hi", false), anthropicHeaders("sk-alice")...)
	if r.StatusCode != 200 {
		t.Fatalf("alice, claude-echo: %d %s", r.StatusCode, readAll(t, r.Body))
	}
	r = s.post("/v1/messages", "", messagesBody("Echo", "hi", true), anthropicHeaders("sk-alice")...)
	if r.StatusCode != 403 {
		t.Fatalf("Anthropic, a model not hers: %d", r.StatusCode)
	}
	if e := decodeError(t, r); e.Type != "error" || e.Error.Type != "permission_error" || !strings.Contains(e.Error.Message, "alice") {
		t.Errorf("Anthropic shape: %+v", e)
	}
	// bob has no models list: everything.
	if r := s.post("/v1/chat/completions", "sk-bob", chatBody("Echo", "hi", false)); r.StatusCode != 200 {
		t.Fatalf("bob: %d", r.StatusCode)
	}
}

// A tokens budget: a stream that crosses it (without asking for usage)
// finishes; the next request is refused in either API's shape until the
// UTC day ends; another client is not affected. Metrics count per client
// with bounded labels (the collectors live as long as the process: these
// clients' names are this test's own).
func TestBudgetTokens(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddyWith(t, url, "storage file_system "+t.TempDir(), `
	metrics /metrics
	poe_openai {
		tokens tok-team
		bot gpt-4o Echo
		client tess sk-tess {
			budget 100 tokens per day
			budget 1000 requests per month
		}
		client tom sk-tom
		base_url {FAKE}
	}`)
	if r := s.post("/v1/chat/completions", "sk-tess", chatBody("gpt-4o", "hi", false)); r.StatusCode != 200 {
		t.Fatalf("first: %d", r.StatusCode)
	}
	r := s.post("/v1/chat/completions", "sk-tess", chatBody("gpt-4o", longPrompt, true))
	body := readAll(t, r.Body)
	if r.StatusCode != 200 || !strings.Contains(body, "data: [DONE]") || strings.Contains(body, `"usage":{`) {
		t.Fatalf("the crossing stream: %d %s", r.StatusCode, body)
	}

	r = s.post("/v1/chat/completions", "sk-tess", chatBody("gpt-4o", "hi", false))
	if r.StatusCode != 429 {
		t.Fatalf("over the budget: %d %s", r.StatusCode, readAll(t, r.Body))
	}
	checkRetryAfter(t, r, false)
	e := decodeError(t, r)
	if errCode(e) != "insufficient_quota" || e.Error.Type != "insufficient_quota" || !strings.Contains(e.Error.Message, "100 tokens per day") ||
		!strings.Contains(e.Error.Message, "tess") {
		t.Errorf("OpenAI refusal: %+v", e)
	}
	r = s.post("/v1/messages", "", messagesBody("gpt-4o", "hi", true), anthropicHeaders("sk-tess")...)
	if r.StatusCode != 429 {
		t.Fatalf("Anthropic over the budget: %d", r.StatusCode)
	}
	checkRetryAfter(t, r, false)
	if e := decodeError(t, r); e.Error.Type != "rate_limit_error" || !strings.Contains(e.Error.Message, "100 tokens per day") {
		t.Errorf("Anthropic refusal: %+v", e)
	}
	if r := s.post("/v1/chat/completions", "sk-tom", chatBody("gpt-4o", longPrompt, false)); r.StatusCode != 200 {
		t.Fatalf("tom: %d", r.StatusCode)
	}
	// A model nobody configured is labelled "other", never by its name.
	s.post("/v1/chat/completions", "sk-tom", chatBody("Made-Up-Model-xyz", "hi", false))

	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics := readAll(t, resp.Body)
	resp.Body.Close()
	for _, re := range []string{
		`caddy_poe_openai_client_requests_total\{client="tess",code="200",model="gpt-4o"\} 2`,
		`caddy_poe_openai_client_requests_total\{client="tess",code="429",model="gpt-4o"\} 2`,
		`caddy_poe_openai_client_tokens_total\{client="tess",model="gpt-4o",type="completion"\} [1-9]`,
		`caddy_poe_openai_client_tokens_total\{client="tess",model="gpt-4o",type="prompt"\} [1-9]`,
		`caddy_poe_openai_client_requests_total\{client="tom",code="\d+",model="other"\} 1`,
	} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("metrics lack %s:\n%s", re, grepLines(metrics, "client_"))
		}
	}
	if strings.Contains(metrics, "Made-Up") || strings.Contains(metrics, "sk-tess") || strings.Contains(metrics, "sk-tom") {
		t.Error("a client-chosen model or a key is a label value")
	}
}

// A requests budget per month, in the Anthropic API; usage counted from
// the Messages and Responses front ends alike; the counts carry over a
// reload (the ledger is kept, and saved by the old config's cleanup).
func TestBudgetRequestsAcrossReload(t *testing.T) {
	_, url := fakePoe(t, nil)
	dir := t.TempDir()
	cfg := `
	poe_openai {
		tokens tok-team
		bot claude-echo Echo
		bot m%d Echo
		client alice sk-alice {
			budget 3 requests per month
		}
		client wes sk-wes {
			budget 1 requests per week
		}
		base_url {FAKE}
	}`
	s := startCaddyWith(t, url, "storage file_system "+dir, fmt.Sprintf(cfg, 1))
	if r := s.post("/v1/messages", "", messagesBody("claude-echo", "hi", true), anthropicHeaders("sk-alice")...); r.StatusCode != 200 {
		t.Fatalf("first: %d", r.StatusCode)
	} else {
		readAll(t, r.Body)
	}
	if r := s.post("/v1/responses", "sk-alice", `{"model":"claude-echo","input":"hi"}`); r.StatusCode != 200 {
		t.Fatalf("second: %d", r.StatusCode)
	}

	s = startCaddyWith(t, url, "storage file_system "+dir, fmt.Sprintf(cfg, 2)) // a reload
	saved, err := os.ReadFile(filepath.Join(dir, "poe_openai", "usage.json"))
	if err != nil || !strings.Contains(string(saved), `"alice"`) {
		t.Fatalf("not saved at the reload: %v %s", err, saved)
	}
	if r := s.post("/v1/messages", "", messagesBody("claude-echo", "hi", false), anthropicHeaders("sk-alice")...); r.StatusCode != 200 {
		t.Fatalf("third: %d", r.StatusCode)
	}
	r := s.post("/v1/messages", "", messagesBody("claude-echo", "hi", false), anthropicHeaders("sk-alice")...)
	if r.StatusCode != 429 {
		t.Fatalf("fourth: %d", r.StatusCode)
	}
	checkRetryAfter(t, r, true)
	if e := decodeError(t, r); e.Error.Type != "rate_limit_error" || !strings.Contains(e.Error.Message, "3 requests per month") {
		t.Errorf("refusal: %+v", e)
	}

	// A week's budget, in the Chat API: the refusal says when the ISO week
	// ends (the next Monday, 00:00 UTC).
	if r := s.post("/v1/chat/completions", "sk-wes", chatBody("claude-echo", "hi", false)); r.StatusCode != 200 {
		t.Fatalf("wes first: %d", r.StatusCode)
	}
	r = s.post("/v1/chat/completions", "sk-wes", chatBody("claude-echo", "hi", false))
	if r.StatusCode != 429 {
		t.Fatalf("wes second: %d", r.StatusCode)
	}
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monday := day.AddDate(0, 0, 7-(int(day.Weekday())+6)%7)
	if e := decodeError(t, r); !strings.Contains(e.Error.Message, "1 request per week") ||
		!strings.Contains(e.Error.Message, monday.Format(time.RFC3339)) {
		t.Errorf("week refusal: %+v (want a reset at %s)", e, monday.Format(time.RFC3339))
	}
}

// teamProc is the config of one Caddy process for the restart and Redis
// tests: its own admin port and storage, one site.
func teamProc(t *testing.T, storage string, port int, site string) *caddyProc {
	t.Helper()
	cfg := procGlobals(t, storage) + fmt.Sprintf(`http://127.0.0.1:%d {
%s
}
`, port, site)
	return startCaddyProc(t, caddyBinary(t), cfg, nil)
}

// stop ends Caddy as a service manager does (SIGTERM) and waits for it.
func (p *caddyProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("caddy did not stop")
	}
}

// Without Redis, counts live in Caddy's storage: saved when Caddy stops,
// loaded when it starts. (Echo is mapped by no bot line: its label is
// "other".)
func TestUsageSurvivesRestart(t *testing.T) {
	_, url := fakePoe(t, nil)
	storage := t.TempDir()
	port := freePort()
	site := fmt.Sprintf(`
	poe_openai {
		tokens tok-team
		base_url %s
		client alice sk-alice {
			budget 3 requests per day
		}
	}`, url)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := teamProc(t, storage, port, site)
	for i := range 2 {
		if r := chat(t, base, "sk-alice", "Echo"); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	p.stop(t)
	saved, err := os.ReadFile(filepath.Join(storage, "poe_openai", "usage.json"))
	if err != nil || !strings.Contains(string(saved), `"alice":{"other":{"requests":2`) {
		t.Fatalf("saved at stop: %v %s", err, saved)
	}

	teamProc(t, storage, port, site)
	if r := chat(t, base, "sk-alice", "Echo"); r.status != 200 {
		t.Fatalf("third: %d %s", r.status, r.body)
	}
	if r := chat(t, base, "sk-alice", "Echo"); r.status != 429 || !strings.Contains(r.body, "3 requests per day") {
		t.Fatalf("fourth, after the restart: %d %s", r.status, r.body)
	}
}

// With Redis, two instances count into one total, and a client's own
// rate_limit is shared too.
func TestUsageSharedRedis(t *testing.T) {
	red := redistest.Start(t)
	_, url := fakePoe(t, nil)
	site := fmt.Sprintf(`
	poe_openai {
		tokens tok-team
		base_url %s
		redis %s
		redis_timeout 1s
		client alice sk-alice {
			budget 3 requests per day
		}
		client bob sk-bob {
			rate_limit 2
		}
	}`, url, red.URL())
	var bases []string
	for range 2 {
		port := freePort()
		teamProc(t, t.TempDir(), port, site)
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", port))
	}
	for i := range 3 {
		if r := chat(t, bases[i%2], "sk-alice", "Echo"); r.status != 200 {
			t.Fatalf("alice %d: %d %s", i, r.status, r.body)
		}
	}
	for _, b := range bases {
		if r := chat(t, b, "sk-alice", "Echo"); r.status != 429 || !strings.Contains(r.body, "3 requests per day") || r.retryAfter == "" {
			t.Fatalf("alice over the shared budget on %s: %d %s", b, r.status, r.body)
		}
	}
	for i, b := range []string{bases[0], bases[1], bases[0]} {
		r := chat(t, b, "sk-bob", "Echo")
		if (i < 2) != (r.status == 200) {
			t.Fatalf("bob %d: %d %s", i, r.status, r.body)
		}
	}
}

// The README's team example adapts, and its keys stay placeholders in the
// adapted JSON (resolved only when Caddy starts).
func TestClientREADMEExample(t *testing.T) {
	block := readmeBlock(t, "team:caddyfile")
	h := findHandler(adapt(t, "http://localhost:8080 {\n"+block+"\n}"))
	b, _ := json.Marshal(h["clients"])
	want := `[{"budgets":[{"limit":2000000,"per":"month","unit":"tokens"},{"limit":500,"per":"day","unit":"requests"}],` +
		`"keys":["{env.ALICE_KEY}"],"name":"alice","rate_limit":120},{"keys":["{env.BOB_KEY}","{env.BOB_LAPTOP_KEY}"],"name":"bob"},` +
		`{"budgets":[{"limit":100000,"per":"day","unit":"tokens"}],"keys":["{env.CI_KEY}"],"models":["gpt-4o-mini","claude-haiku-*"],"name":"ci"}]`
	if string(b) != want {
		t.Fatalf("clients\n%s\nwant\n%s", b, want)
	}
}
