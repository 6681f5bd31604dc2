// Command poefake serves the fake Poe API (internal/poefake) with its
// built-in bots, for demos and manual tests of the proxy without a Poe key:
//
//	go run ./cmd/poefake -addr 127.0.0.1:8081 [-framing crlf|lf|cr] [-ping 15s] [-token-rate-limit 0]
//
// Point the proxy at http://127.0.0.1:8081/bot/ (and .../poe_api/ for
// uploads). Tokens are never logged, only an 8-hex fingerprint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "poefake:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	framing := flag.String("framing", "crlf", "SSE line separator: crlf, lf or cr")
	ping := flag.Duration("ping", 0, "send a ': ping' comment this often while a stream is open (0 = never)")
	rateLimit := flag.Int("token-rate-limit", 0, "max /bot/ requests per token per minute (0 = unlimited)")
	baseURL := flag.String("base-url", "", "public base URL for upload attachment URLs (default: from the request)")
	echoUnknown := flag.Bool("echo-unknown", false, "answer unknown bot names as Echo does (for configs whose models are real Poe bots)")
	var invalid, noPoints, limited []string
	flag.Func("invalid-token", "answer this token with 401 (repeatable)", appendTo(&invalid))
	flag.Func("nopoints-token", "answer this token with an insufficient_fund error (repeatable)", appendTo(&noPoints))
	flag.Func("ratelimited-token", "answer this token with 429 (repeatable)", appendTo(&limited))
	flag.Parse()

	f, err := poefake.ParseFraming(*framing)
	if err != nil {
		return err
	}
	fake := poefake.New(poefake.Options{Framing: f, PingInterval: *ping, BaseURL: *baseURL, MaxRecords: 1000, EchoUnknown: *echoUnknown})
	fake.SetTokenRateLimit(*rateLimit)
	for _, t := range invalid {
		fake.SetToken(t, poefake.TokenInvalid)
	}
	for _, t := range noPoints {
		fake.SetToken(t, poefake.TokenNoPoints)
	}
	for _, t := range limited {
		fake.SetToken(t, poefake.TokenRateLimited)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: logRequests(fake), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("poefake listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// End hung and sleeping streams first, or Shutdown would wait on them.
	fake.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func appendTo(list *[]string) func(string) error {
	return func(s string) error {
		if s == "" {
			return errors.New("empty token")
		}
		*list = append(*list, s)
		return nil
	}
}

// statusWriter remembers the status; Unwrap lets http.ResponseController
// reach the real writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one line per request when it ends: what was asked,
// the answer, and a fingerprint of the key, never the key itself.
func logRequests(next http.Handler) http.Handler {
	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		target := r.URL.Path
		if i := strings.LastIndex(target, "/bot/"); i >= 0 {
			target = "bot=" + target[i+len("/bot/"):]
		}
		key := "-"
		if auth := r.Header.Get("Authorization"); auth != "" {
			key = poefake.TokenFingerprint(strings.TrimPrefix(auth, "Bearer "))
		}
		logger.Printf("%s %s status=%d token=%s dur=%s", r.Method, target, sw.status, key, time.Since(start).Round(time.Millisecond))
	})
}
