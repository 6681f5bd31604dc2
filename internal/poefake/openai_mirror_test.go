package poefake

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newMirror(t *testing.T) *httptest.Server {
	t.Helper()
	m := NewOpenAIMirror()
	ts := httptest.NewServer(m)
	t.Cleanup(func() { m.Close(); ts.Close() })
	return ts
}

func postMirror(t *testing.T, ts *httptest.Server, path, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantChunks(n, size int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(ChunkText(i, size))
	}
	return b.String()
}

type mirrorChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// readMirrorStream decodes every data: event; it fails on anything else.
func readMirrorStream(t *testing.T, resp *http.Response) (chunks []mirrorChunk, done bool) {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || done {
			t.Fatalf("unexpected line %q (after [DONE]: %v)", line, done)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c mirrorChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return chunks, done
}

func TestMirrorStream(t *testing.T) {
	ts := newMirror(t)
	resp := postMirror(t, ts, "/v1/chat/completions", `{"model":"Chunks-5x7","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	chunks, done := readMirrorStream(t, resp)
	if !done {
		t.Fatal("no [DONE]")
	}
	if len(chunks) != 1+5+1 {
		t.Fatalf("%d chunks, want role + 5 + finish", len(chunks))
	}
	var content strings.Builder
	for i, c := range chunks {
		if c.Object != "chat.completion.chunk" || c.Model != "Chunks-5x7" || c.ID == "" || len(c.Choices) != 1 {
			t.Fatalf("chunk %d: %+v", i, c)
		}
		d := c.Choices[0]
		switch {
		case i == 0:
			if d.Delta.Role == nil || *d.Delta.Role != "assistant" || d.FinishReason != nil {
				t.Fatalf("first chunk is not the role chunk: %+v", d)
			}
		case i == len(chunks)-1:
			if d.FinishReason == nil || *d.FinishReason != "stop" || d.Delta.Content != nil {
				t.Fatalf("last chunk is not the finish chunk: %+v", d)
			}
		default:
			if d.Delta.Content == nil || d.FinishReason != nil {
				t.Fatalf("chunk %d has no content: %+v", i, d)
			}
			if got, want := *d.Delta.Content, ChunkText(i-1, 7); got != want {
				t.Fatalf("chunk %d = %q, want %q", i, got, want)
			}
			content.WriteString(*d.Delta.Content)
		}
	}
	if got, want := content.String(), wantChunks(5, 7); got != want {
		t.Fatalf("content %q, want %q", got, want)
	}
}

func TestMirrorNonStreaming(t *testing.T) {
	ts := newMirror(t)
	for range 2 { // the second answer comes from the cache
		resp := postMirror(t, ts, "/openai/v1/chat/completions", `{"model":"Chunks-64x16","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var c struct {
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Message struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"message"`
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		if c.Object != "chat.completion" || c.Model != "Chunks-64x16" || len(c.Choices) != 1 {
			t.Fatalf("%+v", c)
		}
		ch := c.Choices[0]
		if ch.Message.Role != "assistant" || ch.FinishReason != "stop" || ch.Message.Content != wantChunks(64, 16) {
			t.Fatalf("%+v", ch)
		}
	}
}

func TestMirrorInterval(t *testing.T) {
	ts := newMirror(t)
	start := time.Now()
	resp := postMirror(t, ts, "/v1/chat/completions", `{"model":"Chunks-3x4-20ms","stream":true}`)
	chunks, done := readMirrorStream(t, resp)
	if !done || len(chunks) != 5 {
		t.Fatalf("%d chunks, done %v", len(chunks), done)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("3 chunks 20ms apart took %v", d)
	}
}

func TestMirrorErrors(t *testing.T) {
	ts := newMirror(t)
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/v1/chat/completions", `{"model":"gpt-4o"}`, http.StatusNotFound},
		{"/v1/chat/completions", `{"model":`, http.StatusBadRequest},
		{"/v1/embeddings", `{"model":"Chunks-1x1"}`, http.StatusNotFound},
	} {
		resp := postMirror(t, ts, tc.path, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.path, tc.body, resp.StatusCode, tc.status)
		}
	}
	resp, err := http.Get(ts.URL + "/v1/chat/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
}

// BenchmarkMirrorStream is the mirror's own cost for one 200-chunk stream.
func BenchmarkMirrorStream(b *testing.B) {
	m := NewOpenAIMirror()
	body := `{"model":"Chunks-200x16","stream":true}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		w := &discardWriter{h: http.Header{}}
		m.ServeHTTP(w, req)
		if w.n < 200*16 {
			b.Fatalf("short stream: %d bytes", w.n)
		}
	}
}
