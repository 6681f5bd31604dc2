package messages

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

func parseEvents(t *testing.T, body string) []sseEvent {
	t.Helper()
	var out []sseEvent
	for _, chunk := range strings.Split(body, "\n\n") {
		if strings.TrimSpace(chunk) == "" {
			continue
		}
		lines := strings.Split(chunk, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("malformed event %q", chunk)
		}
		ev := sseEvent{name: strings.TrimPrefix(lines[0], "event: "), raw: strings.TrimPrefix(lines[1], "data: ")}
		if err := json.Unmarshal([]byte(ev.raw), &ev.data); err != nil {
			t.Fatalf("event %q: %v", chunk, err)
		}
		if ev.data["type"] != ev.name {
			t.Fatalf("event %s has type %v", ev.name, ev.data["type"])
		}
		out = append(out, ev)
	}
	return out
}

type block struct {
	typ, text, input, signature, id, name string
}

// checkStream applies the rules Claude Code and the SDKs enforce (§2.6)
// and returns the blocks and the final message_delta.
func checkStream(t *testing.T, evs []sseEvent) ([]block, map[string]any) {
	t.Helper()
	if len(evs) < 3 || evs[0].name != "message_start" {
		t.Fatalf("no message_start first: %+v", evs)
	}
	msg := evs[0].data["message"].(map[string]any)
	if id, _ := msg["id"].(string); !strings.HasPrefix(id, "msg_") || msg["role"] != "assistant" || msg["type"] != "message" {
		t.Fatalf("message_start %s", evs[0].raw)
	}
	var blocks []block
	open := -1
	var final map[string]any
	for i, ev := range evs[1:] {
		if final != nil && ev.name != "message_stop" {
			t.Fatalf("%s after message_delta", ev.name)
		}
		switch ev.name {
		case "ping":
		case "content_block_start":
			idx := int(ev.data["index"].(float64))
			if open >= 0 || idx != len(blocks) {
				t.Fatalf("event %d: start of %d while %d open, %d blocks", i, idx, open, len(blocks))
			}
			cb := ev.data["content_block"].(map[string]any)
			b := block{typ: cb["type"].(string)}
			switch b.typ {
			case "tool_use":
				b.id, b.name = cb["id"].(string), cb["name"].(string)
				if in, _ := json.Marshal(cb["input"]); string(in) != "{}" {
					t.Fatalf("tool_use start carries input %s", in)
				}
			case "text":
				if cb["text"] != "" {
					t.Fatalf("text start %s", ev.raw)
				}
			case "thinking":
				if cb["thinking"] != "" {
					t.Fatalf("thinking start %s", ev.raw)
				}
			}
			blocks = append(blocks, b)
			open = idx
		case "content_block_delta":
			idx := int(ev.data["index"].(float64))
			if idx != open {
				t.Fatalf("delta for %d while %d open", idx, open)
			}
			d := ev.data["delta"].(map[string]any)
			b := &blocks[idx]
			switch want := map[string]string{"text_delta": "text", "input_json_delta": "tool_use", "thinking_delta": "thinking", "signature_delta": "thinking"}[d["type"].(string)]; {
			case want != b.typ:
				t.Fatalf("%v in a %s block", d["type"], b.typ)
			case d["type"] == "text_delta":
				b.text += d["text"].(string)
			case d["type"] == "thinking_delta":
				if b.signature != "" {
					t.Fatal("thinking after the signature")
				}
				b.text += d["thinking"].(string)
			case d["type"] == "signature_delta":
				b.signature = d["signature"].(string)
			case d["type"] == "input_json_delta":
				b.input += d["partial_json"].(string)
			}
		case "content_block_stop":
			if idx := int(ev.data["index"].(float64)); idx != open {
				t.Fatalf("stop of %d while %d open", idx, open)
			}
			b := blocks[open]
			if b.typ == "thinking" && b.signature == "" {
				t.Fatal("thinking block without signature")
			}
			if b.typ == "tool_use" && b.input != "" && !json.Valid([]byte(b.input)) {
				t.Fatalf("tool input %q", b.input)
			}
			open = -1
		case "message_delta":
			if open >= 0 {
				t.Fatal("message_delta with a block open")
			}
			final = ev.data
			if _, ok := final["usage"].(map[string]any)["output_tokens"].(float64); !ok {
				t.Fatalf("message_delta without usage: %s", ev.raw)
			}
		case "message_stop":
			if final == nil || i != len(evs)-2 {
				t.Fatal("message_stop not last or without message_delta")
			}
		default:
			t.Fatalf("unexpected event %s", ev.name)
		}
	}
	if final == nil {
		t.Fatal("no message_delta")
	}
	return blocks, final
}

