package poefake

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	invalidKeyBody = `{"error":{"message":"Invalid API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`
	rateLimitBody  = `{"error":{"message":"You have exceeded rate limit to query bot using User API Key. Try again later.","type":"rate_limit_error","code":"rate_limit_exceeded"}}`
)

func TestTokenInvalidAndMissing(t *testing.T) {
	fake, ts := newFake(t, Options{})
	fake.SetToken("bad", TokenInvalid)
	for _, token := range []string{"bad", ""} {
		resp, body := postBot(t, ts, "V1", token, userQuery("x"))
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/json" || body != invalidKeyBody {
			t.Errorf("token %q: %d %v %s", token, resp.StatusCode, resp.Header, body)
		}
	}
	// A raw key without "Bearer " is refused too.
	req := newBotRequest(t.Context(), t, ts.URL+"/bot/V1", "", userQuery("x"))
	req.Header.Set("Authorization", "good")
	if resp, _ := doRead(t, req); resp.StatusCode != 401 {
		t.Errorf("raw key: %d", resp.StatusCode)
	}
	rs := fake.Requests()
	if len(rs) != 3 || rs[0].Token != "bad" || rs[1].Token != "" || rs[2].Token != "good" {
		t.Errorf("records %+v", rs)
	}
	if v := fake.Violations(); len(v) != 2 || !strings.Contains(v[0], "no Authorization") || !strings.Contains(v[1], "Bearer") {
		t.Errorf("violations %v", v)
	}
	// Back to OK.
	fake.SetToken("bad", TokenOK)
	if resp, _ := postBot(t, ts, "V1", "bad", userQuery("x")); resp.StatusCode != 200 {
		t.Errorf("after SetToken OK: %d", resp.StatusCode)
	}
}

func TestTokenNoPoints(t *testing.T) {
	fake, ts := newFake(t, Options{})
	fake.SetToken("poor", TokenNoPoints)
	resp, body := postBot(t, ts, "V1", "poor", userQuery("x"))
	want := "event: error\r\ndata: {\"allow_retry\": false, \"text\": \"You do not have enough points to message this bot.\", \"error_type\": \"insufficient_fund\"}\r\n\r\n" +
		"event: done\r\ndata: {}\r\n\r\n"
	if resp.StatusCode != 200 || body != want {
		t.Errorf("no points: %d %q", resp.StatusCode, body)
	}
}

func TestTokenRateLimited(t *testing.T) {
	fake, ts := newFake(t, Options{})
	fake.SetToken("hot", TokenRateLimited)
	check := func(wantSecs string) {
		t.Helper()
		resp, body := postBot(t, ts, "V1", "hot", userQuery("x"))
		if resp.StatusCode != 429 || body != rateLimitBody || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Retry-After") != wantSecs || resp.Header.Get("x-ratelimit-reset-requests") != wantSecs {
			t.Errorf("rate limited: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	}
	check("60")
	fake.SetRateLimitReset(1500 * time.Millisecond)
	check("2")
	if n := len(fake.RequestsFor("V1")); n != 2 {
		t.Errorf("recorded %d", n)
	}
}

func TestTokenRateLimitPerMinute(t *testing.T) {
	fake, ts := newFake(t, Options{})
	fake.SetTokenRateLimit(2)
	fake.SetRateLimitReset(3 * time.Second)
	codes := ""
	for range 4 {
		resp, _ := postBot(t, ts, "V1", "a", userQuery("x"))
		codes += http.StatusText(resp.StatusCode)[:1]
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "3" {
			t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	if codes != "OOTT" { // OK OK Too Many Too Many
		t.Errorf("codes %q", codes)
	}
	if resp, _ := postBot(t, ts, "V1", "b", userQuery("x")); resp.StatusCode != 200 {
		t.Errorf("other token limited: %d", resp.StatusCode)
	}
	if n := len(fake.Starts("a")); n != 4 {
		t.Errorf("starts %d", n)
	}
	fake.SetTokenRateLimit(0)
	if resp, _ := postBot(t, ts, "V1", "a", userQuery("x")); resp.StatusCode != 200 {
		t.Errorf("limit off: %d", resp.StatusCode)
	}
}

func TestAdmitWindowSlides(t *testing.T) {
	s := New(Options{})
	s.perMinute = 1
	t0 := time.Unix(1000, 0)
	if !s.admitLocked("k", t0) || s.admitLocked("k", t0.Add(59*time.Second)) || !s.admitLocked("k", t0.Add(60*time.Second)) {
		t.Error("window does not slide after 60 s")
	}
}

func TestTokenFingerprint(t *testing.T) {
	// sha256("test-key") starts with 62af8704.
	if got := TokenFingerprint("test-key"); got != "62af8704" {
		t.Errorf("fingerprint %s", got)
	}
}
