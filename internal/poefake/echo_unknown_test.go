package poefake

import (
	"net/http"
	"testing"
)

// -echo-unknown lets the README's example config (real Poe bot names)
// run offline.
func TestEchoUnknown(t *testing.T) {
	_, ts := newFake(t, Options{})
	if _, body := postBot(t, ts, "GPT-4o", "k", userQuery("hello")); interpret(parseSSE(body)).text == "hello" {
		t.Fatalf("unknown bot echoed without EchoUnknown: %q", body)
	}
	_, ts = newFake(t, Options{EchoUnknown: true})
	resp, body := postBot(t, ts, "GPT-4o", "k", userQuery("hello"))
	if resp.StatusCode != http.StatusOK || interpret(parseSSE(body)).text != "hello" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}
