package core_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
	"github.com/poe-openai/caddy-poe-openai/internal/translate"
)

// The attempt loop alone, against the fake Poe over real HTTP: which
// failures move a request to another key, which are retried on the same
// bot, and which reach the client. integration/ covers the same through
// Caddy and openai-go.

type rig struct {
	fake  *poefake.Server
	relay *core.Relay
}

func newRig(t *testing.T, retries int) *rig {
	t.Helper()
	fake := poefake.New(poefake.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); srv.Close() })
	return &rig{fake: fake, relay: &core.Relay{
		Client:     &poeclient.Client{HTTP: srv.Client(), BaseURL: srv.URL, IdleTimeout: 10 * time.Second},
		Uploads:    core.NewUploadCache(1 << 20),
		Retries:    retries,
		KeepAlive:  time.Minute,
		Reasoning:  translate.ReasoningSplit,
		Quarantine: time.Hour,
	}}
}

func pool(t *testing.T, secrets ...string) *tokenpool.Pool {
	var tokens []*tokenpool.Token
	for _, s := range secrets {
		tokens = append(tokens, tokenpool.NewToken(s))
	}
	p := tokenpool.New(tokens, tokenpool.Limits{}, nil)
	t.Cleanup(p.Close)
	return p
}

// serve runs one request through the relay and returns what the client got.
func (r *rig) serve(t *testing.T, tokens core.Tokens, failover bool, body string) (*httptest.ResponseRecorder, core.Outcome) {
	t.Helper()
	parsed, oe := chat.FrontEnd{}.Parse([]byte(body), "")
	if oe != nil {
		t.Fatalf("parse: %v", oe.Message)
	}
	req := parsed.Request()
	plan, oe := translate.ToPoe(req, translate.RequestOptions{})
	if oe != nil {
		t.Fatalf("translate: %v", oe.Message)
	}
	w := httptest.NewRecorder()
	hr := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	out := r.relay.Serve(hr.Context(), core.Call{Req: req, Plan: plan, Bot: req.Model, Tokens: tokens, Failover: failover,
		Out: parsed.Output(w, conv.OutputOptions{KeepAlive: r.relay.KeepAlive, Start: time.Now()})})
	return w, out
}

func chatBody(bot string, stream bool) string {
	return `{"model":"` + bot + `","stream":` + map[bool]string{true: "true", false: "false"}[stream] +
		`,"messages":[{"role":"user","content":"hello there"}]}`
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Error struct{ Code string } }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("body %q is not an OpenAI error: %v", w.Body.String(), err)
	}
	return e.Error.Code
}

func TestFailoverQuarantinesBadKeysAndAnswersFromAGoodOne(t *testing.T) {
	r := newRig(t, 2)
	r.fake.SetToken("key-invalid", poefake.TokenInvalid)
	r.fake.SetToken("key-broke", poefake.TokenNoPoints)
	p := pool(t, "key-invalid", "key-broke", "key-good")
	reasons := map[string]string{"key-invalid": "invalid_key", "key-broke": "insufficient_points"}

	quarantined := map[string]bool{}
	seen := 0
	for i := range 3 {
		w, out := r.serve(t, p, true, chatBody("Echo", false))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "hello there") {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body.String())
		}
		sent := r.fake.Requests()[seen:]
		seen += len(sent)
		if len(sent) != out.Attempts {
			t.Fatalf("request %d: %d attempts reported, %d reached Poe", i, out.Attempts, len(sent))
		}
		// Every attempt but the last used a bad key, which is set aside
		// for the reason Poe gave; the last used the good one.
		for j, s := range sent {
			last := j == len(sent)-1
			if last != (s.Token == "key-good") {
				t.Fatalf("request %d, attempt %d used %s", i, j+1, s.Token)
			}
			if last {
				continue
			}
			if quarantined[s.Token] {
				t.Fatalf("request %d reached Poe with %s, quarantined before", i, s.Token)
			}
			quarantined[s.Token] = true
			ev := out.Tokens[j]
			if ev.Token != poefake.TokenFingerprint(s.Token) || ev.State != tokenpool.StateQuarantined || ev.Reason != reasons[s.Token] {
				t.Fatalf("request %d: token event %+v for %s", i, ev, s.Token)
			}
		}
		if len(out.Tokens) != len(sent)-1 {
			t.Fatalf("request %d: token events %+v", i, out.Tokens)
		}
	}
	if len(quarantined) != 2 {
		t.Fatalf("quarantined %v; the least recently used choice should have tried both bad keys", quarantined)
	}
	if got := r.fake.Requests(); len(got) != seen || got[len(got)-1].Token != "key-good" {
		t.Fatal("the last request did not go straight to the good key")
	}
}

func TestRetriesBoundTheKeysTried(t *testing.T) {
	r := newRig(t, 1)
	for _, k := range []string{"bad-1", "bad-2", "bad-3"} {
		r.fake.SetToken(k, poefake.TokenInvalid)
	}
	w, out := r.serve(t, pool(t, "bad-1", "bad-2", "bad-3"), true, chatBody("Echo", true))
	if out.Attempts != 2 || len(r.fake.Requests()) != 2 {
		t.Fatalf("%d attempts, %d reached Poe; want 2 (1 + retries 1)", out.Attempts, len(r.fake.Requests()))
	}
	// Nothing was streamed yet, so the stream request still gets an HTTP error.
	if w.Code != http.StatusBadGateway || errorCode(t, w) != "upstream_auth_error" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), "bad-") {
		t.Fatalf("a key leaked into the answer: %s", w.Body.String())
	}
}

