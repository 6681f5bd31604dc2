package poefake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

func TestBuiltinVectors(t *testing.T) {
	_, ts := newFake(t, Options{})
	get := func(bot string) answer {
		t.Helper()
		resp, body := postBot(t, ts, bot, "k", userQuery("hi"))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", bot, resp.StatusCode)
		}
		return interpret(parseSSE(body))
	}
	check := func(bot, text string, done bool, nErr int) answer {
		t.Helper()
		a := get(bot)
		if a.text != text || a.done != done || len(a.errors) != nErr || len(a.badEvents) != 0 {
			t.Errorf("%s: got %+v; want text %q done %v errors %d", bot, a, text, done, nErr)
		}
		return a
	}
	check("V1", "Hello café!", true, 0)
	check("V2", "The capital of Nepal is Kathmandu.", true, 0)
	if a := check("V3", "", false, 1); len(a.errors) == 1 && a.errors[0] != `{"allow_retry": true, "text": "Internal server error"}` {
		t.Errorf("V3 error %s", a.errors[0])
	}
	if a := check("V4", "", true, 1); len(a.errors) == 1 && !strings.Contains(a.errors[0], `"error_type": "insufficient_fund"`) {
		t.Errorf("V4 error %s", a.errors[0])
	}
	check("V5", "Partial answ", false, 1)
	check("V7", "there were no tool calls!", true, 0)
	check("V7-text", "there were no tool calls!", true, 0)
	if a := check("V8", "Here it is: ![image.png][Ab3dE9xZ]", true, 0); len(a.files) != 1 || a.files[0] !=
		`{"url": "https://pfst.cf2.poecdn.net/base/image/f8042baa?w=1024&h=1024", "content_type": "image/png", "name": "image.png", "inline_ref": "Ab3dE9xZ"}` {
		t.Errorf("V8 files %v", a.files)
	}
	if a := check("V8-noref", "Here is your file.", true, 0); len(a.files) != 1 || !strings.HasSuffix(a.files[0], `"inline_ref": null}`) {
		t.Errorf("V8-noref files %v", a.files)
	}
	check("V9", "truncated but ok", false, 0)
	check("V10", "hello", true, 0)
	check("Reasoning", "*Thinking...*\n\n> The user asks for 2+2.\n> That is 4.\n\n2 + 2 = 4.", true, 0)
	if a := check("Image", "Here it is: ![image.png][Ab3dE9xZ]", true, 0); len(a.files) != 1 || !strings.Contains(a.files[0], "fake1?w=1024&h=1024") {
		t.Errorf("Image files %v", a.files)
	}
	if a := get("V10-badjson"); len(a.badEvents) != 1 || a.badEvents[0] != `text: {"text": banana}` {
		t.Errorf("V10-badjson %+v", a)
	}
	if a := get("V10-nontext"); len(a.badEvents) != 1 || a.badEvents[0] != `text: {"text": 123}` {
		t.Errorf("V10-nontext %+v", a)
	}

	// V2's tail after done is on the wire.
	_, body := postBot(t, ts, "V2", "k", userQuery("hi"))
	if !strings.HasSuffix(body, "event: done\r\ndata: {}\r\n\r\nevent: text\r\ndata: {\"text\": \"IGNORED AFTER DONE\"}\r\n\r\n") ||
		!strings.HasPrefix(body, "event: meta\r\n") {
		t.Errorf("V2 body %q", body)
	}
	// V10's noise is there too.
	_, body = postBot(t, ts, "V10", "k", userQuery("hi"))
	for _, s := range []string{"event: data\r\ndata: {\"metadata\": \"x\"}", "event: weird\r\ndata: {}", "event: ping\r\ndata: {}"} {
		if !strings.Contains(body, s) {
			t.Errorf("V10 lacks %q", s)
		}
	}
	if strings.Count(body, "event: meta") != 2 {
		t.Errorf("V10 should have two metas: %q", body)
	}
}

