package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
)

// The Allow hook sees the parsed model and can refuse before Poe is
// called; CountAlways fills Outcome.Usage for a stream whose client did
// not ask for usage, without sending it.
func TestAllowHookAndCountAlways(t *testing.T) {
	r := newRig(t, 0)
	r.relay.CountAlways = true
	e := &core.Engine{Relay: r.relay, MaxBody: 1 << 20,
		BotFor: func(_ context.Context, m string) (string, *conv.Error) { return m, nil }}
	var seen []string
	who := core.Caller{Allow: func(model string) *conv.Error {
		seen = append(seen, model)
		if model == "Refused" {
			return &conv.Error{Status: http.StatusTooManyRequests, Type: conv.TypeQuota, Code: "insufficient_quota", Message: "over budget"}
		}
		return nil
	}}
	serve := func(body string) (*httptest.ResponseRecorder, core.Report) {
		w := httptest.NewRecorder()
		rep := e.Serve(w, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)), chat.FrontEnd{}, who, pool(t, "key"))
		return w, rep
	}

	w, rep := serve(chatBody("Refused", false))
	if w.Code != 429 || errorCode(t, w) != "insufficient_quota" || rep.Outcome != nil || len(r.fake.Starts("key")) != 0 {
		t.Fatalf("refusal: %d %s %+v", w.Code, w.Body, rep)
	}
	w, rep = serve(chatBody("Echo", true))
	if w.Code != 200 || rep.Outcome == nil || rep.Outcome.Usage == nil || rep.Outcome.Usage.CompletionTokens == 0 || rep.Outcome.Usage.PromptTokens == 0 {
		t.Fatalf("stream: %d %+v", w.Code, rep.Outcome)
	}
	if strings.Contains(w.Body.String(), `"usage":{`) {
		t.Fatalf("usage sent to a client that did not ask: %s", w.Body)
	}
	if strings.Join(seen, ",") != "Refused,Echo" {
		t.Fatalf("Allow saw %v", seen)
	}
}
