package core_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
)

// A body that stalls gets a 408 in the front end's format once
// body_timeout passes, never an empty 200, and the handler returns.
func TestStalledBodyGets408(t *testing.T) {
	r := newRig(t, 0)
	e := &core.Engine{Relay: r.relay, MaxBody: 1 << 20, BodyTimeout: 200 * time.Millisecond,
		BotFor: func(context.Context, string) (string, *conv.Error) { return "Echo", nil }}
	done := make(chan core.Report, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		done <- e.Serve(w, req, chat.FrontEnd{}, core.Caller{}, pool(t, "key"))
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Announce 100 bytes, send 10, then nothing.
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := <-done
	if resp.StatusCode != http.StatusRequestTimeout || rep.Status != http.StatusRequestTimeout {
		t.Fatalf("status %d, report %+v", resp.StatusCode, rep)
	}
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	if !strings.Contains(b.String(), `"code":"request_timeout"`) {
		t.Fatalf("body %s", b.String())
	}
}
