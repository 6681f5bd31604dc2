package poeclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordingRT records the URL of every request that leaves the client.
type recordingRT struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	urls []string
}

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return r.rt.RoundTrip(req)
}

func fastUploadRetry(t *testing.T) {
	old := uploadRetryDelay
	uploadRetryDelay = time.Millisecond
	t.Cleanup(func() { uploadRetryDelay = old })
}

// Issue 12: a 302 from base_url was followed as a GET and its answer
// relayed as the bot's; to the same host the key went along; a redirect
// to 127.0.0.1:1 was dialed.
func TestRedirectsAreNeverFollowed(t *testing.T) {
	fastUploadRetry(t)
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.URL.Path == "/usage/current_balance" {
			io.WriteString(w, `{"current_point_balance": 1}`)
			return
		}
		writeSSE(w, "event: text\ndata: {\"text\": \"from the redirect target\"}\n\nevent: done\ndata: {}\n\n")
	}))
	defer target.Close()
	const key = "poe-key-0123456789"
	for _, to := range []string{target.URL, "http://127.0.0.1:1"} {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, to+r.URL.Path, status)
			}))
			rt := &recordingRT{rt: origin.Client().Transport}
			// As the caller builds it: a plain http.Client around a transport.
			c := &Client{HTTP: &http.Client{Transport: rt}, BaseURL: origin.URL, UploadURL: origin.URL + "/upload"}
			ctx := context.Background()
			calls := []struct {
				name string
				kind Kind
				call func() error
			}{
				{"bot", KindUpstream, func() error {
					s, err := c.Query(ctx, "Bot", key, NewQuery(nil))
					if err == nil {
						texts, _ := collect(t, s)
						return fmt.Errorf("no error; relayed %q", texts)
					}
					return err
				}},
				{"balance", KindUpstream, func() error { _, err := c.Balance(ctx, key); return err }},
				{"models", KindUpstream, func() error { _, err := c.Models(ctx); return err }},
				{"upload", KindUpload, func() error {
					_, err := c.UploadBytes(ctx, key, "a.png", "image/png", []byte("x"))
					return err
				}},
				{"upload from URL", KindUpload, func() error {
					_, err := c.UploadFromURL(ctx, key, "https://example.com/a.png", "a.png")
					return err
				}},
			}
			for _, call := range calls {
				t.Run(fmt.Sprintf("%s %d to %s", call.name, status, to), func(t *testing.T) {
					err := call.call()
					var pe *Error
					if !errors.As(err, &pe) {
						t.Fatalf("err = %v", err)
					}
					want := fmt.Sprintf("Poe answered with a redirect (status %d)", status)
					if pe.Kind != call.kind || pe.Status != status || !strings.Contains(pe.Message, want) || pe.Retryable {
						t.Fatalf("got %+v, want kind %v and %q", pe, call.kind, want)
					}
					if strings.Contains(pe.Message, "127.0.0.1") || strings.Contains(pe.Message, key) {
						t.Fatalf("message shows the redirect target or key: %q", pe.Message)
					}
				})
			}
			if n := reached.Load(); n != 0 {
				t.Fatalf("redirect to %s followed %d times", to, n)
			}
			rt.mu.Lock()
			for _, u := range rt.urls {
				if !strings.HasPrefix(u, origin.URL) {
					t.Errorf("a request went to %s", u)
				}
			}
			rt.mu.Unlock()
			origin.Close()
		}
	}
}

func TestNoRedirectsLeavesTheCallersClientAlone(t *testing.T) {
	orig := &http.Client{Timeout: time.Minute}
	c := NoRedirects(orig)
	if orig.CheckRedirect != nil || c == orig || c.Timeout != time.Minute {
		t.Fatal("NoRedirects must copy, not change, the caller's client")
	}
	if err := c.CheckRedirect(nil, nil); err != http.ErrUseLastResponse {
		t.Fatalf("CheckRedirect = %v", err)
	}
}

const nginx503 = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx/1.25.3 at 10.20.30.40</center>\r\n</body>\r\n</html>\r\n"

