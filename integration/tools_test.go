package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

var weatherTool = openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
	Name:        "get_current_weather",
	Description: openai.String("Get the current weather in a given location"),
	Parameters: openai.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
		"required":   []string{"location"},
	},
})

func toolSite(t *testing.T) (*poefake.Server, *site) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-tools
		bot weather V6
		bot parallel V6-parallel
		bot agent Agent
		bot v7 V7
		base_url {FAKE}
	}`)
	return fake, s
}

func TestToolRoundTrip(t *testing.T) {
	fake, s := toolSite(t)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	params := openai.ChatCompletionNewParams{
		Model:    "weather",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
	}

	// Round 1, not streaming: a complete tool call and no content.
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].ID != "call_123" ||
		msg.ToolCalls[0].Function.Name != "get_current_weather" || msg.ToolCalls[0].Function.Arguments != `{"location":"Paris"}` ||
		msg.JSON.Content.Raw() != "null" {
		t.Fatalf("round 1: %s", resp.RawJSON())
	}
	if tools := fake.RequestsFor("V6")[0].Query.Tools; len(tools) != 1 || tools[0].Function.Name != "get_current_weather" {
		t.Fatalf("tools sent: %+v", tools)
	}

	// The same, streamed: index, id, type and name first, then arguments.
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	var first *openai.ChatCompletionChunk
	for stream.Next() {
		ch := stream.Current()
		if first == nil && len(ch.Choices) > 0 && len(ch.Choices[0].Delta.ToolCalls) > 0 {
			first = &ch
		}
		acc.AddChunk(ch)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	tc := first.Choices[0].Delta.ToolCalls[0]
	if tc.Index != 0 || tc.ID != "call_123" || tc.Type != "function" || tc.Function.Name != "get_current_weather" || tc.Function.Arguments != "" {
		t.Fatalf("first tool delta %+v", tc)
	}
	if got := acc.Choices[0].Message.ToolCalls; len(got) != 1 || got[0].Function.Arguments != `{"location":"Paris"}` ||
		acc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("streamed calls %+v", acc.Choices[0])
	}

	// Round 2: the result goes back as Poe's tool_calls/tool_results.
	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(`{"temperature": "22"}`, "call_123"))
	resp, err = c.Chat.Completions.New(ctx, params)
	if err != nil || resp.Choices[0].Message.Content != "It is 22 degrees in Paris." || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("round 2: %v %+v", err, resp)
	}
	q := fake.RequestsFor("V6")[2].Query
	if len(q.Query) != 1 || q.Query[0].Content != "Weather in Paris?" || len(q.ToolCalls) != 1 || q.ToolCalls[0].ID != "call_123" ||
		len(q.ToolResults) != 1 || q.ToolResults[0].Name != "get_current_weather" || q.ToolResults[0].ToolCallID != "call_123" ||
		q.ToolResults[0].Content != `{"temperature": "22"}` || q.ToolResults[0].Role != "tool" {
		t.Fatalf("round 2 query %+v", q)
	}

	// A result for a call nobody made is refused, naming the message.
	params.Messages[2] = openai.ToolMessage("?", "call_999")
	_, err = c.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "messages[2].tool_call_id" {
		t.Fatalf("unmatched tool result: %v", err)
	}
}

func TestParallelToolCallsAndJSONContent(t *testing.T) {
	_, s := toolSite(t)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "parallel", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Paris and Tokyo?")},
		Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	calls := acc.Choices[0].Message.ToolCalls
	if stream.Err() != nil || len(calls) != 2 || calls[0].ID != "call_1" || calls[0].Function.Arguments != `{"location":"Paris"}` ||
		calls[1].ID != "call_2" || calls[1].Function.Arguments != `{"location":"Tokyo"}` {
		t.Fatalf("%v %+v", stream.Err(), calls)
	}
	// V7: tools offered, none chosen; content in json events, then a
	// usage-only chunk that is not content.
	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "v7", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
		Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
	})
	if err != nil || resp.Choices[0].Message.Content != "there were no tool calls!" || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("%v %+v", err, resp)
	}
}

// agentBot calls the lookup tool three times, one round at a time, then
// answers; it checks on the way that earlier rounds reached it as text.
func agentBot(req *poefake.Request) poefake.Script {
	q := req.Query
	done := 0
	for _, m := range q.Query {
		done += strings.Count(m.Content, "[Tool result for call ")
	}
	if len(q.ToolResults) > 0 {
		done++
	}
	if done >= 3 {
		return poefake.Script{poefake.Text(fmt.Sprintf("Done after %d lookups: %s", done, q.ToolResults[0].Content)), poefake.Done()}
	}
	chunk := fmt.Sprintf(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_%d","type":"function","function":{"name":"lookup","arguments":"{\"step\":%d}"}}]},"finish_reason":null}]}`, done+1, done+1)
	return poefake.Script{poefake.JSON(chunk), poefake.JSON(`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`), poefake.Done()}
}

