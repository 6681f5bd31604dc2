// Package integration runs the module inside a real Caddy (caddytest,
// in-process) against the fake Poe, with the official openai-go client.
// It is the only package that starts Caddy: several would fight over the
// admin port.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	_ "github.com/poe-openai/caddy-poe-openai"
	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

var adminPort, httpsPort int

func TestMain(m *testing.M) {
	// caddytest writes autosave.json and a local CA under the user's
	// config and data dirs; keep them out of the user's home.
	dir, err := os.MkdirTemp("", "poe-openai-it-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	// Free ports, so that a caddy on the default admin port (or another
	// test run) cannot receive our configs.
	adminPort, httpsPort = freePort(), freePort()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port nobody listens on and that this
// process has not handed out before: the kernel may offer a port again
// once it is closed, and a site on the https_port Caddy reserves, or two
// instances on one port, fail to start.
func freePort() int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// fakePoe starts a fake Poe for one test. wrap, if set, wraps its handler.
// It speaks HTTP/1.1 and, with prior knowledge, cleartext HTTP/2.
func fakePoe(t *testing.T, wrap func(http.Handler) http.Handler) (*poefake.Server, string) {
	t.Helper()
	fake := poefake.New(poefake.Options{})
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(func() {
		fake.Close() // ends hanging streams first, or srv.Close waits on them
		srv.Close()
	})
	return fake, srv.URL
}

// site is one test's Caddy site.
type site struct {
	t       *testing.T
	logFile string
	base    string // http://localhost:<port>
}

// startCaddy loads a config whose site block holds body. Placeholders
// {FAKE} and {LOG} are filled in. Each site gets its own port: a config
// load returns once the old servers have begun to shut down, not once
// they stopped accepting, so on a shared port a new connection could
// still land on the old server and be closed unanswered.
func startCaddy(t *testing.T, fakeURL, body string) *site {
	t.Helper()
	return startCaddyWith(t, fakeURL, "", body)
}

// startCaddyWith is startCaddy with more global options (e.g. a storage
// of the test's own).
func startCaddyWith(t *testing.T, fakeURL, global, body string) *site {
	t.Helper()
	httpPort := freePort()
	s := &site{t: t, logFile: filepath.Join(t.TempDir(), "caddy.log"), base: fmt.Sprintf("http://localhost:%d", httpPort)}
	body = strings.NewReplacer("{FAKE}", fakeURL).Replace(body)
	if !strings.Contains(global, "storage ") {
		// Caddy's default storage is fixed when the process starts, so
		// usage counts (usage.go) would carry over between tests and runs.
		global += "\n\tstorage file_system " + t.TempDir()
	}
	config := fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	auto_https off
	grace_period 1ns
	log {
		output file %s
		format json
		level DEBUG
	}
	%s
}
http://localhost:%d {
%s
}
`, adminPort, httpPort, httpsPort, s.logFile, global, httpPort, body)
	loaded := false
	t.Cleanup(func() {
		// caddytest skips a test whose prerequisites fail; here that is a
		// failure, not a silent pass.
		if !loaded && !t.Failed() {
			t.Error("caddytest did not start Caddy (skipped?)")
		}
	})
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort, LoadRequestTimeout: 10 * time.Second})
	tester.InitServer(config, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	loaded = true
	return s
}

// logs returns what Caddy logged so far.
func (s *site) logs() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// client is an openai-go client for the site, with the SDK's own retries
// off so that every status reaches the test.
func (s *site) client(key string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(s.base+"/v1/"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(30*time.Second),
	)
}

// post sends a raw request.
func (s *site) post(path, key, body string, header ...string) *http.Response {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (s *site) get(path, key string) *http.Response {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sseEvents splits a raw event stream into its events (comments kept).
func sseEvents(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if ev = strings.TrimSpace(ev); ev != "" {
			out = append(out, ev)
		}
	}
	return out
}

// readEvents reads events as they arrive, so tests can act mid-stream.
func readEvents(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		var ev bytes.Buffer
		for sc.Scan() {
			if sc.Text() == "" {
				if ev.Len() > 0 {
					ch <- ev.String()
					ev.Reset()
				}
				continue
			}
			ev.WriteString(sc.Text())
		}
	}()
	return ch
}

func userMessage(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