func TestPassthroughKeyIsNeitherRetriedNorQuarantined(t *testing.T) {
	r := newRig(t, 2)
	r.fake.SetToken("client-own-key", poefake.TokenNoPoints)
	tokens := pool(t, "client-own-key") // stands in for a passthrough key
	w, out := r.serve(t, tokens, false, chatBody("Echo", false))
	if out.Attempts != 1 || len(out.Tokens) != 0 {
		t.Fatalf("%d attempts, token events %+v; want 1 and none", out.Attempts, out.Tokens)
	}
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != "insufficient_quota" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if !tokens.Healthy() {
		t.Fatal("the client's own key was set aside")
	}
}

func TestNoFailoverMeansOneAttempt(t *testing.T) {
	r := newRig(t, 2)
	r.fake.SetToken("key-a", poefake.TokenRateLimited)
	r.fake.SetToken("key-b", poefake.TokenRateLimited)
	w, out := r.serve(t, pool(t, "key-a", "key-b"), false, chatBody("Echo", false))
	if out.Attempts != 1 || len(r.fake.Requests()) != 1 {
		t.Fatalf("%d attempts, %d reached Poe; want 1", out.Attempts, len(r.fake.Requests()))
	}
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != "rate_limit_exceeded" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
	}
}

func TestRetryableBotErrorIsRetriedOnce(t *testing.T) {
	r := newRig(t, 5)
	w, out := r.serve(t, pool(t, "key-a", "key-b"), true, chatBody("V3", false))
	if out.Attempts != 2 || len(r.fake.RequestsFor("V3")) != 2 {
		t.Fatalf("%d attempts, %d reached Poe; want 2 whatever retries allows", out.Attempts, len(r.fake.RequestsFor("V3")))
	}
	if w.Code != http.StatusBadGateway || errorCode(t, w) != "upstream_error" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if len(out.Tokens) != 0 {
		t.Fatalf("a bot's error set keys aside: %+v", out.Tokens)
	}
}

func TestErrorAfterTheAnswerStartedEndsTheStream(t *testing.T) {
	r := newRig(t, 2)
	w, out := r.serve(t, pool(t, "key-a", "key-b"), true, chatBody("V5", true))
	if out.Attempts != 1 || len(r.fake.RequestsFor("V5")) != 1 {
		t.Fatalf("%d attempts after the client saw text; want 1", out.Attempts)
	}
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `"content":"Partial answ"`) {
		t.Fatalf("%d %s", w.Code, body)
	}
	errAt, doneAt := strings.Index(body, `data: {"error":`), strings.LastIndex(body, "data: [DONE]\n\n")
	if errAt < 0 || doneAt < errAt || doneAt+len("data: [DONE]\n\n") != len(body) {
		t.Fatalf("the stream does not end with an error event, then [DONE]:\n%s", body)
	}
}

// After the module failed over across rate-limited keys, the SDK must not
// retry at once (it would multiply Poe calls): x-should-retry: false, and
// an honest Retry-After.
func TestRateLimitedEverywhereTellsSDKsNotToRetry(t *testing.T) {
	r := newRig(t, 2)
	r.fake.SetToken("key-a", poefake.TokenRateLimited)
	r.fake.SetToken("key-b", poefake.TokenRateLimited)
	w, out := r.serve(t, pool(t, "key-a", "key-b"), true, chatBody("Echo", false))
	if out.Attempts != 2 || w.Code != http.StatusTooManyRequests {
		t.Fatalf("%d attempts, status %d", out.Attempts, w.Code)
	}
	if w.Header().Get("X-Should-Retry") != "false" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("headers %v", w.Header())
	}
	// One attempt on a bad key of the client's own: Poe's answer is final.
	r2 := newRig(t, 2)
	r2.fake.SetToken("own", poefake.TokenInvalid)
	w, _ = r2.serve(t, pool(t, "own"), false, chatBody("Echo", false))
	if w.Header().Get("X-Should-Retry") != "false" {
		t.Fatalf("auth failure: headers %v", w.Header())
	}
}

// A bot that answers "not enough points" (its price) must not empty the
// pool: the balance says the keys have points, so none is set aside, and
// the client gets the real cause, not "all keys busy".
func TestBotLevelNoPointsKeepsTheKeys(t *testing.T) {
	r := newRig(t, 2)
	tokens := pool(t, "key-a", "key-b")
	w, out := r.serve(t, tokens, true, chatBody("V4", false))
	if len(out.Tokens) != 0 {
		t.Fatalf("keys set aside: %+v", out.Tokens)
	}
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != "insufficient_quota" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if !tokens.Healthy() {
		t.Fatal("pool emptied")
	}
	// A key that is really empty is set aside.
	r.fake.SetToken("key-a", poefake.TokenNoPoints)
	_, out = r.serve(t, pool(t, "key-a"), true, chatBody("Echo", false))
	if len(out.Tokens) != 1 || out.Tokens[0].Reason != "insufficient_points" {
		t.Fatalf("empty key not set aside: %+v", out.Tokens)
	}
}

// A collected answer is bounded by MaxAnswer: past it the client gets a
// 502 naming max_answer_size, never a giant buffer; a stream is not
// collected, so it is not bounded.
func TestCollectedAnswerIsBounded(t *testing.T) {
	r := newRig(t, 0)
	r.relay.MaxAnswer = 10 << 10
	w, out := r.serve(t, pool(t, "key"), true, chatBody("Chunks-100x1024", false))
	if w.Code != http.StatusBadGateway || errorCode(t, w) != "upstream_error" || !strings.Contains(w.Body.String(), "max_answer_size") {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if out.Attempts != 1 {
		t.Fatalf("%d attempts", out.Attempts)
	}
	w, _ = r.serve(t, pool(t, "key"), true, chatBody("Chunks-100x1024", true))
	if w.Code != http.StatusOK || !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n") {
		t.Fatalf("stream: %d %.200s", w.Code, w.Body.String())
	}
}
