package integration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

func responsesSite(t *testing.T) *site {
	_, url := fakePoe(t, nil)
	return startCaddy(t, url, `
	poe_openai {
		poe_keys tok-responses
		auth_keys alice bob
		bot weather V6
		base_url {FAKE}
	}`)
}

func TestResponsesTextAndStore(t *testing.T) {
	s := responsesSite(t)
	c := s.client("alice")
	ctx := ctxTimeout(t, 30*time.Second)
	resp, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "Echo",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello there")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "completed" || resp.OutputText() != "hello there" || resp.Usage.TotalTokens == 0 || !strings.HasPrefix(resp.ID, "resp_") {
		t.Fatalf("%s", resp.RawJSON())
	}
	// Stored: GET by its owner, 404 for another key; continuation sees the history.
	got, err := c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != resp.ID || got.OutputText() != "hello there" {
		t.Fatalf("get: %v", err)
	}
	var apiErr *openai.Error
	bobClient := s.client("bob")
	if _, err := bobClient.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{}); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("bob: %v", err)
	}
	next, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "Echo", PreviousResponseID: openai.String(resp.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("again")}})
	if err != nil || next.OutputText() != "again" || next.Usage.InputTokens <= resp.Usage.InputTokens {
		t.Fatalf("continued: %v %+v", err, next.Usage)
	}
	if err := c.Responses.Delete(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{}); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("after delete: %v", err)
	}
	// Unknown previous_response_id: 404 naming it.
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "Echo", PreviousResponseID: openai.String("resp_nope"),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Param != "previous_response_id" || apiErr.Code != "previous_response_not_found" {
		t.Fatalf("unknown previous: %v", err)
	}
	// Bad input: 400 naming the field.
	r := s.post("/v1/responses", "alice", `{"model":"Echo","input":[{"role":"user","content":"x"},{"type":"function_call_output","call_id":"c9","output":"z"}]}`)
	if body := readAll(t, r.Body); r.StatusCode != 400 || !strings.Contains(body, `"param":"input[1].call_id"`) {
		t.Fatalf("%d %s", r.StatusCode, body)
	}
}

func TestResponsesStreaming(t *testing.T) {
	s := responsesSite(t)
	c := s.client("alice")
	ctx := ctxTimeout(t, 30*time.Second)
	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "Reasoning",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("2+2?")}})
	var text, summary string
	var seq int64
	var final responses.Response
	for st.Next() {
		ev := st.Current()
		if ev.SequenceNumber != seq {
			t.Fatalf("sequence %d, want %d", ev.SequenceNumber, seq)
		}
		seq++
		switch ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.reasoning_summary_text.delta":
			summary += ev.Delta
		case "response.completed":
			final = ev.Response
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if text != "2 + 2 = 4." || !strings.Contains(summary, "That is 4.") || final.Status != "completed" || len(final.Output) != 2 ||
		final.Output[0].Type != "reasoning" || final.OutputText() != "2 + 2 = 4." || final.Usage.OutputTokensDetails.ReasoningTokens == 0 {
		t.Fatalf("text %q summary %q final %s", text, summary, final.RawJSON())
	}

	// max_output_tokens: response.incomplete.
	st = c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "Chunks-200x16-50ms", MaxOutputTokens: openai.Int(12),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	var last string
	var inc responses.Response
	for st.Next() {
		last = st.Current().Type
		inc = st.Current().Response
	}
	if st.Err() != nil || last != "response.incomplete" || inc.IncompleteDetails.Reason != "max_output_tokens" {
		t.Fatalf("%v %s %s", st.Err(), last, inc.RawJSON())
	}
	resp, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "Chunks-200x16-50ms", MaxOutputTokens: openai.Int(12),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	if err != nil || resp.Status != "incomplete" || resp.Usage.OutputTokens != 12 {
		t.Fatalf("%v %s", err, resp.RawJSON())
	}
}

func TestResponsesToolRoundTrip(t *testing.T) {
	s := responsesSite(t)
	c := s.client("alice")
	ctx := ctxTimeout(t, 30*time.Second)
	tool := responses.ToolParamOfFunction("get_current_weather", map[string]any{
		"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}}, false)
	params := responses.ResponseNewParams{Model: "weather", Tools: []responses.ToolUnionParam{tool},
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")}}
	st := c.Responses.NewStreaming(ctx, params)
	var added, done []string
	var final responses.Response
	for st.Next() {
		ev := st.Current()
		switch ev.Type {
		case "response.output_item.added":
			added = append(added, ev.Item.ID)
		case "response.output_item.done":
			done = append(done, ev.Item.ID)
		case "response.completed":
			final = ev.Response
		}
	}
	if st.Err() != nil || len(final.Output) != 1 || strings.Join(added, ",") != strings.Join(done, ",") {
		t.Fatalf("%v added %v done %v %s", st.Err(), added, done, final.RawJSON())
	}
	call := final.Output[0]
	if call.Type != "function_call" || call.CallID != "call_123" || call.Name != "get_current_weather" || call.Arguments.OfString != `{"location":"Paris"}` {
		t.Fatalf("%s", call.RawJSON())
	}
	// Round 2 with the output, as Codex sends it (store:false, full history).
	params.Store = openai.Bool(false)
	params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("Weather in Paris?", responses.EasyInputMessageRoleUser),
		responses.ResponseInputItemParamOfFunctionCall(call.Arguments.OfString, call.CallID, call.Name),
		fco(call.CallID, "22 degrees"),
	}}
	resp, err := c.Responses.New(ctx, params)
	if err != nil || resp.OutputText() != "It is 22 degrees in Paris." {
		t.Fatalf("%v %s", err, resp.RawJSON())
	}
	if _, err := c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{}); err == nil {
		t.Fatal("store:false was stored")
	}
}

func fco(callID, output string) responses.ResponseInputItemUnionParam {
	item := responses.ResponseInputItemParamOfFunctionCallOutput(output)
	item.OfFunctionCallOutput.CallID = openai.String(callID)
	return item
}