func newTestStream(thinking bool) (*stream, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	return newStream(rec, "claude-x", thinking, 0), rec
}

func TestStreamThinkingTextTools(t *testing.T) {
	s, rec := newTestStream(true)
	s.Reasoning([]byte("Let me "))
	s.Reasoning([]byte("think."))
	s.Content([]byte("Running "))
	s.Content([]byte("it."))
	s.Content(nil)
	s.ToolCall(0, "call_1", "Bash")
	s.ToolArgs(0, []byte(`{"command":`))
	s.ToolArgs(0, []byte(`"ls"}`))
	s.ToolCall(1, "toolu_keepme", "Read")
	s.Finish(&conv.Result{Finish: conv.FinishToolCalls, Usage: &conv.Usage{PromptTokens: 100, CompletionTokens: 12}})
	s.Close()
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Fatal(ct)
	}
	blocks, final := checkStream(t, parseEvents(t, rec.Body.String()))
	if len(blocks) != 4 || blocks[0].typ != "thinking" || blocks[0].text != "Let me think." || !strings.HasPrefix(blocks[0].signature, "poe-openai.v1.") ||
		blocks[1].typ != "text" || blocks[1].text != "Running it." ||
		blocks[2].typ != "tool_use" || blocks[2].name != "Bash" || blocks[2].input != `{"command":"ls"}` ||
		blocks[3].id != "toolu_keepme" || blocks[3].input != "" {
		t.Fatalf("%+v", blocks)
	}
	if !goodToolID.MatchString(blocks[2].id) || blocks[2].id == "call_1" {
		t.Fatalf("tool id %q", blocks[2].id)
	}
	d := final["delta"].(map[string]any)
	u := final["usage"].(map[string]any)
	if d["stop_reason"] != "tool_use" || d["stop_sequence"] != nil || u["output_tokens"].(float64) != 12 || u["input_tokens"].(float64) != 100 {
		t.Fatalf("%+v", final)
	}
}

func TestStreamHidesThinkingUnlessAsked(t *testing.T) {
	s, rec := newTestStream(false)
	s.Reasoning([]byte("secret plan"))
	s.Content([]byte("Hi"))
	s.Finish(&conv.Result{Finish: conv.FinishLength, Usage: &conv.Usage{PromptTokens: 3, CompletionTokens: 9}})
	blocks, final := checkStream(t, parseEvents(t, rec.Body.String()))
	if len(blocks) != 1 || blocks[0].text != "Hi" || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("%+v", blocks)
	}
	if final["delta"].(map[string]any)["stop_reason"] != "max_tokens" {
		t.Fatalf("%+v", final)
	}
}

func TestStreamInterleavedToolCalls(t *testing.T) {
	// As V6-parallel: two calls announced, then their arguments interleaved.
	s, rec := newTestStream(false)
	s.ToolCall(0, "call_1", "weather")
	s.ToolCall(1, "call_1", "weather") // a repeated Poe id still gets its own
	s.ToolArgs(0, []byte(`{"location":`))
	s.ToolArgs(1, []byte(`{"location":`))
	s.ToolArgs(0, []byte(`"Paris"}`))
	s.ToolArgs(1, []byte(`"Tokyo"}`))
	s.ToolCall(2, "call_3", "noargs")
	s.ToolCall(3, "call_4", "late")
	s.ToolArgs(3, []byte(`{"a":1}`))
	s.Finish(&conv.Result{Finish: conv.FinishStop, Usage: &conv.Usage{}})
	blocks, final := checkStream(t, parseEvents(t, rec.Body.String()))
	want := []string{`{"location":"Paris"}`, `{"location":"Tokyo"}`, ``, `{"a":1}`}
	if len(blocks) != len(want) {
		t.Fatalf("%+v", blocks)
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		if b.typ != "tool_use" || b.input != want[i] || ids[b.id] {
			t.Fatalf("block %d: %+v", i, b)
		}
		ids[b.id] = true
	}
	// Tool calls present: the stop reason says so, whatever Poe said.
	if final["delta"].(map[string]any)["stop_reason"] != "tool_use" {
		t.Fatalf("%+v", final)
	}
}

