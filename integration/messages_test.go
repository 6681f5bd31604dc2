package integration

// The Anthropic Messages API through a real Caddy against the fake Poe,
// with the official anthropic-sdk-go client.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/option"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer"
)

// messagesSite serves the bots these tests use under Claude-ish names.
func messagesSite(t *testing.T, extra string) (*poefake.Server, *site) {
	t.Helper()
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-messages
		bot claude-echo Echo
		bot claude-weather V6
		bot claude-parallel V6-parallel
		bot claude-think Reasoning
		bot claude-fail-midway V5
		bot claude-busy V11-429
		`+extra+`
		base_url {FAKE}
	}`)
	return fake, s
}

// anthropicClient talks to the site with the SDK's retries off, so that
// every status reaches the test. auth picks the header: x-api-key
// (WithAPIKey, the SDK's default) or Authorization: Bearer (WithAuthToken).
func (s *site) anthropicClient(key string, bearer bool) anthropic.Client {
	auth := anthropicopt.WithAPIKey(key)
	if bearer {
		auth = anthropicopt.WithAuthToken(key)
	}
	return anthropic.NewClient(
		anthropicopt.WithBaseURL(s.base),
		auth,
		anthropicopt.WithMaxRetries(0),
		anthropicopt.WithRequestTimeout(30*time.Second),
	)
}

func userText(model, text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 1024,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}}
}

// streamMessage runs a streaming request and accumulates it as the SDK does.
func streamMessage(t *testing.T, c anthropic.Client, ctx context.Context, params anthropic.MessageNewParams) (anthropic.Message, []string, error) {
	t.Helper()
	st := c.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	var events []string
	for st.Next() {
		ev := st.Current()
		events = append(events, ev.Type)
		if err := acc.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.Type, err)
		}
	}
	return acc, events, st.Err()
}

func lastQuery(t *testing.T, fake *poefake.Server, bot string) poeclient.QueryRequest {
	t.Helper()
	reqs := fake.RequestsFor(bot)
	if len(reqs) == 0 {
		t.Fatalf("no request reached %s", bot)
	}
	return reqs[len(reqs)-1].Query
}

func TestMessagesTextStreamingAndNot(t *testing.T) {
	fake, s := messagesSite(t, "")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 30*time.Second)
	params := userText("claude-echo", "hello from the messages API")
	// Claude Code's system: a billing line (dropped), cached blocks (kept).
	params.System = []anthropic.TextBlockParam{{Text: "x-anthropic-billing-header: cc_version=2.1"},
		{Text: "Be brief.", CacheControl: anthropic.NewCacheControlEphemeralParam()}}

	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	want := "hello from the messages API"
	if !strings.HasPrefix(msg.ID, "msg_") || msg.Role != "assistant" || string(msg.Model) != "claude-echo" ||
		len(msg.Content) != 1 || msg.Content[0].Type != "text" || msg.Content[0].Text != want ||
		msg.StopReason != anthropic.StopReasonEndTurn || msg.StopSequence != "" {
		t.Fatalf("%s", msg.RawJSON())
	}
	if msg.Usage.OutputTokens != int64(tokenizer.Count(want)) || msg.Usage.InputTokens <= 0 || !msg.JSON.Usage.Valid() {
		t.Fatalf("usage %s", msg.Usage.RawJSON())
	}
	q := lastQuery(t, fake, "Echo")
	if len(q.Query) != 2 || q.Query[0].Role != poeclient.RoleSystem || q.Query[0].Content != "Be brief." ||
		q.Query[1].Content != want {
		t.Fatalf("query %+v", q.Query)
	}

	acc, events, err := streamMessage(t, c, ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if acc.ID == msg.ID || !strings.HasPrefix(acc.ID, "msg_") || len(acc.Content) != 1 || acc.Content[0].Text != want ||
		acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens != msg.Usage.OutputTokens || acc.Usage.InputTokens != msg.Usage.InputTokens {
		t.Fatalf("streamed %+v", acc)
	}
	if events[0] != "message_start" || events[1] != "content_block_start" || events[len(events)-2] != "message_delta" ||
		events[len(events)-1] != "message_stop" {
		t.Fatalf("events %v", events)
	}

	// Claude Code's path and headers: ?beta=true, anthropic-beta, and
	// fields and blocks this server does not know.
	r := s.post("/v1/messages?beta=true", "", `{"model":"claude-echo","max_tokens":100,"stream":true,
		"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"future_block","x":1}]},
		            {"role":"system","content":"env"}],
		"thinking":{"type":"adaptive","display":"omitted"},"context_management":{"edits":[]},"output_config":{"effort":"high"},
		"tools":[{"type":"web_search_20250305","name":"web_search"},{"name":"Placeholder","defer_loading":true,"input_schema":{}}],
		"metadata":{"user_id":"u"},"service_tier":"auto"}`,
		"x-api-key", "x", "anthropic-version", "2023-06-01", "anthropic-beta", "claude-code-20250219,made-up-beta-2099-01-01", "Accept", "application/json")
	body := readAll(t, r.Body)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/event-stream" || !strings.Contains(body, `"text":"hi --rea"`) ||
		!strings.HasSuffix(strings.TrimSpace(body), `data: {"type":"message_stop"}`) {
		t.Fatalf("%d %v %s", r.StatusCode, r.Header, body)
	}
	// thinking adaptive maps to the effort flag, output_config.effort
	// wins; the role:"system" message reaches Poe, the unknown block not.
	q = lastQuery(t, fake, "Echo")
	if len(q.Query) != 2 || q.Query[0].Content != "hi --reasoning_effort high" || q.Query[1].Role != poeclient.RoleSystem ||
		q.Query[1].Content != "env" {
		t.Fatalf("query %+v", q.Query)
	}
}

func TestMessagesAuthHeaders(t *testing.T) {
	_, s := messagesSite(t, "auth_keys sk-good")
	ctx := ctxTimeout(t, 30*time.Second)
	for _, bearer := range []bool{false, true} {
		good, bad := s.anthropicClient("sk-good", bearer), s.anthropicClient("sk-bad", bearer)
		msg, err := good.Messages.New(ctx, userText("claude-echo", "auth"))
		if err != nil || msg.Content[0].Text != "auth" {
			t.Fatalf("bearer=%v: %v", bearer, err)
		}
		_, err = bad.Messages.New(ctx, userText("claude-echo", "auth"))
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Type() != "authentication_error" || apiErr.RequestID == "" {
			t.Fatalf("bearer=%v, wrong key: %v", bearer, err)
		}
	}
	// count_tokens and models need the key too, and answer in Anthropic's shape.
	r := s.post("/v1/messages/count_tokens?beta=true", "", `{"model":"claude-echo","messages":[{"role":"user","content":"x"}]}`, "x-api-key", "nope")
	if b := readAll(t, r.Body); r.StatusCode != 401 || !strings.Contains(b, `"type":"authentication_error"`) {
		t.Fatalf("%d %s", r.StatusCode, b)
	}
}

var weatherToolParam = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_current_weather",
	Description: anthropic.String("Get the weather"),
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}, Required: []string{"location"}},
}}

func TestMessagesToolUseRoundTrip(t *testing.T) {
	fake, s := messagesSite(t, "")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 30*time.Second)
	params := userText("claude-weather", "Weather in Paris?")
	params.Tools = []anthropic.ToolUnionParam{weatherToolParam}

	// Round 1, not streaming: a tool_use block with an Anthropic id.
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" ||
		msg.Content[0].Name != "get_current_weather" || string(msg.Content[0].Input) != `{"location":"Paris"}` ||
		!strings.HasPrefix(msg.Content[0].ID, "toolu_") {
		t.Fatalf("round 1: %s", msg.RawJSON())
	}
	if tools := lastQuery(t, fake, "V6").Tools; len(tools) != 1 || tools[0].Function.Name != "get_current_weather" ||
		!strings.Contains(fmt.Sprint(tools[0].Function.Parameters), "location") {
		t.Fatalf("tools sent: %+v", tools)
	}

	// The same, streamed: input only through input_json_delta.
	acc, _, err := streamMessage(t, c, ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if acc.StopReason != anthropic.StopReasonToolUse || len(acc.Content) != 1 || string(acc.Content[0].Input) != `{"location":"Paris"}` ||
		!strings.HasPrefix(acc.Content[0].ID, "toolu_") || acc.Content[0].ID == msg.Content[0].ID {
		t.Fatalf("streamed: %+v", acc.Content)
	}

	// Round 2: the tool_result answers the id we minted; Poe gets it as
	// tool_calls/tool_results.
	id := msg.Content[0].ID
	params.Messages = append(params.Messages, msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(id, `{"temperature": "22"}`, false)))
	msg2, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg2.StopReason != anthropic.StopReasonEndTurn || len(msg2.Content) != 1 || msg2.Content[0].Text != "It is 22 degrees in Paris." {
		t.Fatalf("round 2: %s", msg2.RawJSON())
	}
	q := lastQuery(t, fake, "V6")
	if len(q.ToolCalls) != 1 || q.ToolCalls[0].ID != id || q.ToolCalls[0].Function.Arguments != `{"location":"Paris"}` ||
		len(q.ToolResults) != 1 || q.ToolResults[0].ToolCallID != id || q.ToolResults[0].Content != `{"temperature": "22"}` ||
		q.ToolResults[0].Name != "get_current_weather" {
		t.Fatalf("round 2 query %+v", q)
	}

	// A tool_result for a call nobody made: 400 naming it.
	params.Messages[2] = anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_nobody", "?", false))
	_, err = c.Messages.New(ctx, params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type() != "invalid_request_error" ||
		!strings.Contains(apiErr.RawJSON(), "messages[2].content[0].tool_use_id") {
		t.Fatalf("unmatched tool_result: %v", err)
	}

	// Interleaved parallel calls come out as one block each, in order.
	params = userText("claude-parallel", "Weather in Paris and Tokyo?")
	params.Tools = []anthropic.ToolUnionParam{weatherToolParam}
	acc, _, err = streamMessage(t, c, ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 2 || string(acc.Content[0].Input) != `{"location":"Paris"}` || string(acc.Content[1].Input) != `{"location":"Tokyo"}` ||
		acc.Content[0].ID == acc.Content[1].ID || acc.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("parallel: %+v", acc.Content)
	}
}

func TestMessagesThinking(t *testing.T) {
	_, s := messagesSite(t, "")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 30*time.Second)
	params := userText("claude-think", "2+2?")
	params.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
	check := func(what string, m anthropic.Message) {
		t.Helper()
		if len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[0].Thinking != "The user asks for 2+2.\nThat is 4." ||
			m.Content[0].Signature == "" || m.Content[1].Type != "text" || m.Content[1].Text != "2 + 2 = 4." {
			t.Fatalf("%s: %+v", what, m.Content)
		}
	}
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	check("non-stream", *msg)
	acc, _, err := streamMessage(t, c, ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	check("stream", acc)

	// The thinking block goes back in history and is not forwarded.
	params.Messages = append(params.Messages, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("and 3+3?")))
	if _, err := c.Messages.New(ctx, params); err != nil {
		t.Fatal(err)
	}

	// Without thinking asked for (or with display omitted), no thinking
	// block, but the reasoning still counts as output.
	params = userText("claude-think", "2+2?")
	msg, err = c.Messages.New(ctx, params)
	if err != nil || len(msg.Content) != 1 || msg.Content[0].Text != "2 + 2 = 4." || msg.Usage.OutputTokens <= int64(tokenizer.Count("2 + 2 = 4.")) {
		t.Fatalf("%v %s", err, msg.RawJSON())
	}
	r := s.post("/v1/messages", "x", `{"model":"claude-think","max_tokens":50,"stream":true,"thinking":{"type":"adaptive","display":"omitted"},"messages":[{"role":"user","content":"2+2?"}]}`)
	if b := readAll(t, r.Body); strings.Contains(b, "thinking") || !strings.Contains(b, "2 + 2 = ") {
		t.Fatalf("omitted: %s", b)
	}
}

func TestMessagesMaxTokens(t *testing.T) {
	_, s := messagesSite(t, "")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 30*time.Second)
	params := userText("Chunks-200x16-50ms", "x")
	params.MaxTokens = 12
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonMaxTokens || msg.Usage.OutputTokens != 12 || tokenizer.Count(msg.Content[0].Text) != 12 {
		t.Fatalf("%s", msg.RawJSON())
	}
	acc, _, err := streamMessage(t, c, ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if acc.StopReason != anthropic.StopReasonMaxTokens || acc.Usage.OutputTokens != 12 || tokenizer.Count(acc.Content[0].Text) != 12 {
		t.Fatalf("%+v", acc)
	}
}

func TestMessagesErrors(t *testing.T) {
	_, s := messagesSite(t, "unknown_models reject")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 60*time.Second)
	apiError := func(err error) *anthropic.Error {
		t.Helper()
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("not an API error: %v", err)
		}
		return apiErr
	}

	// Bad input names the field, in Anthropic's shape.
	r := s.post("/v1/messages", "x", `{"model":"claude-echo","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},
		{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"not*base64"}}]}]}`)
	var body struct {
		Type  string
		Error struct{ Type, Message string }
	}
	json.Unmarshal([]byte(readAll(t, r.Body)), &body)
	if r.StatusCode != 400 || body.Type != "error" || body.Error.Type != "invalid_request_error" ||
		!strings.HasPrefix(body.Error.Message, "messages[2].content[0].source.data") || r.Header.Get("Request-Id") == "" {
		t.Fatalf("%d %+v", r.StatusCode, body)
	}
	// Missing max_tokens, through the SDK.
	_, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-echo",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	if e := apiError(err); e.StatusCode != 400 || e.Type() != "invalid_request_error" || !strings.Contains(e.RawJSON(), "max_tokens") {
		t.Fatalf("%v", err)
	}
	// Not JSON.
	if r := s.post("/v1/messages", "x", `{"model":`); r.StatusCode != 400 || !strings.Contains(readAll(t, r.Body), `"invalid_request_error"`) {
		t.Fatal(r.StatusCode)
	}

	// An unknown model under unknown_models reject: not_found_error.
	_, err = c.Messages.New(ctx, userText("claude-nope", "x"))
	if e := apiError(err); e.StatusCode != 404 || e.Type() != "not_found_error" {
		t.Fatalf("%v", err)
	}

	// Poe's rate limit: 429 rate_limit_error with retry-after.
	_, err = c.Messages.New(ctx, userText("claude-busy", "x"))
	if e := apiError(err); e.StatusCode != 429 || e.Type() != "rate_limit_error" || e.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("%v", err)
	}

	// Wrong method on /messages: Anthropic's shape too.
	req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/messages", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(b, `{"type":"error","error":{"type":"invalid_request_error"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}

	// After the stream started, a failure is an error event: the SDK
	// raises it, and the stream ends.
	acc, events, err := streamMessage(t, c, ctx, userText("claude-fail-midway", "x"))
	if err == nil || !strings.Contains(err.Error(), "api_error") || len(acc.Content) != 1 || acc.Content[0].Text != "Partial answ" ||
		events[0] != "message_start" {
		t.Fatalf("%v %v %+v", err, events, acc.Content)
	}
}

func TestMessagesCountTokens(t *testing.T) {
	_, s := messagesSite(t, "")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 30*time.Second)
	text := "Count these words, please: one two three."
	system := []anthropic.TextBlockParam{{Text: "You are a counter."}}
	count, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-echo", System: anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: system},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}})
	if err != nil {
		t.Fatal(err)
	}
	params := userText("claude-echo", text)
	params.System = system
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	// The same counter as usage.
	if count.InputTokens <= int64(tokenizer.Count(text)) || count.InputTokens != msg.Usage.InputTokens {
		t.Fatalf("count %d, usage %d", count.InputTokens, msg.Usage.InputTokens)
	}
	r := s.post("/v1/messages/count_tokens?beta=true", "x", `{"model":"claude-echo","messages":[{"role":"user","content":[{"type":"text"}]}]}`,
		"anthropic-beta", "token-counting-2024-11-01")
	if b := readAll(t, r.Body); r.StatusCode != 400 || !strings.Contains(b, "messages[0].content[0].text") {
		t.Fatalf("%d %s", r.StatusCode, b)
	}
}