// Issue 12: raw upstream bodies reached clients. Only Poe's own JSON error
// text may be quoted, truncated and without the key.
func TestHTTPErrorsAreDescribedInWords(t *testing.T) {
	const key = "poe-key-0123456789"
	longText := "Your key " + key + " was refused because " + strings.Repeat("reasons ", 100)
	tests := []struct {
		name    string
		status  int
		ctype   string
		body    string
		msg     string // exact, unless prefix is set
		prefix  bool
		kind    Kind
		detail  string // must appear in Detail (for the log)
		noWords []string
	}{
		{"nginx HTML page", 503, "text/html", nginx503, "Poe answered with HTML (status 503)", false, KindServer, "nginx", []string{"nginx", "10.20.30.40"}},
		{"HTML without a content type", 502, "", "<!DOCTYPE html><p>bad gateway from 10.1.1.1</p>", "Poe answered with HTML (status 502)", false, KindServer, "10.1.1.1", []string{"10.1.1.1"}},
		{"plain text", 503, "text/plain", "upstream connect error or disconnect/reset before headers. reset reason: connection failure 10.0.0.9:443", "Poe answered with status 503", false, KindServer, "10.0.0.9", []string{"10.0.0.9"}},
		{"empty body", 500, "text/plain", "", "Poe answered with status 500", false, KindServer, "", nil},
		{"200 but not SSE", 200, "application/json", `{"hello":"internal"}`, "Poe answered without an event stream (status 200)", false, KindProtocol, "hello", []string{"hello"}},
		{"Poe's JSON text is quoted, truncated and redacted", 400, "application/json", `{"error":{"message":"` + longText + `"}}`, "Your key [redacted] was refused because reasons", true, KindUpstream, "", []string{key}},
		{"Poe's JSON error string", 403, "application/json", `{"error":"Invalid API key"}`, "Invalid API key", false, KindAuth, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				} else {
					w.Header()["Content-Type"] = nil
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.Query(context.Background(), "Bot", key, NewQuery(nil))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			if tt.prefix {
				if !strings.HasPrefix(pe.Message, tt.msg) || len(pe.Message) > 210 {
					t.Fatalf("message %q (%d bytes)", pe.Message, len(pe.Message))
				}
			} else if pe.Message != tt.msg {
				t.Fatalf("message %q, want %q", pe.Message, tt.msg)
			}
			if pe.Kind != tt.kind || pe.Status != tt.status {
				t.Fatalf("got %+v", pe)
			}
			for _, w := range tt.noWords {
				if strings.Contains(pe.Message, w) {
					t.Fatalf("message %q shows %q", pe.Message, w)
				}
			}
			if !strings.Contains(pe.Detail, tt.detail) || strings.Contains(pe.Detail, key) || strings.Contains(pe.Error(), key) {
				t.Fatalf("detail %q, want it to hold %q and no key", pe.Detail, tt.detail)
			}
		})
	}
}

func TestErrorEventsAreDescribedInWords(t *testing.T) {
	const key = "poe-key-0123456789"
	for _, tt := range []struct {
		name, data, msg string
		prefix          bool
	}{
		{"not an object", `<html>proxy 10.7.7.7 failed</html>`, "Poe sent a malformed error event", false},
		{"Poe's text, truncated and redacted", `{"allow_retry": false, "text": "key ` + key + ` ` + strings.Repeat("long ", 200) + `"}`, "key [redacted] long", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
				writeSSE(w, "event: error\ndata: "+tt.data+"\n\n")
			})
			s, err := c.Query(context.Background(), "Bot", key, NewQuery(nil))
			if err != nil {
				t.Fatal(err)
			}
			_, err = collect(t, s)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			ok := pe.Message == tt.msg
			if tt.prefix {
				ok = strings.HasPrefix(pe.Message, tt.msg) && len(pe.Message) <= 210
			}
			if !ok || strings.Contains(pe.Message, "10.7.7.7") || strings.Contains(pe.Error(), key) {
				t.Fatalf("message %q", pe.Message)
			}
		})
	}
}

func TestUploadAndBalanceErrorsAreDescribedInWords(t *testing.T) {
	fastUploadRetry(t)
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/usage/current_balance" {
			io.WriteString(w, "<html>cached page from 10.3.3.3</html>")
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		io.WriteString(w, "<html>bad gateway 10.3.3.3</html>")
	})
	_, err := c.UploadBytes(context.Background(), "k", "a.png", "image/png", []byte("x"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Message != "upload failed: Poe answered with HTML (status 502)" || !strings.Contains(pe.Detail, "10.3.3.3") {
		t.Fatalf("upload: %#v", err)
	}
	_, err = c.Balance(context.Background(), "k")
	if !errors.As(err, &pe) || pe.Kind != KindProtocol || strings.Contains(pe.Message, "10.3.3.3") || !strings.Contains(pe.Detail, "10.3.3.3") {
		t.Fatalf("balance: %#v", err)
	}
}

// Issue 12: transport errors showed socket addresses, the base_url's host
// and user, and the DNS server's address.
func TestTransportErrorsAreDescribedInWords(t *testing.T) {
	dnsFails := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "server misbehaving", Name: "api.poe.com", Server: "10.9.8.7:53"}}
	}}
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(http.NotFoundHandler())
	defer plainSrv.Close()
	resets := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	}))
	defer resets.Close()
	tests := []struct {
		name    string
		http    *http.Client
		base    string
		msg     string
		noWords []string
	}{
		{"DNS", &http.Client{Transport: dnsFails}, "https://api.poe.com", "DNS lookup of Poe's host failed", []string{"10.9.8.7", "api.poe.com"}},
		{"connect", &http.Client{}, "http://someuser:somepass@127.0.0.1:1", "connecting to Poe failed", []string{"someuser", "127.0.0.1", "somepass"}},
		{"TLS untrusted", &http.Client{Transport: &http.Transport{}}, tlsSrv.URL, "TLS handshake with Poe failed", []string{"127.0.0.1"}},
		{"TLS to plain HTTP", &http.Client{}, strings.Replace(plainSrv.URL, "http:", "https:", 1), "TLS handshake with Poe failed", []string{"127.0.0.1"}},
		{"reset", &http.Client{}, resets.URL, "connection to Poe was reset", []string{"127.0.0.1", "tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{HTTP: tt.http, BaseURL: tt.base}
			_, err := c.Query(context.Background(), "Bot", "k", NewQuery(nil))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			if pe.Message != tt.msg || pe.Kind != KindTransport || !pe.Retryable {
				t.Fatalf("got %+v (detail %q), want %q", pe, pe.Detail, tt.msg)
			}
			for _, w := range tt.noWords {
				if strings.Contains(pe.Message, w) {
					t.Fatalf("message %q shows %q", pe.Message, w)
				}
			}
			if pe.Detail == "" || pe.Err == nil || strings.Contains(pe.Detail, "somepass") {
				t.Fatalf("detail %q, err %v", pe.Detail, pe.Err)
			}
		})
	}
}

