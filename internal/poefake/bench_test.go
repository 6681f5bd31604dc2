package poefake

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// BenchmarkServeChunks measures the fake's own cost for one 200-chunk
// stream, without the network.
func BenchmarkServeChunks(b *testing.B) {
	fake := New(Options{MaxRecords: 1})
	body := userQuery("bench")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/bot/Chunks-200x16", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Accept", "text/event-stream")
		w := &discardWriter{h: http.Header{}}
		fake.ServeHTTP(w, req)
		if w.n < 200*16 {
			b.Fatalf("short stream: %d bytes", w.n)
		}
	}
}

// Benchmark64Streams runs 64 concurrent 200-chunk streams over HTTP.
func Benchmark64Streams(b *testing.B) {
	fake, ts := newFake(b, Options{MaxRecords: 64})
	_ = fake
	body := userQuery("bench")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	for b.Loop() {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				req := newBotRequest(b.Context(), b, ts.URL+"/bot/Chunks-200x16", "k", body)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
	}
}