func TestMessagesModelsList(t *testing.T) {
	_, s := messagesSite(t, "")
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 30*time.Second)
	page, err := c.Models.List(ctx, anthropic.ModelListParams{Limit: anthropic.Int(1000)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		if m.Type != "model" || m.CreatedAt.IsZero() || m.DisplayName == "" {
			t.Fatalf("%s", m.RawJSON())
		}
		ids = append(ids, m.ID)
	}
	if len(ids) != 6 || !strings.Contains(strings.Join(ids, ","), "claude-echo") || page.HasMore || page.FirstID != ids[0] || page.LastID != ids[5] {
		t.Fatalf("%s", page.RawJSON())
	}
	m, err := c.Models.Get(ctx, "claude-echo", anthropic.ModelGetParams{})
	if err != nil || m.ID != "claude-echo" || m.Type != "model" {
		t.Fatalf("%v %+v", err, m)
	}
	_, err = c.Models.Get(ctx, "nope", anthropic.ModelGetParams{})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Type() != "not_found_error" {
		t.Fatalf("%v", err)
	}
	// Without anthropic-version: OpenAI's shape.
	r := s.get("/v1/models", "x")
	if b := readAll(t, r.Body); !strings.Contains(b, `"object":"list"`) {
		t.Fatal(b)
	}
}

