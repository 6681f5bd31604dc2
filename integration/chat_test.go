package integration

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

func TestChatThroughGzip(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	encode gzip
	poe_openai {
		tokens tok-chat-gzip
		auth_keys sk-client
		bot gpt-4o V2
		bot hello V1
		base_url {FAKE}
	}`)
	c := s.client("sk-client")
	ctx := ctxTimeout(t, 30*time.Second)

	// Non-streaming: replace_response followed exactly.
	resp, err := c.Chat.Completions.New(ctx, userMessage("Capital of Nepal?"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "The capital of Nepal is Kathmandu." {
		t.Fatalf("content %q", got)
	}
	if resp.Choices[0].FinishReason != "stop" || resp.Object != "chat.completion" || resp.Model != "gpt-4o" ||
		!strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens != 7 ||
		resp.Usage.TotalTokens != resp.Usage.PromptTokens+7 || resp.Choices[0].Message.Role != "assistant" {
		t.Fatalf("completion %+v", resp)
	}

	// Streaming: the same answer, no placeholder, one id and created.
	stream := c.Chat.Completions.NewStreaming(ctx, userMessage("Capital of Nepal?"))
	var acc openai.ChatCompletionAccumulator
	ids, created := map[string]bool{}, map[int64]bool{}
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		chunks = append(chunks, ch)
		ids[ch.ID], created[ch.Created] = true, true
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "The capital of Nepal is Kathmandu." {
		t.Fatalf("streamed %q", got)
	}
	if len(ids) != 1 || len(created) != 1 || chunks[0].Choices[0].Delta.Role != "assistant" || chunks[0].Model != "gpt-4o" ||
		chunks[len(chunks)-1].Choices[0].FinishReason != "stop" || chunks[0].Object != "chat.completion.chunk" {
		t.Fatalf("chunks %+v", chunks)
	}

	// One chunk per upstream text event, and a proper end, through gzip.
	r := s.post("/v1/chat/completions", "sk-client", `{"model":"hello","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"Accept-Encoding", "gzip")
	if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("headers %v", r.Header)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	events := sseEvents(readAll(t, zr))
	if len(events) != 4 || !strings.Contains(events[0], `"delta":{"role":"assistant","content":"Hello"}`) ||
		!strings.Contains(events[1], `"delta":{"content":" café!"}`) || !strings.Contains(events[2], `"finish_reason":"stop"`) ||
		events[3] != "data: [DONE]" {
		t.Fatalf("events %q", events)
	}

	// What Poe received.
	req := fake.RequestsFor("V2")[0]
	if req.Token != "tok-chat-gzip" || req.Header.Get("Accept") != "text/event-stream" || req.Query.Version != "1.2" ||
		req.Query.Query[0].Role != "user" || req.Query.Query[0].Content != "Capital of Nepal?" {
		t.Fatalf("poe request %+v", req)
	}
}

func TestRequestMapping(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-mapping
		base_url {FAKE}
	}`)
	r := s.post("/v1/chat/completions", "", `{"model":"Echo","temperature":0.5,"stop":"END","logit_bias":{"42":-5},
		"top_p":0.9,"presence_penalty":1,"seed":7,"user":"u1","messages":[
		{"role":"developer","content":"Be terse."},
		{"role":"user","content":[{"type":"text","text":"part one"},{"type":"text","text":"part two"}]},
		{"role":"assistant","content":"ok"},
		{"role":"user","content":"last"}]}`)
	if r.StatusCode != 200 {
		t.Fatalf("%d %s", r.StatusCode, readAll(t, r.Body))
	}
	var out struct {
		Choices []struct{ Message struct{ Content string } }
	}
	json.NewDecoder(r.Body).Decode(&out)
	if out.Choices[0].Message.Content != "last" {
		t.Fatalf("echo %+v", out)
	}
	q := fake.RequestsFor("Echo")[0].Query
	var roles []string
	for _, m := range q.Query {
		roles = append(roles, m.Role+":"+m.Content)
	}
	if strings.Join(roles, "|") != "system:Be terse.|user:part one\npart two|bot:ok|user:last" ||
		*q.Temperature != 0.5 || strings.Join(q.StopSequences, ",") != "END" || q.LogitBias["42"] != -5 ||
		q.UserID != "" || q.ConversationID != "" || q.MessageID != "" {
		t.Fatalf("query %+v", q)
	}
}

func TestSimulateRoles(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-simulate
		simulate_roles auto
		base_url {FAKE}
	}`)
	r := s.post("/v1/chat/completions", "", `{"model":"Echo","messages":[{"role":"system","content":"Be kind."},
		{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"How are you?"}]}`)
	if r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	s.post("/v1/chat/completions", "", `{"model":"Echo","messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}]}`)
	reqs := fake.RequestsFor("Echo")
	q := reqs[0].Query.Query
	if len(q) != 1 || q[0].Role != "user" || q[0].Content != "||>Instructions:\nBe kind.\n||>User:\nHi\n||>Assistant:\nHello!\n||>User:\nHow are you?\n||>Assistant:\n" {
		t.Fatalf("flattened %+v", q)
	}
	if q := reqs[1].Query.Query; len(q) != 2 || q[0].Role != "system" {
		t.Fatalf("auto flattened system+user: %+v", q)
	}
}

