package poefake

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OpenAIMirror serves the answers of the Chunks bots already in OpenAI's
// Chat Completions format: POST <any prefix>/chat/completions with "model"
// set to a bot name such as "Chunks-200x16" or "Chunks-3x16-5s".
//
// A streaming answer is a role chunk, one content chunk per text event the
// fake would send (same count, same text, same pauses), a finish chunk and
// data: [DONE], each flushed. A non-streaming one is a chat.completion.
// Every answer is encoded once and cached, so that a plain reverse proxy in
// front of the mirror measures what proxying costs with no conversion at
// all: the floor a Poe-to-OpenAI gateway is compared against.
type OpenAIMirror struct {
	closed    chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	answers map[string]*mirrorAnswer
}

// mirrorAnswer is one model's answer, pre-encoded.
type mirrorAnswer struct {
	interval time.Duration // pause before every content chunk but the first
	role     []byte        // data: chunk with the assistant role
	chunks   [][]byte      // data: chunk per content piece
	finish   []byte        // data: chunk with finish_reason "stop"
	body     []byte        // the non-streaming chat.completion
}

var mirrorDone = []byte("data: [DONE]\n\n")

// Fixed so that answers can be encoded once; only the shape matters.
const (
	mirrorID      = "chatcmpl-poefakemirror0000000"
	mirrorCreated = 1738799163
)

// NewOpenAIMirror returns a mirror; it is an http.Handler.
func NewOpenAIMirror() *OpenAIMirror {
	return &OpenAIMirror{closed: make(chan struct{}), answers: map[string]*mirrorAnswer{}}
}

// Close ends the pauses of open streams, so that a server can shut down.
func (m *OpenAIMirror) Close() { m.closeOnce.Do(func() { close(m.closed) }) }

// ServeHTTP answers POST .../chat/completions.
func (m *OpenAIMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path, typeInvalidReq, "")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", typeInvalidReq, "")
		return
	}
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQueryBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid body: "+err.Error(), typeInvalidReq, "")
		return
	}
	a := m.answer(req.Model)
	if a == nil {
		writeError(w, http.StatusNotFound, "The model '"+req.Model+"' does not exist (the mirror serves Chunks-<n>x<size>[-<interval>])",
			typeInvalidReq, "model_not_found")
		return
	}
	if !req.Stream {
		if n := len(a.chunks); n > 1 && a.interval > 0 && !m.sleep(r, nil, time.Duration(n-1)*a.interval) {
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(a.body)
		return
	}
	m.stream(w, r, a)
}

func (m *OpenAIMirror) stream(w http.ResponseWriter, r *http.Request, a *mirrorAnswer) {
	h := w.Header()
	// Set directly: canonical keys already, no allocation per request.
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	h["X-Accel-Buffering"] = []string{"no"}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(a.role) {
		return
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for i, c := range a.chunks {
		if i > 0 && a.interval > 0 {
			if timer == nil {
				timer = time.NewTimer(a.interval)
			} else {
				timer.Reset(a.interval)
			}
			if !m.sleep(r, timer, a.interval) {
				return
			}
		}
		if !send(c) {
			return
		}
	}
	if send(a.finish) {
		send(mirrorDone)
	}
}

// sleep waits d (on timer if given), or returns false when the client goes
// away or the mirror is closed.
func (m *OpenAIMirror) sleep(r *http.Request, timer *time.Timer, d time.Duration) bool {
	if timer == nil {
		timer = time.NewTimer(d)
		defer timer.Stop()
	}
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
	case <-m.closed:
	}
	return false
}

// answer returns model's answer, encoding it on first use; nil for a model
// that is not a Chunks bot.
func (m *OpenAIMirror) answer(model string) *mirrorAnswer {
	m.mu.Lock()
	a, ok := m.answers[model]
	m.mu.Unlock()
	if ok {
		return a
	}
	n, size, interval, ok := ParseChunks(model)
	if !ok {
		return nil
	}
	a = encodeMirrorAnswer(model, n, size, interval)
	if n*size <= maxCachedBytes {
		m.mu.Lock()
		if len(m.answers) < maxDynamic {
			m.answers[model] = a
		}
		m.mu.Unlock()
	}
	return a
}

func encodeMirrorAnswer(model string, n, size int, interval time.Duration) *mirrorAnswer {
	head := `data: {"id":"` + mirrorID + `","object":"chat.completion.chunk","created":` +
		strconv.Itoa(mirrorCreated) + `,"model":` +
		jsonString(model) + `,"choices":[{"index":0,"delta":`
	event := func(delta, finish string) []byte {
		return []byte(head + delta + `,"logprobs":null,"finish_reason":` + finish + "}]}\n\n")
	}
	a := &mirrorAnswer{
		interval: interval,
		role:     event(`{"role":"assistant","content":""}`, "null"),
		chunks:   make([][]byte, n),
		finish:   event(`{}`, `"stop"`),
	}
	var content strings.Builder
	content.Grow(n * size)
	for i := range n {
		text := ChunkText(i, size)
		content.WriteString(text)
		a.chunks[i] = event(`{"content":`+jsonString(text)+`}`, "null")
	}
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type choice struct {
		Index        int     `json:"index"`
		Message      message `json:"message"`
		Logprobs     *string `json:"logprobs"`
		FinishReason string  `json:"finish_reason"`
	}
	type usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	body, _ := json.Marshal(struct {
		ID      string   `json:"id"`
		Object  string   `json:"object"`
		Created int64    `json:"created"`
		Model   string   `json:"model"`
		Choices []choice `json:"choices"`
		Usage   usage    `json:"usage"`
	}{mirrorID, "chat.completion", mirrorCreated, model,
		[]choice{{Message: message{"assistant", content.String()}, FinishReason: "stop"}},
		usage{1, n, n + 1}})
	a.body = append(body, '\n')
	return a
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
