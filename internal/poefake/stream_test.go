package poefake

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// trackedFake returns a fake whose handler signals on ended when it returns.
func trackedFake(t *testing.T, opts Options) (*Server, *httptest.Server, <-chan struct{}) {
	t.Helper()
	fake := New(opts)
	ended := make(chan struct{}, 16)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { ended <- struct{}{} }()
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { fake.Close(); ts.Close() })
	return fake, ts, ended
}

// openStream starts a request whose context the caller cancels.
func openStream(t *testing.T, ts *httptest.Server, bot string) (*http.Response, *bufio.Reader, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	resp, err := http.DefaultClient.Do(newBotRequest(ctx, t, ts.URL+"/bot/"+bot, "k", userQuery("x")))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body), cancel
}

// readUntil reads lines until one contains s.
func readUntil(t *testing.T, br *bufio.Reader, s string) string {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		if strings.Contains(line, s) {
			return line
		}
		if err != nil {
			t.Fatalf("stream ended before %q: %v", s, err)
		}
	}
}

func waitEnded(t *testing.T, ended <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(5 * time.Second): // a deadline, not synchronisation
		t.Fatalf("%s: handler still running 5 s after the client went away", what)
	}
}

func TestClientGoneEndsBlockingSteps(t *testing.T) {
	never := make(chan struct{})
	for name, sc := range map[string]Script{
		"Hang":  {Text("a"), Hang()},
		"Wait":  {Text("a"), Wait(never), Done()},
		"Sleep": {Text("a"), Sleep(time.Hour), Done()},
	} {
		t.Run(name, func(t *testing.T) {
			fake, ts, ended := trackedFake(t, Options{PingInterval: time.Hour})
			fake.SetBot("B", func(*Request) Script { return sc })
			_, br, cancel := openStream(t, ts, "B")
			readUntil(t, br, `{"text": "a"}`)
			cancel()
			waitEnded(t, ended, name)
		})
	}
}

func TestStallFirstSendsHeaders(t *testing.T) {
	_, ts, ended := trackedFake(t, Options{})
	resp, _, cancel := openStream(t, ts, "Stall-first")
	// Do returned, so the headers arrived although no event was sent.
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Errorf("%d %v", resp.StatusCode, resp.Header)
	}
	cancel()
	waitEnded(t, ended, "Stall-first")
}

func TestCloseReleasesStreams(t *testing.T) {
	fake, ts, ended := trackedFake(t, Options{})
	_, br, cancel := openStream(t, ts, "Stall")
	defer cancel()
	readUntil(t, br, `{"text": "partial"}`)
	fake.Close()
	waitEnded(t, ended, "Close")
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "\r\n" { // the blank line ending "partial"
		t.Errorf("after Close: %q %v", rest, err)
	}
}

func TestWaitReleased(t *testing.T) {
	fake, ts, _ := trackedFake(t, Options{})
	gate := make(chan struct{})
	fake.SetBot("Gate", func(*Request) Script { return Script{Text("a"), Wait(gate), Text("b"), Done()} })
	_, br, cancel := openStream(t, ts, "Gate")
	defer cancel()
	readUntil(t, br, `{"text": "a"}`)
	close(gate)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\r\nevent: text\r\ndata: {\"text\": \"b\"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n" {
		t.Errorf("after release: %q %v", rest, err)
	}
}

func TestPeriodicPing(t *testing.T) {
	_, ts, ended := trackedFake(t, Options{PingInterval: 5 * time.Millisecond, Framing: LF})
	_, br, cancel := openStream(t, ts, "Stall")
	readUntil(t, br, `{"text": "partial"}`)
	line := readUntil(t, br, ": ping - ")
	if !pingRE.MatchString(line) || !strings.HasSuffix(line, "+00:00\n") {
		t.Errorf("ping line %q", line)
	}
	if blank, _ := br.ReadString('\n'); blank != "\n" {
		t.Errorf("ping not followed by a blank line: %q", blank)
	}
	cancel()
	waitEnded(t, ended, "ping")
}