func TestValidation(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-validation
		max_request_body 2KB
		base_url {FAKE}
	}`)
	c := s.client("any")
	ctx := ctxTimeout(t, 30*time.Second)

	params := userMessage("hi")
	params.N = openai.Int(2)
	_, err := c.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "n" || apiErr.Type != "invalid_request_error" {
		t.Fatalf("n=2: %v", err)
	}

	tests := []struct{ body, param string }{
		{`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}`, "messages[1].role"},
		{`{"model":"m","messages":[]}`, "messages"},
		{`{"messages":[{"role":"user","content":"a"}]}`, "model"},
		{`{"model":"m","messages":[{"role":"user","content":{"x":1}}]}`, "messages[0].content"},
		{`not json`, ""},
	}
	for _, tt := range tests {
		r := s.post("/v1/chat/completions", "", tt.body)
		var e struct {
			Error struct {
				Message string
				Type    string
				Param   *string
				Code    *string
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || r.StatusCode != 400 || e.Error.Message == "" ||
			e.Error.Type != "invalid_request_error" || (tt.param == "") != (e.Error.Param == nil) ||
			(e.Error.Param != nil && *e.Error.Param != tt.param) {
			t.Errorf("%s: %d %+v %v", tt.body, r.StatusCode, e, err)
		}
	}

	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 3000) + `"}]}`
	r := s.post("/v1/chat/completions", "", big)
	if body := readAll(t, r.Body); r.StatusCode != 413 || !strings.Contains(body, `"code":"request_too_large"`) {
		t.Fatalf("413: %d %s", r.StatusCode, body)
	}
}

func TestAuthAndModels(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-auth
		auth_keys sk-one sk-two
		bot zeta Echo
		bot alpha V1
		base_url {FAKE}
	}`)
	var bodies []string
	for _, hdr := range []string{"", "Bearer wrong", "Basic sk-one", "Bearer", "bearer sk-onex"} {
		req, _ := http.NewRequest("POST", s.base+"/v1/chat/completions", strings.NewReader(`{}`))
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, readAll(t, r.Body))
		r.Body.Close()
		if r.StatusCode != 401 {
			t.Fatalf("%q: %d", hdr, r.StatusCode)
		}
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] || !strings.Contains(b, `"code":"invalid_api_key"`) {
			t.Fatalf("401 bodies differ: %q", bodies)
		}
	}
	// Both keys work, case-insensitive scheme.
	for _, k := range []string{"sk-one", "sk-two"} {
		if r := s.post("/v1/chat/completions", k, `{"model":"alpha","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 200 {
			t.Fatalf("%s: %d", k, r.StatusCode)
		}
	}

	if r := s.get("/v1/models", ""); r.StatusCode != 401 {
		t.Fatalf("models without key: %d", r.StatusCode)
	}
	c := s.client("sk-one")
	ctx := ctxTimeout(t, 30*time.Second)
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 2 || page.Data[0].ID != "alpha" || page.Data[1].ID != "zeta" || page.Data[0].Created != 1735689600 ||
		page.Data[0].OwnedBy != "poe" || page.Data[0].Object != "model" || page.Object != "list" {
		t.Fatalf("models %+v", page.Data)
	}
	m, err := c.Models.Get(ctx, "zeta")
	if err != nil || m.ID != "zeta" {
		t.Fatalf("model %+v %v", m, err)
	}
	_, err = c.Models.Get(ctx, "nope")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("missing model: %v", err)
	}
}