func TestTimeoutsAreDescribedInWords(t *testing.T) {
	hangs := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	})
	c := &Client{HTTP: &http.Client{Transport: hangs}, BaseURL: "http://poe.test"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := c.Query(ctx, "Bot", "k", NewQuery(nil))
	var pe *Error
	if !errors.As(err, &pe) || pe.Message != "Poe did not answer in time" {
		t.Fatalf("caller's deadline: %#v", err)
	}
	if e := AsError(context.DeadlineExceeded); e.Message != "Poe did not answer in time" {
		t.Fatalf("AsError: %q", e.Message)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Issue 12: with the key "test", the model name my-test-bot came back as
// my-[redacted]-bot.
func TestRedactTakesWholeKeysOnly(t *testing.T) {
	const long = "sk-poe-0123456789abcdef"
	for _, tt := range []struct{ msg, key, want string }{
		{"Bot my-test-bot does not exist", "test", "Bot my-test-bot does not exist"},
		{"testtest test_x xtest test1", "test", "testtest test_x xtest test1"},
		{"bad key test.", "test", "bad key [redacted]."},
		{"test", "test", "[redacted]"},
		{`{"key":"test","again":"test"}`, "test", `{"key":"[redacted]","again":"[redacted]"}`},
		{"Bearer " + long, long, "Bearer [redacted]"},
		{"glued" + long + "X", long, "glued[redacted]X"}, // long keys: wherever they are
		{"", "test", ""},
		{"message", "", "message"},
	} {
		if got := Redact(tt.msg, tt.key); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.msg, tt.key, got, tt.want)
		}
	}

	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"message":"Bot my-test-bot does not exist"}}`)
	})
	_, err := c.Query(context.Background(), "my-test-bot", "test", NewQuery(nil))
	var pe *Error
	if !errors.As(err, &pe) || pe.Message != "Bot my-test-bot does not exist" {
		t.Fatalf("%v", err)
	}
}

// Issue 12: a non-streaming answer was buffered whole, however big.
func TestMaxStreamBytes(t *testing.T) {
	const event = "event: text\ndata: {\"text\": \"0123456789\"}\n\n"
	body := strings.Repeat(event, 10) + "event: done\ndata: {}\n\n"
	gone := make(chan struct{}, 10)
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		defer func() { gone <- struct{}{} }()
		if r.URL.Path == "/bot/Endless" {
			w.Header().Set("Content-Type", "text/event-stream")
			for range 1 << 17 { // 5 MB: endless enough, and bounded if the limit fails
				if _, err := io.WriteString(w, event); err != nil {
					return
				}
				http.NewResponseController(w).Flush()
			}
			return
		}
		writeSSE(w, body)
	})
	tooLarge := func(t *testing.T, err error) {
		t.Helper()
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != KindUpstream || pe.Message != "Poe's answer exceeded max_answer_size" ||
			pe.Retryable || !errors.Is(err, ErrStreamTooLarge) {
			t.Fatalf("err = %#v", err)
		}
	}

	c.MaxStreamBytes = 4096
	s, err := c.Query(context.Background(), "Endless", "k", NewQuery(nil))
	if err != nil {
		t.Fatal(err)
	}
	texts, err := collect(t, s)
	tooLarge(t, err)
	if len(texts) != 4096/len(event) {
		t.Fatalf("%d events within 4096 bytes", len(texts))
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("Poe's request was not cancelled")
	}

	// The limit is exact: the whole answer fits, one byte less does not.
	for _, tc := range []struct {
		client, stream int64
		ok             bool
	}{
		{int64(len(body)), 0, true},
		{int64(len(body)) - 1, 0, false},
		{0, int64(len(body)) - 1, false},               // per stream, without a client limit
		{int64(len(body)) - 1, int64(len(body)), true}, // the stream's limit wins
	} {
		c.MaxStreamBytes = tc.client
		s, err := c.Query(context.Background(), "Bot", "k", NewQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		if tc.stream != 0 {
			s.SetMaxBytes(tc.stream)
		}
		texts, err := collect(t, s)
		if tc.ok {
			if err != io.EOF || !s.Done() || len(texts) != 10 {
				t.Fatalf("%+v: %d texts, %v", tc, len(texts), err)
			}
		} else {
			tooLarge(t, err)
		}
	}
}
