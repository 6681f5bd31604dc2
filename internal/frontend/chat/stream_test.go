package chat

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

func chunks(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if ev != "" {
			out = append(out, ev)
		}
	}
	return out
}

func TestStreamWriterChunks(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := NewStreamWriter(rec, "chatcmpl-x", "my-model", 42, false, 0)
	sw.Content([]byte("Hel"))
	sw.Content([]byte("lo\n\"x\""))
	sw.Finish(&conv.Result{Finish: conv.FinishStop})
	sw.Close()
	got := chunks(rec.Body.String())
	want := []string{
		`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":42,"model":"my-model","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}]}`,
		`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":42,"model":"my-model","choices":[{"index":0,"delta":{"content":"lo\n\"x\""},"logprobs":null,"finish_reason":null}]}`,
		`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":42,"model":"my-model","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
		`data: [DONE]`,
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got\n%s", strings.Join(got, "\n"))
	}
	if rec.Header().Get("Content-Type") != "text/event-stream" || !rec.Flushed || rec.Code != 200 {
		t.Fatalf("headers %v flushed %v", rec.Header(), rec.Flushed)
	}
	for _, c := range got[:3] {
		var v map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(c, "data: ")), &v); err != nil {
			t.Fatalf("invalid JSON %s: %v", c, err)
		}
	}
}

func TestStreamWriterToolsUsageAndEmptyAnswer(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := NewStreamWriter(rec, "id", "m", 1, true, 0)
	sw.ToolCall(0, "call_1", "get_weather")
	sw.ToolArgs(0, []byte(`{"loc`))
	sw.Reasoning([]byte("hmm"))
	sw.Finish(&conv.Result{Finish: conv.FinishToolCalls, Usage: &conv.Usage{PromptTokens: 10, CompletionTokens: 5, ReasoningTokens: 2}})
	got := chunks(rec.Body.String())
	if !strings.Contains(got[0], `"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}`) {
		t.Fatalf("tool call chunk %s", got[0])
	}
	if !strings.Contains(got[1], `"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]}`) {
		t.Fatalf("args chunk %s", got[1])
	}
	if !strings.Contains(got[2], `"delta":{"reasoning_content":"hmm"}`) {
		t.Fatalf("reasoning chunk %s", got[2])
	}
	if !strings.Contains(got[3], `"finish_reason":"tool_calls"}],"usage":null}`) {
		t.Fatalf("finish %s", got[3])
	}
	if !strings.HasSuffix(got[4], `"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}}`) {
		t.Fatalf("usage %s", got[4])
	}

	rec = httptest.NewRecorder()
	sw = NewStreamWriter(rec, "id", "m", 1, false, 0)
	sw.Finish(&conv.Result{Finish: conv.FinishStop})
	if got := chunks(rec.Body.String()); !strings.Contains(got[0], `"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"stop"`) {
		t.Fatalf("empty answer %s", got[0])
	}
}

func TestStreamWriterFail(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := NewStreamWriter(rec, "id", "m", 1, false, 0)
	asHTTP := sw.Fail(&conv.Error{Status: 504, Type: conv.TypeServer, Code: "upstream_timeout", Message: "slow"})
	if !asHTTP || rec.Code != 504 || rec.Header().Get("Content-Type") != "application/json" ||
		!strings.Contains(rec.Body.String(), `"code":"upstream_timeout"`) {
		t.Fatalf("before output: %v %d %s", asHTTP, rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	sw = NewStreamWriter(rec, "id", "m", 1, false, 0)
	sw.Content([]byte("partial"))
	asHTTP = sw.Fail(&conv.Error{Status: 502, Type: conv.TypeServer, Code: "upstream_error", Message: "boom"})
	got := chunks(rec.Body.String())
	if asHTTP || rec.Code != 200 || len(got) != 3 || got[1] != `data: {"error":{"message":"boom","type":"server_error","param":null,"code":"upstream_error"}}` || got[2] != "data: [DONE]" {
		t.Fatalf("mid-stream: %q", got)
	}
}

// lockedRecorder lets the test read what the keep-alive goroutine wrote.
type lockedRecorder struct {
	mu     sync.Mutex
	header http.Header
	body   strings.Builder
	code   int
	wrote  chan struct{}
}

func (r *lockedRecorder) Header() http.Header { return r.header }
func (r *lockedRecorder) WriteHeader(c int)   { r.mu.Lock(); r.code = c; r.mu.Unlock() }
func (r *lockedRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.body.Write(b)
	r.mu.Unlock()
	select {
	case r.wrote <- struct{}{}:
	default:
	}
	return len(b), nil
}
func (r *lockedRecorder) Flush() {}
func (r *lockedRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

func TestStreamWriterKeepAlive(t *testing.T) {
	rec := &lockedRecorder{header: http.Header{}, wrote: make(chan struct{}, 1)}
	sw := NewStreamWriter(rec, "id", "m", 1, false, 20*time.Millisecond)
	defer sw.Close()
	for i := 0; i < 2; i++ {
		select {
		case <-rec.wrote:
		case <-time.After(5 * time.Second):
			t.Fatal("no keep-alive")
		}
	}
	if !sw.Started() || !strings.HasPrefix(rec.String(), ": keep-alive\n\n: keep-alive\n\n") || strings.Contains(rec.String(), "data:") {
		t.Fatalf("started %v body %q", sw.Started(), rec.String())
	}
	// Once the response started, an error must go in-stream.
	asHTTP := sw.Fail(&conv.Error{Status: 502, Type: conv.TypeServer, Message: "x"})
	if asHTTP || !strings.Contains(rec.String(), `data: {"error"`) {
		t.Fatalf("after keep-alive: asHTTP %v", asHTTP)
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) Flush()                      {}

func BenchmarkStreamWriterContent(b *testing.B) {
	sw := NewStreamWriter(&discardWriter{h: http.Header{}}, NewID(), "gpt-4o", 1, false, 15*time.Second)
	defer sw.Close()
	delta := []byte("0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		sw.Content(delta)
	}
}

func TestStreamWriterHoldFlushes(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := NewStreamWriter(rec, "id", "m", 1, false, 0)
	sw.HoldFlushes()
	sw.Content([]byte("a"))
	sw.Content([]byte("b"))
	if rec.Flushed {
		t.Fatal("flushed while held")
	}
	if err := sw.Flush(); err != nil || !rec.Flushed || len(chunks(rec.Body.String())) != 2 {
		t.Fatalf("Flush: %v %v %q", err, rec.Flushed, rec.Body.String())
	}
	rec.Flushed = false
	sw.Flush() // nothing new: no flush
	if rec.Flushed {
		t.Fatal("empty flush")
	}
	sw.Finish(&conv.Result{Finish: conv.FinishStop}) // always flushes
	if !rec.Flushed || !strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n") {
		t.Fatal("Done did not flush")
	}
}