func TestRoutesAndMethods(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	handle_path /poe/* {
		poe_openai {
			tokens tok-routes
			base_url {FAKE}
		}
	}
	poe_openai {
		tokens tok-routes
		base_url {FAKE}
	}
	respond "fallthrough" 200`)
	for _, path := range []string{"/v1/chat/completions", "/chat/completions", "/poe/v1/chat/completions", "/poe/chat/completions"} {
		r := s.post(path, "", `{"model":"V1","messages":[{"role":"user","content":"x"}]}`)
		if body := readAll(t, r.Body); r.StatusCode != 200 || !strings.Contains(body, "Hello café!") {
			t.Fatalf("%s: %d %s", path, r.StatusCode, body)
		}
	}
	if r := s.get("/other", ""); readAll(t, r.Body) != "fallthrough" {
		t.Fatal("other paths must reach the next handler")
	}
	// An API path the module does not serve gets the API's own 404.
	if r := s.post("/v1/embeddings", "", `{}`); r.StatusCode != 404 || !strings.Contains(readAll(t, r.Body), `"code":"unknown_url"`) {
		t.Fatalf("unknown API path: %d", r.StatusCode)
	}
	r := s.get("/v1/chat/completions", "")
	// Without cors no preflight is answered, so Allow does not list OPTIONS.
	if body := readAll(t, r.Body); r.StatusCode != 405 || r.Header.Get("Allow") != "POST" || !strings.Contains(body, `"code":"method_not_allowed"`) {
		t.Fatalf("405: %d %v %s", r.StatusCode, r.Header, body)
	}
	if r := s.post("/v1/models", "", ""); r.StatusCode != 405 {
		t.Fatalf("POST /models: %d", r.StatusCode)
	}
	if r := s.get("/poe/v1/models", ""); r.StatusCode != 200 {
		t.Fatalf("/poe/v1/models: %d", r.StatusCode)
	}
}

func TestUpstreamErrors(t *testing.T) {
	fake, url := fakePoe(t, nil)
	fake.SetBot("TooLong", func(*poefake.Request) poefake.Script {
		return poefake.Script{poefake.Error(false, "Your message is too long for this bot.", "user_message_too_long")}
	})
	tests := []struct {
		bot, code  string
		status     int
		retryAfter string
		attempts   int
	}{
		{"V11", "upstream_auth_error", 502, "", 1},
		{"V4", "insufficient_quota", 429, "", 1},
		{"V11-429", "rate_limit_exceeded", 429, "1", 1},
		{"NoSuchBot", "model_not_found", 404, "", 1},
		{"TooLong", "context_length_exceeded", 400, "", 1},
		{"V3", "upstream_error", 502, "", 2}, // retried once, as fastapi_poe does
		{"V10-badjson", "upstream_error", 502, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.bot, func(t *testing.T) {
			// A fresh key each time: auth and points failures quarantine it.
			s := startCaddy(t, url, `
			poe_openai {
				tokens tok-errors-`+tt.bot+`
				max_wait 0
				base_url {FAKE}
			}`)
			for _, stream := range []string{"false", "true"} {
				before := len(fake.RequestsFor(tt.bot))
				r := s.post("/v1/chat/completions", "", `{"model":"`+tt.bot+`","stream":`+stream+`,"messages":[{"role":"user","content":"x"}]}`)
				body := readAll(t, r.Body)
				var e struct {
					Error struct{ Code, Message string }
				}
				json.Unmarshal([]byte(body), &e)
				if r.StatusCode != tt.status || e.Error.Code != tt.code || r.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("stream=%s: %d %s", stream, r.StatusCode, body)
				}
				if r.Header.Get("Retry-After") != tt.retryAfter {
					t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
				}
				if got := len(fake.RequestsFor(tt.bot)) - before; stream == "false" && got != tt.attempts {
					t.Fatalf("%d attempts, want %d", got, tt.attempts)
				}
				if strings.Contains(body, "tok-errors") {
					t.Fatal("key in response")
				}
				if tt.bot == "V11" || tt.bot == "V4" {
					break // the key is now quarantined
				}
			}
		})
	}
}

func TestMidStreamError(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-midstream
		base_url {FAKE}
	}`)
	c := s.client("x")
	params := userMessage("x")
	params.Model = "V5"
	stream := c.Chat.Completions.NewStreaming(ctxTimeout(t, 30*time.Second), params)
	var got string
	for stream.Next() {
		if len(stream.Current().Choices) > 0 {
			got += stream.Current().Choices[0].Delta.Content
		}
	}
	if got != "Partial answ" || stream.Err() == nil || !strings.Contains(stream.Err().Error(), "Internal server error") {
		t.Fatalf("got %q err %v", got, stream.Err())
	}
	r := s.post("/v1/chat/completions", "", `{"model":"V5","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	ev := sseEvents(readAll(t, r.Body))
	if len(ev) != 3 || !strings.HasPrefix(ev[1], `data: {"error":{"message":"Poe: Internal server error (request id `) || ev[2] != "data: [DONE]" {
		t.Fatalf("events %q", ev)
	}
	// Not streaming, the same failure is an HTTP error.
	if r := s.post("/v1/chat/completions", "", `{"model":"V5","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 502 {
		t.Fatalf("non-stream V5: %d", r.StatusCode)
	}
}

func TestTimeouts(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-timeout
		timeout 300ms
		base_url {FAKE}
	}`)
	for _, stream := range []string{"false", "true"} {
		r := s.post("/v1/chat/completions", "", `{"model":"Stall-first","stream":`+stream+`,"messages":[{"role":"user","content":"x"}]}`)
		if body := readAll(t, r.Body); r.StatusCode != 504 || !strings.Contains(body, `"code":"upstream_timeout"`) {
			t.Fatalf("stream=%s before output: %d %s", stream, r.StatusCode, body)
		}
	}
	r := s.post("/v1/chat/completions", "", `{"model":"Stall","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	ev := sseEvents(readAll(t, r.Body))
	if r.StatusCode != 200 || len(ev) != 3 || !strings.Contains(ev[0], `"content":"partial"`) ||
		!strings.Contains(ev[1], `"code":"upstream_timeout"`) || ev[2] != "data: [DONE]" {
		t.Fatalf("during output: %q", ev)
	}
}

func TestClientGoneCancelsPoe(t *testing.T) {
	ended := make(chan time.Time, 4)
	_, url := fakePoe(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r) // Stall hangs until the request is cancelled
			ended <- time.Now()
		})
	})
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-cancel
		base_url {FAKE}
	}`)
	req, _ := http.NewRequest("POST", s.base+"/v1/chat/completions", strings.NewReader(`{"model":"Stall","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	events := readEvents(resp.Body)
	if ev := <-events; !strings.Contains(ev, `"content":"partial"`) {
		t.Fatalf("first event %q", ev)
	}
	gone := time.Now()
	resp.Body.Close() // the client goes away mid-stream
	select {
	case at := <-ended:
		if d := at.Sub(gone); d > time.Second {
			t.Fatalf("Poe request cancelled after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Poe request still open 5 s after the client left")
	}
}

func TestKeepAliveWhileWaiting(t *testing.T) {
	// Poe answers only once the client has seen a keep-alive, so the
	// order is fixed by the test, not by a 50 ms timer beating a slow bot
	// on a busy machine.
	seen := make(chan struct{})
	_, url := fakePoe(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-seen:
			case <-time.After(30 * time.Second): // a broken module fails below instead of hanging
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-keepalive
		keepalive 50ms
		base_url {FAKE}
	}`)
	r := s.post("/v1/chat/completions", "", `{"model":"Slow-10ms","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	var ev []string
	for e := range readEvents(r.Body) {
		if e == ": keep-alive" && len(ev) == 0 {
			close(seen)
		}
		ev = append(ev, e)
	}
	if len(ev) < 4 || ev[0] != ": keep-alive" || !strings.Contains(strings.Join(ev, "\n"), `"content":"slow answer"`) || ev[len(ev)-1] != "data: [DONE]" {
		t.Fatalf("events %q", ev)
	}
}

func TestEndWithoutDoneAndFiles(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-nodone
		base_url {FAKE}
	}`)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	params := userMessage("x")
	params.Model = "V9"
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil || resp.Choices[0].Message.Content != "truncated but ok" || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("%+v %v", resp, err)
	}
	if !strings.Contains(s.logs(), "without a done event") {
		t.Fatal("no warning logged for a stream without done")
	}
	params.Model = "V8"
	resp, err = c.Chat.Completions.New(ctx, params)
	if err != nil || resp.Choices[0].Message.Content != "Here it is: ![image.png](https://pfst.cf2.poecdn.net/base/image/f8042baa?w=1024&h=1024)" {
		t.Fatalf("%+v %v", resp, err)
	}
}

func TestPoolBusyIs429(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-busy-a tok-busy-b
		rate_limit 1
		max_wait 0
		base_url {FAKE}
	}`)
	for i := 0; i < 2; i++ {
		if r := s.post("/v1/chat/completions", "", `{"model":"V1","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	// Least recently used: the two requests went to different keys.
	reqs := fake.RequestsFor("V1")
	if reqs[0].Token == reqs[1].Token {
		t.Fatalf("both on %s", reqs[0].Token)
	}
	r := s.post("/v1/chat/completions", "", `{"model":"V1","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	body := readAll(t, r.Body)
	if r.StatusCode != 429 || !strings.Contains(body, `"code":"rate_limit_exceeded"`) {
		t.Fatalf("%d %s", r.StatusCode, body)
	}
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" || len(ra) > 2 {
		t.Fatalf("Retry-After %q", ra)
	}
}

func TestCORS(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-cors
		auth_keys sk-cors
		cors https://app.example
		base_url {FAKE}
	}`)
	req, _ := http.NewRequest("OPTIONS", s.base+"/v1/chat/completions", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Headers") != "authorization, content-type" || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight %d %v", r.StatusCode, r.Header)
	}
	r2 := s.post("/v1/chat/completions", "", `{}`, "Origin", "https://app.example")
	if r2.StatusCode != 401 || r2.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("error without CORS headers: %v", r2.Header)
	}
	r3 := s.post("/v1/chat/completions", "", `{}`, "Origin", "https://evil.example")
	if r3.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS allowed an unlisted origin")
	}
}

func TestUpstreamH2C(t *testing.T) {
	protos := make(chan string, 8)
	fake, url := fakePoe(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			protos <- r.Proto
			h.ServeHTTP(w, r)
		})
	})
	_ = fake
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-h2c
		upstream_h2c
		base_url {FAKE}
	}`)
	r := s.post("/v1/chat/completions", "", `{"model":"V1","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if body := readAll(t, r.Body); !strings.Contains(body, `"content":" café!"`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("%d %s", r.StatusCode, body)
	}
	if p := <-protos; p != "HTTP/2.0" {
		t.Fatalf("Poe was reached over %s", p)
	}
}
