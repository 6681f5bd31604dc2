package core_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/translate"
)

// endless replays one Poe event forever, as an answer that never ends.
type endless struct {
	event []byte
	off   int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.event[e.off:])
		n += c
		e.off = (e.off + c) % len(e.event)
	}
	return n, nil
}

func (e *endless) Close() error { return nil }

// discard is a flushable ResponseWriter that keeps nothing.
type discard struct {
	h     http.Header
	bytes int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { d.bytes += int64(len(p)); return len(p), nil }
func (d *discard) Flush()                      {}

// BenchmarkHotPath measures the module's per-chunk work: one Poe text
// event decoded from the wire (CRLF framing, as sse-starlette sends it),
// translated, encoded as an OpenAI chunk, written and flushed. One
// iteration is one chunk, so allocs/op is allocations per streamed chunk.
func BenchmarkHotPath(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts translate.AnswerOptions
	}{
		{"plain", translate.AnswerOptions{Stream: true}},
		{"include_usage", translate.AnswerOptions{Stream: true, Count: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			stream := poeclient.NewStream(&endless{event: []byte("event: text\r\ndata: {\"text\": \"0123456789abcdef\"}\r\n\r\n")}, 0)
			w := &discard{h: http.Header{}}
			sw := chat.NewStreamWriter(w, chat.NewID(), "gpt-4o", time.Now().Unix(), tc.opts.Count, 15*time.Second)
			defer sw.Close()
			answer := translate.NewAnswer(tc.opts, sw)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ev, err := stream.Next()
				if err != nil {
					b.Fatal(err)
				}
				if err := answer.Event(ev); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if w.bytes == 0 {
				b.Fatal("nothing written")
			}
			b.ReportMetric(float64(w.bytes)/float64(b.N), "bytes/chunk")
		})
	}
}

var _ io.ReadCloser = (*endless)(nil)
