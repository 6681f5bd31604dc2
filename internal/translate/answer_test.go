package translate

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer"
)

// recorder is a Sink that keeps every call.
type recorder struct{ calls []string }

func (r *recorder) Content(p []byte) error   { r.calls = append(r.calls, "c:"+string(p)); return nil }
func (r *recorder) Reasoning(p []byte) error { r.calls = append(r.calls, "r:"+string(p)); return nil }
func (r *recorder) ToolCall(i int, id, name string) error {
	r.calls = append(r.calls, "t:"+string(rune('0'+i))+":"+id+":"+name)
	return nil
}
func (r *recorder) ToolArgs(i int, frag []byte) error {
	r.calls = append(r.calls, "a:"+string(rune('0'+i))+":"+string(frag))
	return nil
}

func (r *recorder) join(prefix string) string {
	var b strings.Builder
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			b.WriteString(c[len(prefix):])
		}
	}
	return b.String()
}

type result struct {
	rec     *recorder
	answer  *Answer
	err     error // the stream's or the answer's error
	done    bool
	content string
}

var fake = poefake.New(poefake.Options{})

// play runs bot's script through a real HTTP stream and poeclient.
func play(t *testing.T, script poefake.Script, opts AnswerOptions) result {
	t.Helper()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	name := "test-" + strings.ReplaceAll(t.Name(), "/", "-")
	fake.SetBot(name, func(*poefake.Request) poefake.Script { return script })
	c := &poeclient.Client{HTTP: srv.Client(), BaseURL: srv.URL}
	s, err := c.Query(context.Background(), name, "k", poeclient.NewQuery([]poeclient.ProtocolMessage{poeclient.NewMessage("user", "hi")}))
	if err != nil {
		return result{err: err}
	}
	rec := &recorder{}
	var sink Sink
	if opts.Stream {
		sink = rec
	}
	a := NewAnswer(opts, sink)
	res := result{rec: rec, answer: a}
	for {
		ev, err := s.Next()
		if err == io.EOF {
			res.err = a.End()
			break
		}
		if err != nil {
			res.err = err
			break
		}
		if err := a.Event(ev); err != nil {
			res.err = err
			if errors.Is(err, ErrLength) {
				a.End()
			}
			s.Close()
			break
		}
	}
	res.done = s.Done()
	res.content = a.Content()
	if opts.Stream {
		res.content = rec.join("c:")
	}
	return res
}

func vector(t *testing.T, name string) poefake.Script {
	t.Helper()
	sc, ok := fake.Script(name, &poefake.Request{Bot: name, Query: poeclient.QueryRequest{Tools: []poeclient.ToolDefinition{{Type: "function"}}}})
	if !ok {
		t.Fatalf("no bot %s", name)
	}
	return sc
}

func both(t *testing.T, f func(t *testing.T, stream bool)) {
	t.Run("stream", func(t *testing.T) { f(t, true) })
	t.Run("nonstream", func(t *testing.T) { f(t, false) })
}

func TestV1OneChunkPerText(t *testing.T) {
	r := play(t, vector(t, "V1"), AnswerOptions{Stream: true})
	if r.err != nil || !r.done || strings.Join(r.rec.calls, "|") != "c:Hello|c: café!" {
		t.Fatalf("%v %v %q", r.err, r.done, r.rec.calls)
	}
	if r.answer.FinishReason() != "stop" {
		t.Fatal(r.answer.FinishReason())
	}
}

func TestV2ReplaceAndPlaceholder(t *testing.T) {
	for _, mode := range []string{ReasoningSplit, ReasoningInline, ReasoningDrop} {
		both(t, func(t *testing.T, stream bool) {
			r := play(t, vector(t, "V2"), AnswerOptions{Stream: stream, Reasoning: mode})
			if r.err != nil || r.content != "The capital of Nepal is Kathmandu." {
				t.Fatalf("%s: %v %q", mode, r.err, r.content)
			}
			if stream && strings.Contains(strings.Join(r.rec.calls, ""), "Thinking") {
				t.Fatalf("%s: placeholder leaked: %q", mode, r.rec.calls)
			}
		})
	}
}

