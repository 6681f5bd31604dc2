package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// FuzzAnswer feeds arbitrary Poe event sequences through the answer
// pipeline (settle, refs, reasoning split, limit, tools) in every mode:
// it must never panic, always end, report a known finish reason, and keep
// a streamed answer's text equal to what it collected for counting.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte("tHello \x00tworld\x00rThinking...\x00rAnswer"), uint8(0))
	f.Add([]byte("t<think>plan</think>done\x00j{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}"), uint8(1))
	f.Add([]byte("tsee [a]\x00f{\"url\":\"https://x/a.png\",\"content_type\":\"image/png\",\"name\":\"a\",\"inline_ref\":\"a\"}\x00t more"), uint8(2))
	f.Add([]byte("j{\"choices\":[{\"delta\":{\"reasoning_content\":\"why\",\"content\":\"because\"},\"finish_reason\":\"length\"}]}"), uint8(3))
	modes := []string{ReasoningSplit, ReasoningInline, ReasoningDrop}
	f.Fuzz(func(t *testing.T, script []byte, knobs uint8) {
		var events []poeclient.Event
		for _, part := range bytes.Split(script, []byte{0}) {
			if len(part) == 0 {
				continue
			}
			data := part[1:]
			switch part[0] {
			case 't', 'r':
				kind := poeclient.EventText
				if part[0] == 'r' {
					kind = poeclient.EventReplace
				}
				text, _ := json.Marshal(map[string]string{"text": string(data)})
				events = append(events, poeclient.Event{Kind: kind, Data: text})
			case 'j':
				events = append(events, poeclient.Event{Kind: poeclient.EventJSON, Data: data})
			case 'f':
				events = append(events, poeclient.Event{Kind: poeclient.EventFile, Data: data})
			}
		}
		stream := knobs&1 != 0
		opts := AnswerOptions{Stream: stream, Reasoning: modes[int(knobs>>1)%3], Count: true}
		if knobs&8 != 0 {
			opts.MaxTokens = int(knobs>>4) + 1
		}
		rec := &recorder{}
		var sink Sink
		if stream {
			sink = rec
		}
		a := NewAnswer(opts, sink)
		for _, ev := range events {
			if err := a.Event(ev); err != nil {
				if errors.Is(err, ErrLength) {
					break
				}
				// A malformed event is a protocol error: the stream ends there.
				return
			}
		}
		if err := a.End(); err != nil && !errors.Is(err, ErrLength) {
			return
		}
		switch a.FinishReason() {
		case conv.FinishStop, conv.FinishLength, conv.FinishToolCalls:
		default:
			t.Fatalf("finish reason %q", a.FinishReason())
		}
		if u := a.Usage(context.Background(), 0); u.CompletionTokens < u.ReasoningTokens || u.ReasoningTokens < 0 {
			t.Fatalf("usage %+v", u)
		}
		if stream && rec.join("c:") != a.Content() {
			t.Fatalf("streamed %q, counted %q", rec.join("c:"), a.Content())
		}
	})
}