func TestAgentLoop(t *testing.T) {
	fake, s := toolSite(t)
	fake.SetBot("Agent", agentBot)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	lookup := openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "lookup"}) // no description, no parameters
	params := openai.ChatCompletionNewParams{
		Model:    "agent",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are an agent."), openai.UserMessage("Do three lookups.")},
		Tools:    []openai.ChatCompletionToolUnionParam{lookup},
	}
	var final string
	rounds := 0
	for rounds < 10 {
		rounds++
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		msg := acc.Choices[0].Message
		if acc.Choices[0].FinishReason == "stop" {
			final = msg.Content
			break
		}
		params.Messages = append(params.Messages, msg.ToParam())
		for _, call := range msg.ToolCalls {
			var args struct{ Step int }
			json.Unmarshal([]byte(call.Function.Arguments), &args)
			params.Messages = append(params.Messages, openai.ToolMessage(fmt.Sprintf("result %d", args.Step), call.ID))
		}
	}
	if rounds != 4 || final != "Done after 3 lookups: result 3" {
		t.Fatalf("%d rounds, final %q", rounds, final)
	}
	last := fake.RequestsFor("Agent")[3].Query
	var roles []string
	for _, m := range last.Query {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "system,user,bot,user,bot,user" ||
		!strings.Contains(last.Query[2].Content, "[Called tool lookup (call call_1)") ||
		last.Query[3].Content != "[Tool result for call call_1]\nresult 1" || last.ToolCalls[0].ID != "call_3" {
		t.Fatalf("history sent: %+v", last.Query)
	}
	def := last.Tools[0].Function
	if def.Description != "" || fmt.Sprint(def.Parameters) != "map[properties:map[] type:object]" {
		t.Fatalf("defaults for a bare tool: %+v", def)
	}
}

func TestToolChoiceAndResponseFormat(t *testing.T) {
	fake, s := toolSite(t)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	base := openai.ChatCompletionNewParams{Model: "Echo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		Tools: []openai.ChatCompletionToolUnionParam{weatherTool}}
	none := base
	none.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
	required := base
	required.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
	jsonFmt := openai.ChatCompletionNewParams{Model: "Echo", Messages: base.Messages,
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}}}
	for _, p := range []openai.ChatCompletionNewParams{none, required, jsonFmt} {
		if _, err := c.Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fake.RequestsFor("Echo")
	if reqs[0].Query.Tools != nil {
		t.Fatal("tool_choice none sent tools")
	}
	if q := reqs[1].Query; len(q.Tools) != 1 || q.Query[0].Role != poeclient.RoleSystem || !strings.Contains(q.Query[0].Content, "must answer by calling") {
		t.Fatalf("required: %+v", q.Query)
	}
	if q := reqs[2].Query; q.Query[0].Role != poeclient.RoleSystem || !strings.Contains(q.Query[0].Content, "valid JSON object") {
		t.Fatalf("json_object: %+v", q.Query)
	}
}
