package poefake

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var pingRE = regexp.MustCompile(`: ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00`)

const pingMark = ": ping - 2025-01-01 00:00:00.000000+00:00"

// v1Bytes is vector V1's body with the given separator (ping time fixed).
func v1Bytes(sep string) string {
	return "event: text" + sep + `data: {"text": "Hello"}` + sep + sep +
		"event: text" + sep + `data: {"text": " caf\u00e9!"}` + sep + sep +
		pingMark + sep + sep +
		"event: done" + sep + "data: {}" + sep + sep
}

func TestV1WireBytesCRLF(t *testing.T) {
	_, ts := newFake(t, Options{})
	resp, body := postBot(t, ts, "V1", "test-key", userQuery("Hello world"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-store",
		"X-Accel-Buffering": "no",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if n := len(pingRE.FindAllString(body, -1)); n != 1 {
		t.Fatalf("want one ping comment, got %d in %q", n, body)
	}
	if got := pingRE.ReplaceAllString(body, pingMark); got != v1Bytes("\r\n") {
		t.Fatalf("V1 bytes:\n got %q\nwant %q", got, v1Bytes("\r\n"))
	}
}

func TestFramings(t *testing.T) {
	// Option at construction.
	_, ts := newFake(t, Options{Framing: LF})
	_, body := postBot(t, ts, "V1", "k", userQuery("x"))
	if got := pingRE.ReplaceAllString(body, pingMark); got != v1Bytes("\n") {
		t.Fatalf("LF: got %q", got)
	}
	// Switched while serving.
	fake, ts2 := newFake(t, Options{})
	fake.SetFraming(CR)
	_, body = postBot(t, ts2, "V1", "k", userQuery("x"))
	if got := pingRE.ReplaceAllString(body, pingMark); got != v1Bytes("\r") {
		t.Fatalf("CR: got %q", got)
	}
	for _, tc := range []struct {
		in   string
		want Framing
	}{{"crlf", CRLF}, {"LF", LF}, {"cr", CR}} {
		if f, err := ParseFraming(tc.in); err != nil || f != tc.want || f.String() != strings.ToLower(tc.in) {
			t.Errorf("ParseFraming(%q) = %v, %v", tc.in, f, err)
		}
	}
	if _, err := ParseFraming("crcr"); err == nil {
		t.Error("ParseFraming accepted crcr")
	}
}

func TestPythonJSONEscaping(t *testing.T) {
	// Expected values printed by CPython's json.dumps({"text": s}).
	cases := map[string]string{
		"café":             `{"text": "caf\u00e9"}`,
		"😀":                `{"text": "\ud83d\ude00"}`,
		`a"b\c`:            `{"text": "a\"b\\c"}`,
		"\x00\x01\x1f\x7f": `{"text": "\u0000\u0001\u001f\u007f"}`,
		"\n\r\t\b\f":       `{"text": "\n\r\t\b\f"}`,
		"<>&/":             `{"text": "<>&/"}`,
		"日本":               `{"text": "\u65e5\u672c"}`,
		"\u2028\ufeff":     `{"text": "\u2028\ufeff"}`,
		"bad\xffutf8":      `{"text": "bad\ufffdutf8"}`,
		"":                 `{"text": ""}`,
	}
	for in, want := range cases {
		if got := Text(in).data; got != want {
			t.Errorf("Text(%q) data = %s, want %s", in, got, want)
		}
	}
	if got, want := Error(false, "x", "y").data, `{"allow_retry": false, "text": "x", "error_type": "y"}`; got != want {
		t.Errorf("Error data = %s", got)
	}
	if got, want := Error(true, "Internal server error", "").data, `{"allow_retry": true, "text": "Internal server error"}`; got != want {
		t.Errorf("Error data = %s", got)
	}
	if got, want := Meta().data, `{"content_type": "text/markdown", "refetch_settings": false, "linkify": true, "suggested_replies": false}`; got != want {
		t.Errorf("Meta data = %s", got)
	}
	if got, want := File("u", "image/png", "n", "").data, `{"url": "u", "content_type": "image/png", "name": "n", "inline_ref": null}`; got != want {
		t.Errorf("File data = %s", got)
	}
}

func TestScriptBytes(t *testing.T) {
	sc := Script{
		Event("x", "a\nb\r\nc\rd"),
		Event("y", ""),
		Raw("raw!"),
		Sleep(time.Hour), Hang(), // skipped
		Replace("r"), SuggestedReply("s"), ErrorRaw("not json"), Done(),
	}
	want := "event: x\r\ndata: a\r\ndata: b\r\ndata: c\r\ndata: d\r\n\r\n" +
		"event: y\r\ndata: \r\n\r\n" +
		"raw!" +
		"event: replace_response\r\ndata: {\"text\": \"r\"}\r\n\r\n" +
		"event: suggested_reply\r\ndata: {\"text\": \"s\"}\r\n\r\n" +
		"event: error\r\ndata: not json\r\n\r\n" +
		"event: done\r\ndata: {}\r\n\r\n"
	if got := string(sc.Bytes(CRLF)); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := string(Script{Ping()}.Bytes(LF)); !pingRE.MatchString(got) || !strings.HasSuffix(got, "\n\n") {
		t.Fatalf("ping: %q", got)
	}
}

func TestJSONStep(t *testing.T) {
	if got := JSON(map[string]string{"a": "<b>"}).data; got != `{"a":"<b>"}` {
		t.Errorf("JSON(map) = %s", got)
	}
	for _, v := range []any{`{"x": 1}`, []byte(`{"x": 1}`), json.RawMessage(`{"x": 1}`)} {
		if got := JSON(v).data; got != `{"x": 1}` {
			t.Errorf("JSON(%T) = %s", v, got)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("JSON(chan) did not panic")
		}
	}()
	JSON(make(chan int))
}

func TestStatusStep(t *testing.T) {
	fake, ts := newFake(t, Options{})
	h := http.Header{"Content-Type": {"text/event-stream"}, "X-Custom": {"1"}}
	fake.SetBot("Custom", func(*Request) Script { return Script{Status(200, h, ""), Text("hi"), Done()} })
	fake.SetBot("Plain", func(*Request) Script { return Script{Status(503, nil, "busy")} })
	fake.SetBot("Late", func(*Request) Script { return Script{Text("hi"), Status(500, nil, "x")} })

	resp, body := postBot(t, ts, "Custom", "k", userQuery("x"))
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("X-Custom") != "1" ||
		body != "event: text\r\ndata: {\"text\": \"hi\"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n" {
		t.Errorf("custom: %v %q", resp.Header, body)
	}
	resp, body = postBot(t, ts, "Plain", "k", userQuery("x"))
	if resp.StatusCode != 503 || body != "busy" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("plain: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if len(fake.Violations()) != 0 {
		t.Errorf("violations: %v", fake.Violations())
	}
	resp, _ = postBot(t, ts, "Late", "k", userQuery("x"))
	if resp.StatusCode != 200 {
		t.Errorf("late: %d", resp.StatusCode)
	}
	if v := fake.Violations(); len(v) != 1 || !strings.Contains(v[0], "only valid as the first step") {
		t.Errorf("violations: %v", v)
	}
}