// Every upstream cause gets its Anthropic counterpart, with the status
// the other front ends give it.
func TestMessagesUpstreamErrors(t *testing.T) {
	fake, url := fakePoe(t, nil)
	fake.SetBot("TooLong", func(*poefake.Request) poefake.Script {
		return poefake.Script{poefake.Error(false, "Your message is too long.", poeclient.ErrorTypeMessageTooLong)}
	})
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-messages-errors
		idle_timeout 300ms
		base_url {FAKE}
	}`)
	c := s.anthropicClient("x", false)
	ctx := ctxTimeout(t, 60*time.Second)
	for _, tc := range []struct {
		bot, typ string
		status   int
		message  string
	}{
		{"TooLong", "invalid_request_error", 400, "prompt is too long: "}, // Claude Code compacts on this
		{"V4", "rate_limit_error", 429, ""},                               // no points left
		{"V11", "api_error", 502, ""},                                     // Poe refused this server's key
		{"V3", "api_error", 502, ""},                                      // Poe failed before any output
		{"Stall-first", "timeout_error", 504, ""},                         // Poe sent nothing in time
	} {
		for _, stream := range []bool{false, true} {
			var err error
			if stream {
				_, _, err = streamMessage(t, c, ctx, userText(tc.bot, "x"))
			} else {
				_, err = c.Messages.New(ctx, userText(tc.bot, "x"))
			}
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || string(apiErr.Type()) != tc.typ ||
				!strings.Contains(apiErr.RawJSON(), `"message":"`+tc.message) {
				t.Fatalf("%s stream=%v: %v", tc.bot, stream, err)
			}
		}
	}
	// A stall after the answer started: an error event ends the stream.
	acc, _, err := streamMessage(t, c, ctx, userText("Stall", "x"))
	if err == nil || !strings.Contains(err.Error(), "timeout_error") || len(acc.Content) != 1 || acc.Content[0].Text != "partial" {
		t.Fatalf("%v %+v", err, acc.Content)
	}
}
