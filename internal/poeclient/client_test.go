package poeclient

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// v1Request is vector V1: the exact body fastapi_poe sends.
const v1Request = `{"version":"1.2","type":"query","query":[{"role":"user","message_type":null,"sender_id":null,"sender":null,"content":"Hello world","parameters":{},"content_type":"text/markdown","timestamp":0,"message_id":"","feedback":[],"attachments":[],"metadata":null,"referenced_message":null,"reactions":[]}],"user_id":"","conversation_id":"","message_id":"","metadata":"","api_key":"<missing>","access_key":"<missing>","temperature":null,"skip_system_prompt":false,"logit_bias":{},"stop_sequences":[],"language_code":"en","adopt_current_bot_name":null,"bot_query_id":"","users":[],"tools":null,"tool_calls":null,"tool_results":null,"query_creation_time":null,"extra_params":null}`

func TestQueryMatchesFastapiPoe(t *testing.T) {
	var got strings.Builder
	err := EncodeQuery(&got, NewQuery([]ProtocolMessage{NewMessage(RoleUser, "Hello world")}))
	if err != nil || got.String() != v1Request+"\n" {
		t.Fatalf("body differs from V1:\n got %s\nwant %s", got.String(), v1Request)
	}
}

func sseServer(t *testing.T, handler http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &Client{HTTP: srv.Client(), BaseURL: srv.URL, UploadURL: srv.URL + "/poe_api/file_upload_3RD_PARTY_POST"}, srv
}

func writeSSE(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	io.WriteString(w, body)
}

func collect(t *testing.T, s *Stream) (texts []string, err error) {
	t.Helper()
	for {
		ev, err := s.Next()
		if err != nil {
			return texts, err
		}
		if ev.Kind == EventText || ev.Kind == EventReplace {
			txt, terr := AppendText(nil, ev.Data)
			if terr != nil {
				return texts, terr
			}
			texts = append(texts, ev.Kind.String()+":"+string(txt))
		}
	}
}

func TestQueryV1(t *testing.T) {
	var gotHeader http.Header
	var gotBody []byte
	var gotPath string
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotHeader, gotPath = r.Header, r.URL.Path
		gotBody, _ = io.ReadAll(r.Body)
		writeSSE(w, v1Body+"event: text\r\ndata: {\"text\": \"IGNORED\"}\r\n\r\n")
	})
	s, err := c.Query(context.Background(), "Bot", "test-key", NewQuery([]ProtocolMessage{NewMessage(RoleUser, "Hello world")}))
	if err != nil {
		t.Fatal(err)
	}
	texts, err := collect(t, s)
	if err != io.EOF || !s.Done() {
		t.Fatalf("end: %v done=%v", err, s.Done())
	}
	if strings.Join(texts, "|") != "text:Hello|text: café!" {
		t.Fatalf("texts %q", texts)
	}
	if gotPath != "/bot/Bot" || gotHeader.Get("Authorization") != "Bearer test-key" ||
		gotHeader.Get("Accept") != "text/event-stream" || gotHeader.Get("Content-Type") != "application/json" {
		t.Fatalf("request: %s %v", gotPath, gotHeader)
	}
	if strings.TrimSpace(string(gotBody)) != v1Request {
		t.Fatalf("body %s", gotBody)
	}
}