func TestV7ContentInJSON(t *testing.T) {
	both(t, func(t *testing.T, stream bool) {
		r := play(t, vector(t, "V7"), AnswerOptions{Stream: stream})
		if r.err != nil || r.content != "there were no tool calls!" || r.answer.FinishReason() != "stop" || len(r.answer.ToolCalls()) != 0 {
			t.Fatalf("%v %q %s", r.err, r.content, r.answer.FinishReason())
		}
	})
}

func TestV6ToolCall(t *testing.T) {
	both(t, func(t *testing.T, stream bool) {
		r := play(t, vector(t, "V6"), AnswerOptions{Stream: stream})
		calls := r.answer.ToolCalls()
		if r.err != nil || len(calls) != 1 || calls[0].ID != "call_123" || calls[0].Name != "get_current_weather" ||
			calls[0].Arguments != `{"location":"Paris"}` || r.answer.FinishReason() != "tool_calls" || r.content != "" {
			t.Fatalf("%v %+v %s %q", r.err, calls, r.answer.FinishReason(), r.content)
		}
		if stream && strings.Join(r.rec.calls, "|") != `t:0:call_123:get_current_weather|a:0:{"location":|a:0:"Paris"}` {
			t.Fatalf("stream %q", r.rec.calls)
		}
	})
}

func TestV6ParallelTools(t *testing.T) {
	r := play(t, vector(t, "V6-parallel"), AnswerOptions{Stream: true})
	calls := r.answer.ToolCalls()
	if r.err != nil || len(calls) != 2 || calls[0].Arguments != `{"location":"Paris"}` || calls[1].Arguments != `{"location":"Tokyo"}` ||
		calls[1].ID != "call_2" {
		t.Fatalf("%v %+v", r.err, calls)
	}
	if r.rec.calls[0] != "t:0:call_1:get_current_weather" || r.rec.calls[1] != "t:1:call_2:get_current_weather" {
		t.Fatalf("%q", r.rec.calls)
	}
}