func TestV11(t *testing.T) {
	_, ts := newFake(t, Options{})
	resp, body := postBot(t, ts, "V11", "k", userQuery("hi"))
	if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/json" ||
		body != `{"error":{"message":"Invalid API key provided","type":"invalid_request_error","code":"invalid_api_key"}}` {
		t.Errorf("V11: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = postBot(t, ts, "V11-429", "k", userQuery("hi"))
	if resp.StatusCode != 429 || resp.Header.Get("x-ratelimit-reset-requests") != "1" || resp.Header.Get("Retry-After") != "1" ||
		!strings.Contains(body, "rate_limit_exceeded") {
		t.Errorf("V11-429: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

const weatherTool = `[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}}}]`

func TestV6RoundTrip(t *testing.T) {
	_, ts := newFake(t, Options{})
	q := poeclient.NewQuery([]poeclient.ProtocolMessage{poeclient.NewMessage("user", "Weather in Paris?")})
	if err := json.Unmarshal([]byte(weatherTool), &q.Tools); err != nil {
		t.Fatal(err)
	}
	body1, _ := json.Marshal(q)
	_, raw := postBot(t, ts, "V6", "k", body1)
	// First chunk exactly as vector V6a.
	wantFirst := `data: {"id":"chatcmpl-abcde","object":"chat.completion.chunk","created":1738799163,"model":"gpt-3.5-turbo-0125","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_123","type":"function","function":{"name":"get_current_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}` + "\r\n"
	if !strings.HasPrefix(raw, "event: json\r\n"+wantFirst) {
		t.Errorf("V6a first chunk: %q", raw)
	}
	a := interpret(parseSSE(raw))
	if a.toolIDs[0] != "call_123" || a.toolArgs[0] != `{"location":"Paris"}` || a.finish != "tool_calls" || !a.done || a.text != "" {
		t.Errorf("V6a: %+v", a)
	}

	q.ToolCalls = []poeclient.ToolCallDefinition{{ID: "call_123", Type: "function", Function: poeclient.FunctionCall{Name: "get_current_weather", Arguments: a.toolArgs[0]}}}
	q.ToolResults = []poeclient.ToolResultDefinition{{Role: "tool", Name: "get_current_weather", ToolCallID: "call_123", Content: `"{\"temperature\": \"22\"}"`}}
	body2, _ := json.Marshal(q)
	_, raw = postBot(t, ts, "V6", "k", body2)
	if a := interpret(parseSSE(raw)); a.text != "It is 22 degrees in Paris." || !a.done {
		t.Errorf("V6b: %+v", a)
	}
	_, raw = postBot(t, ts, "V6", "k", userQuery("hi"))
	if a := interpret(parseSSE(raw)); a.text != "I have no tools." || !a.done {
		t.Errorf("V6 without tools: %+v", a)
	}

	_, raw = postBot(t, ts, "V6-parallel", "k", body1)
	a = interpret(parseSSE(raw))
	if a.toolIDs[0] != "call_1" || a.toolIDs[1] != "call_2" || a.toolArgs[0] != `{"location":"Paris"}` ||
		a.toolArgs[1] != `{"location":"Tokyo"}` || a.finish != "tool_calls" || !a.done {
		t.Errorf("V6-parallel: %+v", a)
	}
}

func TestEcho(t *testing.T) {
	_, ts := newFake(t, Options{})
	msg := "Hello, wörld! 😀 日本語 and a rather long tail"
	body := queryOf(
		poeclient.NewMessage("system", "sys"),
		poeclient.NewMessage("user", msg),
		poeclient.NewMessage("bot", "not me"),
	)
	_, raw := postBot(t, ts, "Echo", "k", body)
	var got strings.Builder
	for _, ev := range parseSSE(raw) {
		if ev.name != "text" {
			continue
		}
		var d struct{ Text string }
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Text) > 8 || len(d.Text) == 0 || !utf8.ValidString(d.Text) {
			t.Errorf("bad chunk %q", d.Text)
		}
		got.WriteString(d.Text)
	}
	if got.String() != msg || !strings.HasSuffix(raw, "event: done\r\ndata: {}\r\n\r\n") {
		t.Errorf("echo = %q, raw %q", got.String(), raw)
	}
	_, raw = postBot(t, ts, "Echo", "k", userQuery(""))
	if a := interpret(parseSSE(raw)); a.text != "(empty)" || !a.done {
		t.Errorf("empty echo: %+v", a)
	}
}

func TestParseChunks(t *testing.T) {
	good := []struct {
		name     string
		n, size  int
		interval time.Duration
	}{
		{"Chunks-200x16", 200, 16, 0},
		{"Chunks-3x5-5s", 3, 5, 5 * time.Second},
		{"Chunks-10x4-100ms", 10, 4, 100 * time.Millisecond},
		{"Chunks-0x0", 0, 0, 0},
	}
	for _, tc := range good {
		n, size, iv, ok := ParseChunks(tc.name)
		if !ok || n != tc.n || size != tc.size || iv != tc.interval {
			t.Errorf("ParseChunks(%q) = %d %d %v %v", tc.name, n, size, iv, ok)
		}
	}
	for _, name := range []string{"Chunks-", "Chunks-3", "Chunks-ax5", "Chunks-3x", "Chunks-3x5-", "Chunks-3x5-xyz",
		"Chunks-3x5--1s", "Chunk-3x5", "Chunks-3x-1", "Chunks--3x5", "Chunks-99999999x1", "Chunks-100000x1000", "chunks-3x5"} {
		if _, _, _, ok := ParseChunks(name); ok {
			t.Errorf("ParseChunks(%q) accepted", name)
		}
	}
}

func TestChunkText(t *testing.T) {
	for _, size := range []int{0, 1, 2, 3, 16, 100} {
		for i := range 1200 {
			s := ChunkText(i, size)
			if len(s) != size {
				t.Fatalf("ChunkText(%d, %d) has length %d", i, size, len(s))
			}
			for _, c := range []byte(s) {
				if c < 0x21 || c > 0x7e {
					t.Fatalf("ChunkText(%d, %d) = %q not printable", i, size, s)
				}
			}
		}
	}
	if got := ChunkText(12, 8); got != "12.pqrst" || ChunkText(12, 8) != got {
		t.Errorf("ChunkText(12, 8) = %q", got)
	}
	if ChunkText(3, 16) == ChunkText(4, 16) {
		t.Error("chunks not distinct")
	}
}

func TestChunksAndSlowBots(t *testing.T) {
	fake, ts := newFake(t, Options{})
	for _, bot := range []string{"Chunks-3x5", "Chunks-4x7-1ms"} {
		n, size, _, _ := ParseChunks(bot)
		_, raw := postBot(t, ts, bot, "k", userQuery("x"))
		var want strings.Builder
		texts := 0
		for _, ev := range parseSSE(raw) {
			if ev.name == "text" {
				var d struct{ Text string }
				_ = json.Unmarshal([]byte(ev.data), &d)
				if d.Text != ChunkText(texts, size) {
					t.Errorf("%s chunk %d = %q", bot, texts, d.Text)
				}
				texts++
			}
		}
		for i := range n {
			want.WriteString(ChunkText(i, size))
		}
		if a := interpret(parseSSE(raw)); texts != n || a.text != want.String() || !a.done {
			t.Errorf("%s: %d texts, %+v", bot, texts, a)
		}
	}
	// The interval goes between events, not before the first.
	fake.mu.Lock()
	sc := fake.lookupLocked("Chunks-3x1-1h")(nil)
	fake.mu.Unlock()
	kinds := ""
	for _, st := range sc {
		kinds += map[stepKind]string{kindEvent: "e", kindSleep: "s"}[st.kind]
	}
	if kinds != "esesee" {
		t.Errorf("Chunks-3x1-1h steps %q", kinds)
	}

	_, raw := postBot(t, ts, "Slow-1ms", "k", userQuery("x"))
	if a := interpret(parseSSE(raw)); a.text != "slow answer" || !a.done {
		t.Errorf("Slow: %+v", a)
	}
	_, raw = postBot(t, ts, "Slow-xyz", "k", userQuery("x"))
	if !strings.Contains(raw, "Bot does not exist: Slow-xyz") {
		t.Errorf("Slow-xyz: %q", raw)
	}
}

func TestUnknownBot(t *testing.T) {
	fake, ts := newFake(t, Options{})
	resp, body := postBot(t, ts, "Nope", "k", userQuery("x"))
	if resp.StatusCode != 200 || body != "event: error\r\ndata: {\"allow_retry\": false, \"text\": \"Bot does not exist: Nope\"}\r\n\r\n" {
		t.Errorf("unknown bot: %d %q", resp.StatusCode, body)
	}
	fake.SetUnknownBotStatus(http.StatusNotFound)
	resp, body = postBot(t, ts, "Nope", "k", userQuery("x"))
	if resp.StatusCode != 404 || body != `{"error":{"message":"Bot Nope does not exist","type":"invalid_request_error","code":"model_not_found"}}` {
		t.Errorf("unknown bot 404: %d %q", resp.StatusCode, body)
	}
}

func TestSetBotAndPrefix(t *testing.T) {
	fake, ts := newFake(t, Options{})
	fake.SetBot("V1", func(req *Request) Script { return Script{Text("replaced " + req.Query.Query[0].Content), Done()} })
	_, raw := doRead(t, newBotRequest(t.Context(), t, ts.URL+"/some/prefix/bot/V1", "k", userQuery("x")))
	if a := interpret(parseSSE(raw)); a.text != "replaced x" {
		t.Errorf("got %+v", a)
	}
}
