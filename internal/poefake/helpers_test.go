package poefake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// newFake starts a fake behind httptest; cleanup releases open streams first
// so that ts.Close never waits on a hung handler.
func newFake(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	fake := New(opts)
	ts := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); ts.Close() })
	return fake, ts
}

func userQuery(content string) []byte {
	return queryOf(poeclient.NewMessage(poeclient.RoleUser, content))
}

func queryOf(msgs ...poeclient.ProtocolMessage) []byte {
	b, err := json.Marshal(poeclient.NewQuery(msgs))
	if err != nil {
		panic(err)
	}
	return b
}

// newBotRequest builds a request the way fastapi_poe sends it.
func newBotRequest(ctx context.Context, t testing.TB, url, token string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	req.Header.Set("Content-Type", "application/json")
	return req
}

// postBot sends a query to bot and returns the response with its whole body.
func postBot(t testing.TB, ts *httptest.Server, bot, token string, body []byte) (*http.Response, string) {
	t.Helper()
	return doRead(t, newBotRequest(context.Background(), t, ts.URL+"/bot/"+bot, token, body))
}

func doRead(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

type sseEvent struct {
	name, data string
	comment    string // set for a comment line (its text after ':')
}

// parseSSE is a minimal WHATWG decoder: any line ending, comments, joined
// data lines. Comments are returned as pseudo-events to check pings.
func parseSSE(s string) []sseEvent {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []sseEvent
	var cur sseEvent
	var data []string
	has := false
	for _, line := range strings.Split(s, "\n") {
		switch {
		case line == "":
			if has {
				cur.data = strings.Join(data, "\n")
				if cur.name == "" {
					cur.name = "message"
				}
				out = append(out, cur)
			}
			cur, data, has = sseEvent{}, nil, false
		case strings.HasPrefix(line, ":"):
			out = append(out, sseEvent{comment: strings.TrimPrefix(line, ":")})
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				cur.name, has = value, true
			case "data":
				data, has = append(data, value), true
			}
		}
	}
	return out
}

// answer is what a fastapi_poe-like client makes of a stream.
type answer struct {
	text      string
	done      bool
	errors    []string
	files     []string // raw file event data
	toolIDs   map[int]string
	toolArgs  map[int]string
	finish    string
	badEvents []string
}

func interpret(events []sseEvent) answer {
	a := answer{toolIDs: map[int]string{}, toolArgs: map[int]string{}}
	count := 0
	for _, ev := range events {
		if ev.comment != "" {
			continue
		}
		count++
		var obj map[string]any
		if ev.name != "ping" && json.Unmarshal([]byte(ev.data), &obj) != nil {
			a.badEvents = append(a.badEvents, ev.name+": "+ev.data)
			continue
		}
		switch ev.name {
		case "text", "replace_response":
			s, ok := obj["text"].(string)
			if !ok {
				a.badEvents = append(a.badEvents, ev.name+": "+ev.data)
				continue
			}
			if ev.name == "replace_response" {
				a.text = ""
			}
			a.text += s
		case "meta":
			if count != 1 {
				continue // only the first meta counts
			}
		case "file":
			a.files = append(a.files, ev.data)
		case "error":
			a.errors = append(a.errors, ev.data)
		case "json":
			var c struct {
				Choices []struct {
					Delta struct {
						Content   string `json:"content"`
						ToolCalls []struct {
							Index    int    `json:"index"`
							ID       string `json:"id"`
							Function struct {
								Arguments string `json:"arguments"`
							} `json:"function"`
						} `json:"tool_calls"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				} `json:"choices"`
			}
			_ = json.Unmarshal([]byte(ev.data), &c)
			for _, ch := range c.Choices {
				a.text += ch.Delta.Content
				for _, tc := range ch.Delta.ToolCalls {
					if tc.ID != "" {
						a.toolIDs[tc.Index] = tc.ID
					}
					a.toolArgs[tc.Index] += tc.Function.Arguments
				}
				if ch.FinishReason != nil {
					a.finish = *ch.FinishReason
				}
			}
		case "done":
			a.done = true
			return a
		}
	}
	return a
}
