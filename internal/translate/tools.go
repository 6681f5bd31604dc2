package translate

import (
	"encoding/json"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// chunk is the OpenAI chat.completion.chunk Poe forwards in "json" events.
type chunk struct {
	Choices []struct {
		Delta struct {
			Content          *string         `json:"content"`
			ReasoningContent *string         `json:"reasoning_content"`
			ToolCalls        []toolCallDelta `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

type toolCallDelta struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// toolCalls assembles streamed tool-call deltas. Poe's indexes are mapped
// to consecutive output indexes in order of first appearance; an index
// whose first delta lacks an id or a name is dropped, as fastapi_poe does.
type toolCalls struct {
	byPoe   map[int]int // Poe index -> output index, -1 = dropped
	calls   []conv.ToolCall
	onStart func(index int, id, name string) error
	onArgs  func(index int, frag []byte) error
}

func (t *toolCalls) add(d toolCallDelta) error {
	poeIndex := 0
	if d.Index != nil {
		poeIndex = *d.Index
	}
	if t.byPoe == nil {
		t.byPoe = map[int]int{}
	}
	out, seen := t.byPoe[poeIndex]
	if !seen {
		if d.ID == "" || d.Function.Name == "" {
			t.byPoe[poeIndex] = -1
			return nil
		}
		out = len(t.calls)
		t.byPoe[poeIndex] = out
		t.calls = append(t.calls, conv.ToolCall{ID: d.ID, Type: "function", Name: d.Function.Name})
		if err := t.onStart(out, d.ID, d.Function.Name); err != nil {
			return err
		}
	}
	if out < 0 || d.Function.Arguments == "" {
		return nil
	}
	t.calls[out].Arguments += d.Function.Arguments
	return t.onArgs(out, []byte(d.Function.Arguments))
}

func parseChunk(data []byte) (chunk, bool) {
	var c chunk
	if json.Unmarshal(data, &c) != nil {
		return c, false
	}
	return c, true
}