func TestToolIndexWithoutIDDropped(t *testing.T) {
	r := play(t, poefake.Script{
		poefake.JSON(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`),
		poefake.JSON(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","type":"function","function":{"name":"f","arguments":"{"}}]}}]}`),
		poefake.JSON(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"}"}}]}}]}`),
		poefake.Done(),
	}, AnswerOptions{Stream: true})
	calls := r.answer.ToolCalls()
	if len(calls) != 1 || calls[0].ID != "c2" || calls[0].Arguments != "{}" || r.rec.calls[0] != "t:0:c2:f" {
		t.Fatalf("%+v %q", calls, r.rec.calls)
	}
}

func TestFiles(t *testing.T) {
	both(t, func(t *testing.T, stream bool) {
		r := play(t, vector(t, "V8"), AnswerOptions{Stream: stream})
		want := "Here it is: ![image.png](https://pfst.cf2.poecdn.net/base/image/f8042baa?w=1024&h=1024)"
		if r.err != nil || r.content != want {
			t.Fatalf("V8: %q", r.content)
		}
		r = play(t, vector(t, "V8-noref"), AnswerOptions{Stream: stream})
		want = "Here is your file.\n\n![image.png](https://pfst.cf2.poecdn.net/base/image/f8042baa?w=1024&h=1024)"
		if r.err != nil || r.content != want {
			t.Fatalf("V8-noref: %q", r.content)
		}
		r = play(t, vector(t, "Image"), AnswerOptions{Stream: stream})
		if r.err != nil || !strings.HasPrefix(r.content, "Here it is: ![image.png](https://") || strings.Contains(r.content, "Generating") || strings.Count(r.content, "![") != 1 {
			t.Fatalf("Image: %q", r.content)
		}
		r = play(t, poefake.Script{poefake.File("https://x/report.pdf", "application/pdf", "report.pdf", ""), poefake.Done()}, AnswerOptions{Stream: stream})
		if r.content != "[report.pdf](https://x/report.pdf)" {
			t.Fatalf("pdf: %q", r.content)
		}
	})
}

func TestRefSplitAcrossChunks(t *testing.T) {
	r := play(t, poefake.Script{
		poefake.File("https://cdn/x.png", "image/png", "x.png", "Ref12345"),
		poefake.Text("A picture: ![x.png]"), poefake.Text("[Ref1"), poefake.Text("2345] and [a link][nope]."), poefake.Done(),
	}, AnswerOptions{Stream: true})
	if r.content != "A picture: ![x.png](https://cdn/x.png) and [a link][nope]." {
		t.Fatalf("%q (%q)", r.content, r.rec.calls)
	}
}

func TestV9V10(t *testing.T) {
	r := play(t, vector(t, "V9"), AnswerOptions{Stream: true})
	if r.err != nil || r.done || r.content != "truncated but ok" {
		t.Fatalf("V9 %v %v %q", r.err, r.done, r.content)
	}
	r = play(t, vector(t, "V10"), AnswerOptions{Stream: true})
	if r.err != nil || r.content != "hello" {
		t.Fatalf("V10 %v %q", r.err, r.content)
	}
	for _, bad := range []string{"V10-badjson", "V10-nontext"} {
		r = play(t, vector(t, bad), AnswerOptions{Stream: true})
		var pe *poeclient.Error
		if !errors.As(r.err, &pe) || pe.Kind != poeclient.KindProtocol {
			t.Fatalf("%s: %v", bad, r.err)
		}
	}
}

func TestReplaceConflict(t *testing.T) {
	script := poefake.Script{poefake.Text("Hello"), poefake.Text(" world"), poefake.Replace("Goodbye"), poefake.Text("!"), poefake.Done()}
	if r := play(t, script, AnswerOptions{Stream: true}); r.content != "Hello world\n\nGoodbye!" {
		t.Fatalf("stream %q", r.content)
	}
	if r := play(t, script, AnswerOptions{Stream: false}); r.content != "Goodbye!" {
		t.Fatalf("nonstream %q", r.content)
	}
	// A replacement that extends what was sent streams only the new part.
	script = poefake.Script{poefake.Text("Answer: "), poefake.Replace("Answer: forty"), poefake.Text("-two"), poefake.Done()}
	r := play(t, script, AnswerOptions{Stream: true})
	if r.content != "Answer: forty-two" || strings.Join(r.rec.calls, "|") != "c:Answer: |c:forty-two" {
		t.Fatalf("%q", r.rec.calls)
	}
}

func TestReasoningModes(t *testing.T) {
	both(t, func(t *testing.T, stream bool) {
		r := play(t, vector(t, "Reasoning"), AnswerOptions{Stream: stream})
		if r.err != nil || r.content != "2 + 2 = 4." {
			t.Fatalf("split content %q", r.content)
		}
		reasoning := r.answer.ReasoningContent()
		if stream {
			reasoning = r.rec.join("r:")
		}
		if reasoning != "The user asks for 2+2.\nThat is 4." {
			t.Fatalf("split reasoning %q", reasoning)
		}
		r = play(t, vector(t, "Reasoning"), AnswerOptions{Stream: stream, Reasoning: ReasoningDrop})
		if r.content != "2 + 2 = 4." || r.answer.ReasoningContent() != "" || r.rec.join("r:") != "" {
			t.Fatalf("drop %q", r.content)
		}
		r = play(t, vector(t, "Reasoning"), AnswerOptions{Stream: stream, Reasoning: ReasoningInline})
		if r.content != "*Thinking...*\n\n> The user asks for 2+2.\n> That is 4.\n\n2 + 2 = 4." {
			t.Fatalf("inline %q", r.content)
		}
	})
}

func TestReasoningStreamsProgressively(t *testing.T) {
	r := play(t, poefake.Script{
		poefake.Text("Thinking..."), poefake.Text("\n\n> first "), poefake.Text("thought\n>"), poefake.Text(" second\n\n> third\n\n"),
		poefake.Text("Thinking... (3s elapsed)\n"), poefake.Text("The answer"), poefake.Text(" is 42."), poefake.Done(),
	}, AnswerOptions{Stream: true})
	if got := r.rec.join("r:"); got != "first thought\nsecond\n\nthird" {
		t.Fatalf("reasoning %q", got)
	}
	if r.content != "The answer is 42." {
		t.Fatalf("content %q (%q)", r.content, r.rec.calls)
	}
	// "first " must have gone out before "thought" arrived.
	if r.rec.calls[0] != "r:first " {
		t.Fatalf("not progressive: %q", r.rec.calls)
	}
}

func TestThinkTags(t *testing.T) {
	both(t, func(t *testing.T, stream bool) {
		r := play(t, poefake.Script{poefake.Text("<thi"), poefake.Text("nk>I ponder </th"), poefake.Text("is</"), poefake.Text("think>\n\nResult"), poefake.Done()},
			AnswerOptions{Stream: stream})
		reasoning := r.answer.ReasoningContent()
		if stream {
			reasoning = r.rec.join("r:")
		}
		if reasoning != "I ponder </this" || r.content != "Result" {
			t.Fatalf("reasoning %q content %q", reasoning, r.content)
		}
	})
}

func TestElapsedPlaceholderNeverInContent(t *testing.T) {
	script := poefake.Script{poefake.Text("Intro\n"), poefake.Text("Thinking... (5s elapsed)"), poefake.Text("\nMore"), poefake.Done()}
	if r := play(t, script, AnswerOptions{Stream: true}); r.content != "Intro\nMore" {
		t.Fatalf("split %q", r.content)
	}
	if r := play(t, script, AnswerOptions{Stream: true, Reasoning: ReasoningInline}); r.content != "Intro\nThinking... (5s elapsed)\nMore" {
		t.Fatalf("inline %q", r.content)
	}
}

func TestOrdinaryTextIsNotDelayed(t *testing.T) {
	r := play(t, poefake.Script{poefake.Text("Hello"), poefake.Text(" there.\nThe"), poefake.Text(" end"), poefake.Done()}, AnswerOptions{Stream: true})
	if strings.Join(r.rec.calls, "|") != "c:Hello|c: there.\n|c:The|c: end" {
		t.Fatalf("%q", r.rec.calls)
	}
}

func TestMaxTokens(t *testing.T) {
	both(t, func(t *testing.T, stream bool) {
		r := play(t, vector(t, "Chunks-200x16"), AnswerOptions{Stream: stream, MaxTokens: 10})
		if !errors.Is(r.err, ErrLength) || r.answer.FinishReason() != "length" {
			t.Fatalf("%v %s", r.err, r.answer.FinishReason())
		}
		if n := tokenizer.Count(r.content); n != 10 {
			t.Fatalf("%d tokens: %q", n, r.content)
		}
	})
	// Under the limit: untouched.
	r := play(t, vector(t, "V1"), AnswerOptions{Stream: true, MaxTokens: 100})
	if r.err != nil || r.content != "Hello café!" || r.answer.FinishReason() != conv.FinishStop {
		t.Fatalf("%v %q", r.err, r.content)
	}
}

func TestStartedOnlyAfterContent(t *testing.T) {
	a := NewAnswer(AnswerOptions{Stream: true}, &recorder{})
	for _, ev := range []poeclient.Event{{Kind: poeclient.EventMeta, Data: []byte(`{}`)}, {Kind: poeclient.EventSuggestedReply, Data: []byte(`{"text":"x"}`)}} {
		a.Event(ev)
	}
	if a.Started() {
		t.Fatal("meta started the answer")
	}
	a.Event(poeclient.Event{Kind: poeclient.EventText, Data: []byte(`{"text": "Thinking..."}`)})
	if !a.Started() {
		t.Fatal("text did not start the answer")
	}
}