func TestStreamEndings(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantDone bool
		wantKind Kind
		retry    bool
	}{
		{"EOF without done is a normal end", "event: text\ndata: {\"text\": \"truncated but ok\"}\n\n", false, 0, false},
		{"retryable error", "event: error\ndata: {\"allow_retry\": true, \"text\": \"Internal server error\"}\n\n", false, KindServer, true},
		{"missing allow_retry means retry", "event: error\ndata: {\"text\": \"Internal server error\"}\n\n", false, KindServer, true},
		{"error then done is still an error", "event: error\ndata: {\"allow_retry\": false, \"text\": \"You do not have enough points to message this bot.\", \"error_type\": \"insufficient_fund\"}\n\nevent: done\ndata: {}\n\n", false, KindNoPoints, false},
		{"points by text", "event: error\ndata: {\"allow_retry\": false, \"text\": \"This bot needs more points to answer your request.\"}\n\n", false, KindNoPoints, false},
		{"rate limit by text", "event: error\ndata: {\"allow_retry\": false, \"text\": \"You have exceeded rate limit to query bot using User API Key. Try again later.\"}\n\n", false, KindRateLimit, false},
		{"too long", "event: error\ndata: {\"allow_retry\": false, \"text\": \"Message too long\", \"error_type\": \"user_message_too_long\"}\n\n", false, KindTooLong, false},
		{"unknown bot", "event: error\ndata: {\"allow_retry\": false, \"text\": \"Bot does not exist: Nope\"}\n\n", false, KindBotNotFound, false},
		{"non-dict error payload", "event: error\ndata: 123\n\n", false, KindServer, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) { writeSSE(w, tt.body) })
			s, err := c.Query(context.Background(), "Bot", "k", NewQuery(nil))
			if err != nil {
				t.Fatal(err)
			}
			_, err = collect(t, s)
			if tt.wantKind == 0 && !tt.retry {
				if err != io.EOF || s.Done() != tt.wantDone {
					t.Fatalf("err %v done %v", err, s.Done())
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != tt.wantKind || pe.Retryable != tt.retry {
				t.Fatalf("err = %#v, want kind %v retry %v", err, tt.wantKind, tt.retry)
			}
		})
	}
}

func TestQueryHTTPErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		header map[string]string
		body   string
		kind   Kind
		retry  bool
		after  time.Duration
		msg    string
	}{
		{"V11 invalid key", 401, "application/json", nil, `{"error":{"message":"Invalid API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`, KindAuth, false, 0, "Invalid API key provided"},
		{"429 with reset header", 429, "application/json", map[string]string{"x-ratelimit-reset-requests": "1"}, `{"error":{"message":"slow down"}}`, KindRateLimit, false, time.Second, "slow down"},
		{"429 with Retry-After", 429, "text/plain", map[string]string{"Retry-After": "7"}, `busy`, KindRateLimit, false, 7 * time.Second, "Poe answered with status 429"},
		{"404 bot", 404, "application/json", nil, `{"error":{"message":"Bot X does not exist","code":"model_not_found"}}`, KindBotNotFound, false, 0, "Bot X does not exist"},
		{"402 points", 402, "application/json", nil, `{"error":{"message":"insufficient balance"}}`, KindNoPoints, false, 0, "insufficient balance"},
		{"500 retried", 500, "text/html", nil, "<h1>oops</h1>\n", KindServer, true, 0, "Poe answered with HTML (status 500)"},
		{"200 but not SSE", 200, "application/json", nil, `{"hello":1}`, KindProtocol, true, 0, "Poe answered without an event stream (status 200)"},
		{"400 other", 400, "application/json", nil, `{"error":"bad thing with secret-key inside"}`, KindUpstream, false, 0, "bad thing with [redacted] inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.Query(context.Background(), "Bot", "secret-key", NewQuery(nil))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			if pe.Kind != tt.kind || pe.Retryable != tt.retry || pe.Status != tt.status || pe.RetryAfter != tt.after || pe.Message != tt.msg {
				t.Fatalf("got %+v", pe)
			}
			if strings.Contains(pe.Error(), "secret-key") {
				t.Fatal("key leaked into error")
			}
		})
	}
}

func TestExcerptIsShort(t *testing.T) {
	e := errorFromResponse(502, http.Header{}, []byte(`{"error":{"message":"`+strings.Repeat("é", 500)+`"}}`), "k")
	if len(e.Message) > 210 || !strings.HasSuffix(e.Message, "…") {
		t.Fatalf("excerpt %d bytes: %q", len(e.Message), e.Message)
	}
}

func TestIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bot/Silent" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		writeSSE(w, "event: text\ndata: {\"text\": \"partial\"}\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c.IdleTimeout = 50 * time.Millisecond

	_, err := c.Query(context.Background(), "Silent", "k", NewQuery(nil))
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindTimeout {
		t.Fatalf("before headers: %v", err)
	}

	s, err := c.Query(context.Background(), "Stalls", "k", NewQuery(nil))
	if err != nil {
		t.Fatal(err)
	}
	texts, err := collect(t, s)
	if len(texts) != 1 || !errors.As(err, &pe) || pe.Kind != KindTimeout {
		t.Fatalf("mid-stream: %q %v", texts, err)
	}
}