func TestStreamPendingToolsFlushedByText(t *testing.T) {
	s, rec := newTestStream(false)
	s.ToolCall(0, "a", "f")
	s.ToolArgs(0, []byte(`{"x":`))
	s.ToolCall(1, "b", "g")
	s.ToolArgs(1, []byte(`{}`))
	s.Content([]byte("text after tools"))
	s.ToolArgs(0, []byte(`1}`)) // too late: block 0 is closed
	s.Finish(&conv.Result{Finish: conv.FinishStop, Usage: &conv.Usage{}})
	evs := parseEvents(t, rec.Body.String())
	// block 0's input is incomplete JSON: checkStream would refuse it,
	// so check order by hand.
	var order []string
	for _, ev := range evs {
		if ev.name == "content_block_start" {
			order = append(order, ev.data["content_block"].(map[string]any)["type"].(string))
		}
	}
	if fmt.Sprint(order) != "[tool_use tool_use text]" || strings.Contains(rec.Body.String(), `"partial_json":"1}"`) {
		t.Fatalf("%v\n%s", order, rec.Body.String())
	}
}

func TestStreamEmptyAnswer(t *testing.T) {
	s, rec := newTestStream(true)
	s.Finish(&conv.Result{Finish: conv.FinishToolCalls, Usage: &conv.Usage{PromptTokens: 1}})
	blocks, final := checkStream(t, parseEvents(t, rec.Body.String()))
	if len(blocks) != 0 || final["delta"].(map[string]any)["stop_reason"] != "end_turn" {
		t.Fatalf("%+v %+v", blocks, final)
	}
}

func TestStreamFail(t *testing.T) {
	// Before anything was written: an HTTP error in Anthropic's shape.
	s, rec := newTestStream(false)
	if !s.Fail(&conv.Error{Status: 429, Message: "busy", RetryAfter: 3 * time.Second}) {
		t.Fatal("not as HTTP")
	}
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "3" || !strings.Contains(rec.Body.String(), `"type":"rate_limit_error"`) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// After: an error event, and the stream ends.
	s, rec = newTestStream(false)
	s.Content([]byte("partial"))
	if s.Fail(&conv.Error{Status: 502, Message: "Poe: Internal server error"}) {
		t.Fatal("as HTTP after the stream started")
	}
	s.Content([]byte("more"))
	evs := parseEvents(t, rec.Body.String())
	last := evs[len(evs)-1]
	if rec.Code != 200 || last.name != "error" || last.raw != `{"type":"error","error":{"type":"api_error","message":"Poe: Internal server error"}}` ||
		strings.Contains(rec.Body.String(), "more") {
		t.Fatalf("%s", rec.Body)
	}
}

// chanWriter hands each write to the test as it happens.
type chanWriter struct {
	h      http.Header
	writes chan string
}

func (w *chanWriter) Header() http.Header         { return w.h }
func (w *chanWriter) WriteHeader(int)             {}
func (w *chanWriter) Write(b []byte) (int, error) { w.writes <- string(b); return len(b), nil }
func (w *chanWriter) Flush()                      {}