func TestCancelStopsStream(t *testing.T) {
	gone := make(chan struct{})
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, "event: text\ndata: {\"text\": \"x\"}\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		close(gone)
	})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.Query(ctx, "Bot", "k", NewQuery(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Next(); err == nil {
		t.Fatal("no error after cancel")
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
}

func TestUpload(t *testing.T) {
	failures := 1
	var auths, kinds []string
	var gotFile, gotURL string
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
		if failures > 0 {
			failures--
			http.Error(w, "internal error", 500)
			return
		}
		mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		kinds = append(kinds, mt)
		switch mt {
		case "multipart/form-data":
			mr := multipart.NewReader(r.Body, params["boundary"])
			p, err := mr.NextPart()
			if err != nil || p.FormName() != "file" {
				http.Error(w, "bad form", 400)
				return
			}
			b, _ := io.ReadAll(p)
			gotFile = p.FileName() + ":" + p.Header.Get("Content-Type") + ":" + string(b)
		case "application/x-www-form-urlencoded":
			r.ParseForm()
			gotURL = r.PostForm.Get("download_url") + "|" + r.PostForm.Get("download_filename")
		}
		io.WriteString(w, `{"attachment_url":"https://pfst.cf2.poecdn.net/base/image/abc123","mime_type":"image/png"}`)
	})
	old := uploadRetryDelay
	uploadRetryDelay = time.Millisecond
	defer func() { uploadRetryDelay = old }()

	a, err := c.UploadBytes(context.Background(), "test-key", "image.png", "image/png", []byte("PNGDATA"))
	if err != nil || a.URL != "https://pfst.cf2.poecdn.net/base/image/abc123" || a.ContentType != "image/png" || a.Name != "image.png" {
		t.Fatalf("%+v %v", a, err)
	}
	if gotFile != "image.png:image/png:PNGDATA" || len(auths) != 2 || auths[0] != "test-key" || auths[1] != "test-key" {
		t.Fatalf("file %q auths %q", gotFile, auths)
	}
	if _, err := c.UploadFromURL(context.Background(), "test-key", "https://example.com/cat.png", "cat.png"); err != nil {
		t.Fatal(err)
	}
	if gotURL != "https://example.com/cat.png|cat.png" {
		t.Fatalf("url form %q", gotURL)
	}

	failures = 2
	_, err = c.UploadBytes(context.Background(), "test-key", "a.png", "image/png", []byte("x"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindUpload || pe.Status != 500 || pe.Message != "upload failed: Poe answered with status 500" || !strings.Contains(pe.Detail, "internal error") {
		t.Fatalf("two failures: %v", err)
	}
}

func TestUploadBadShape(t *testing.T) {
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"url":"x"}`) })
	old := uploadRetryDelay
	uploadRetryDelay = time.Millisecond
	defer func() { uploadRetryDelay = old }()
	_, err := c.UploadBytes(context.Background(), "k", "a.png", "image/png", []byte("x"))
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "unexpected upload response") {
		t.Fatalf("%v", err)
	}
}

func TestBalanceAndModels(t *testing.T) {
	c, _ := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/usage/current_balance":
			if r.Header.Get("Authorization") != "Bearer test-key" {
				w.WriteHeader(401)
				io.WriteString(w, `{"error":{"message":"bad key","type":"authentication_error"}}`)
				return
			}
			io.WriteString(w, `{"current_point_balance": 1500}`)
		case "/v1/models":
			if r.Header.Get("Authorization") != "" {
				t.Error("models sent a key")
			}
			io.WriteString(w, `{"object":"list","data":[{"id":"GPT-4o","object":"model","created":1700000000123,"owned_by":"OpenAI"}]}`)
		}
	})
	n, err := c.Balance(context.Background(), "test-key")
	if err != nil || n != 1500 {
		t.Fatalf("%d %v", n, err)
	}
	_, err = c.Balance(context.Background(), "bad")
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindAuth {
		t.Fatalf("%v", err)
	}
	ms, err := c.Models(context.Background())
	if err != nil || len(ms) != 1 || ms[0].ID != "GPT-4o" || ms[0].Created != 1700000000123 {
		t.Fatalf("%+v %v", ms, err)
	}
}