func TestStreamPingStartsTheMessage(t *testing.T) {
	w := &chanWriter{h: http.Header{}, writes: make(chan string, 16)}
	s := newStream(w, "m", false, 20*time.Millisecond)
	defer s.Close()
	var first string
	select {
	case first = <-w.writes:
	case <-time.After(10 * time.Second):
		t.Fatal("no keep-alive")
	}
	evs := parseEvents(t, first)
	if len(evs) != 2 || evs[0].name != "message_start" || evs[1].name != "ping" {
		t.Fatalf("%q", first)
	}
	select {
	case next := <-w.writes:
		if evs := parseEvents(t, next); len(evs) != 1 || evs[0].name != "ping" {
			t.Fatalf("%q", next)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no second keep-alive")
	}
	s.Content([]byte("x"))
	got := ""
	for !strings.Contains(got, "text_delta") {
		select {
		case b := <-w.writes:
			got += b
		case <-time.After(10 * time.Second):
			t.Fatal("no text")
		}
	}
	if strings.Contains(got, "message_start") {
		t.Fatalf("message_start twice: %q", got)
	}
}

func TestNonStreamMessage(t *testing.T) {
	rec := httptest.NewRecorder()
	p, e := FrontEnd{}.Parse([]byte(`{"model":"claude-x","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"user","content":"hi"}]}`), "")
	if e != nil {
		t.Fatal(e)
	}
	out := p.Output(rec, conv.OutputOptions{})
	out.Finish(&conv.Result{Content: "Calling.", Reasoning: "think <b>", Finish: conv.FinishToolCalls,
		ToolCalls: []conv.ToolCall{{ID: "call_1", Name: "Bash", Arguments: `{"command":"ls"}`}, {ID: "call_1", Name: "Noargs"}, {ID: "x", Name: "Bad", Arguments: `{"unterminated`}},
		Usage:     &conv.Usage{PromptTokens: 7, CompletionTokens: 5}})
	var m struct {
		ID           string
		Type, Role   string
		Model        string
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
		Content      []struct {
			Type, Text, Thinking, Signature, ID, Name string
			Input                                     json.RawMessage
		}
		Usage map[string]int
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err, rec.Body)
	}
	if rec.Code != 200 || !strings.HasPrefix(m.ID, "msg_") || m.Type != "message" || m.Role != "assistant" || m.Model != "claude-x" ||
		m.StopReason != "tool_use" || m.StopSequence != nil || rec.Header().Get("Request-Id") == "" {
		t.Fatalf("%s", rec.Body)
	}
	if fmt.Sprint(m.Usage) != "map[cache_creation_input_tokens:0 cache_read_input_tokens:0 input_tokens:7 output_tokens:5]" {
		t.Fatal(m.Usage)
	}
	c := m.Content
	if len(c) != 5 || c[0].Type != "thinking" || c[0].Thinking != "think <b>" || c[0].Signature == "" || c[1].Type != "text" || c[1].Text != "Calling." ||
		c[2].Type != "tool_use" || string(c[2].Input) != `{"command":"ls"}` || !goodToolID.MatchString(c[2].ID) ||
		string(c[3].Input) != `{}` || c[3].ID == c[2].ID || string(c[4].Input) != `{}` {
		t.Fatalf("%s", rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"think <b>"`) {
		t.Fatal("HTML escaped")
	}

	// Without thinking asked for, and a plain end.
	rec = httptest.NewRecorder()
	p, _ = FrontEnd{}.Parse([]byte(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`), "")
	p.Output(rec, conv.OutputOptions{}).Finish(&conv.Result{Content: "Hi", Reasoning: "hidden", Finish: conv.FinishLength, Usage: &conv.Usage{}})
	if b := rec.Body.String(); strings.Contains(b, "hidden") || !strings.Contains(b, `"stop_reason":"max_tokens"`) ||
		!strings.Contains(b, `"content":[{"type":"text","text":"Hi"}]`) {
		t.Fatal(b)
	}
	// Non-stream failure: always an HTTP error.
	rec = httptest.NewRecorder()
	if !p.Output(rec, conv.OutputOptions{}).Fail(&conv.Error{Status: 504, Message: "slow"}) || rec.Code != 504 {
		t.Fatal(rec.Code)
	}
}

func TestIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID("msg_")
		if seen[id] || len(id) != 28 {
			t.Fatal(id)
		}
		seen[id] = true
	}
}
