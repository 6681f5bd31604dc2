package responses

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

type ev struct {
	name string
	data map[string]any
}

func events(t *testing.T, body string) []ev {
	t.Helper()
	var out []ev
	for _, block := range strings.Split(strings.TrimSpace(body), "\n\n") {
		lines := strings.SplitN(block, "\n", 2)
		name, data := strings.TrimPrefix(lines[0], "event: "), strings.TrimPrefix(lines[1], "data: ")
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil || m["type"] != name {
			t.Fatalf("bad event %q: %v", block, err)
		}
		out = append(out, ev{name, m})
	}
	return out
}

func TestStreamSequence(t *testing.T) {
	fe := New(Options{StoreBytes: 1 << 20, StoreTTL: time.Hour})
	pp, ce := fe.Parse([]byte(`{"model":"m","input":"hi","stream":true,"tools":[{"type":"function","name":"f"},{"type":"custom","name":"c"}],"metadata":{"k":"v"}}`), "alice")
	if ce != nil {
		t.Fatal(ce)
	}
	w := httptest.NewRecorder()
	out := pp.Output(w, conv.OutputOptions{Start: time.Now()})
	out.Reasoning([]byte("think"))
	out.Content([]byte("Hel"))
	out.Content([]byte("lo"))
	out.ToolCall(0, "call_1", "f")
	out.ToolCall(1, "", "c")
	out.ToolArgs(0, []byte(`{"a":`))
	out.ToolArgs(1, []byte(`{"input":"raw text"}`))
	out.ToolArgs(0, []byte(`1}`))
	if err := out.Finish(&conv.Result{Finish: conv.FinishToolCalls, Usage: &conv.Usage{PromptTokens: 3, CompletionTokens: 4, ReasoningTokens: 1}}); err != nil {
		t.Fatal(err)
	}
	out.Close()
	evs := events(t, w.Body.String())
	var names []string
	for i, e := range evs {
		names = append(names, strings.TrimPrefix(e.name, "response."))
		if e.data["sequence_number"] != float64(i) {
			t.Fatalf("event %d has sequence_number %v", i, e.data["sequence_number"])
		}
	}
	want := "created in_progress output_item.added reasoning_summary_part.added reasoning_summary_text.delta reasoning_summary_text.done reasoning_summary_part.done output_item.done " +
		"output_item.added content_part.added output_text.delta output_text.delta output_text.done content_part.done output_item.done " +
		"output_item.added function_call_arguments.delta function_call_arguments.done output_item.done " +
		"output_item.added custom_tool_call_input.delta custom_tool_call_input.done output_item.done completed"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	// item ids and output indexes agree between added, deltas and done.
	ids := map[float64]string{}
	for _, e := range evs {
		idx, ok := e.data["output_index"].(float64)
		if !ok {
			continue
		}
		id, _ := e.data["item_id"].(string)
		if item, ok := e.data["item"].(map[string]any); ok {
			id = item["id"].(string)
		}
		if ids[idx] == "" {
			ids[idx] = id
		} else if ids[idx] != id {
			t.Fatalf("output_index %v: item %s then %s", idx, ids[idx], id)
		}
	}
	if len(ids) != 4 || !strings.HasPrefix(ids[0], "rs_") || !strings.HasPrefix(ids[1], "msg_") || !strings.HasPrefix(ids[2], "fc_") || !strings.HasPrefix(ids[3], "ctc_") {
		t.Fatalf("ids: %v", ids)
	}
	final := evs[len(evs)-1].data["response"].(map[string]any)
	output := final["output"].([]any)
	fc, ctc := output[2].(map[string]any), output[3].(map[string]any)
	if final["status"] != "completed" || fc["arguments"] != `{"a":1}` || fc["call_id"] != "call_1" || ctc["input"] != "raw text" ||
		!strings.HasPrefix(ctc["call_id"].(string), "call_") || final["usage"].(map[string]any)["total_tokens"] != float64(7) ||
		final["metadata"].(map[string]any)["k"] != "v" {
		t.Fatalf("final: %v", final)
	}
	// Stored for alice only, and continuable.
	id := final["id"].(string)
	if _, ok := fe.store.body("alice", id); !ok {
		t.Fatal("not stored")
	}
	if _, ok := fe.store.body("bob", id); ok {
		t.Fatal("bob reads alice's response")
	}
	msgs, _ := fe.store.conversation("alice", id)
	if last := msgs[len(msgs)-1]; last.Role != conv.RoleAssistant || last.Content[0].Text != "Hello" || len(last.ToolCalls) != 2 {
		t.Fatalf("stored answer: %+v", last)
	}
}

func TestStreamIncompleteAndFailed(t *testing.T) {
	fe := New(Options{})
	pp, _ := fe.Parse([]byte(`{"model":"m","input":"hi","stream":true,"max_output_tokens":5}`), "")
	w := httptest.NewRecorder()
	out := pp.Output(w, conv.OutputOptions{Start: time.Now()})
	out.Content([]byte("abc"))
	out.Finish(&conv.Result{Finish: conv.FinishLength})
	evs := events(t, w.Body.String())
	last := evs[len(evs)-1]
	if last.name != "response.incomplete" || last.data["response"].(map[string]any)["incomplete_details"].(map[string]any)["reason"] != "max_output_tokens" {
		t.Fatalf("%v", last)
	}

	// Failed before anything: an HTTP error; after: response.failed.
	w = httptest.NewRecorder()
	out = pp.Output(w, conv.OutputOptions{Start: time.Now()})
	if !out.Fail(&conv.Error{Status: 429, Type: conv.TypeRateLimit, Message: "slow down"}) || w.Code != 429 {
		t.Fatalf("HTTP error: %d", w.Code)
	}
	w = httptest.NewRecorder()
	out = pp.Output(w, conv.OutputOptions{Start: time.Now()})
	out.Content([]byte("partial"))
	if out.Fail(&conv.Error{Status: 502, Type: conv.TypeServer, Message: "upstream broke"}) {
		t.Fatal("asHTTP after start")
	}
	evs = events(t, w.Body.String())
	last = evs[len(evs)-1]
	r := last.data["response"].(map[string]any)
	if last.name != "response.failed" || r["status"] != "failed" || r["error"].(map[string]any)["message"] != "upstream broke" ||
		r["error"].(map[string]any)["code"] != "server_error" || evs[len(evs)-2].name != "response.output_item.done" {
		t.Fatalf("%v", evs)
	}
}

func TestNonStream(t *testing.T) {
	fe := New(Options{StoreBytes: 1 << 20})
	pp, _ := fe.Parse([]byte(`{"model":"m","input":"hi","instructions":"sys","tools":[{"type":"namespace","name":"ns","tools":[{"type":"function","name":"g"}]}]}`), "k")
	w := httptest.NewRecorder()
	out := pp.Output(w, conv.OutputOptions{Start: time.Now()})
	out.Finish(&conv.Result{Content: "Hi", Reasoning: "r", Finish: conv.FinishToolCalls,
		ToolCalls: []conv.ToolCall{{Name: "g", Arguments: ""}}, Usage: &conv.Usage{PromptTokens: 1, CompletionTokens: 2}})
	var r struct {
		ID, Object, Status string
		Instructions       string
		Output             []map[string]any
		Usage              map[string]any
	}
	json.Unmarshal(w.Body.Bytes(), &r)
	if !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" || r.Status != "completed" || r.Instructions != "sys" || len(r.Output) != 3 ||
		r.Output[0]["type"] != "reasoning" || r.Output[1]["type"] != "message" || r.Output[2]["namespace"] != "ns" || r.Output[2]["name"] != "g" ||
		r.Output[2]["arguments"] != "{}" || !strings.HasPrefix(r.Output[2]["call_id"].(string), "call_") || r.Usage["total_tokens"] != float64(3) {
		t.Fatalf("%s", w.Body)
	}
	// GET returns the same object; DELETE removes it; another client sees nothing.
	get := httptest.NewRecorder()
	fe.ServeStored(get, httptest.NewRequest("GET", "/v1/responses/"+r.ID, nil), "k", r.ID)
	if get.Code != 200 || strings.TrimSpace(get.Body.String()) != strings.TrimSpace(w.Body.String()) {
		t.Fatalf("GET: %d %s", get.Code, get.Body)
	}
	other := httptest.NewRecorder()
	fe.ServeStored(other, httptest.NewRequest("DELETE", "/v1/responses/"+r.ID, nil), "other", r.ID)
	del := httptest.NewRecorder()
	fe.ServeStored(del, httptest.NewRequest("DELETE", "/v1/responses/"+r.ID, nil), "k", r.ID)
	again := httptest.NewRecorder()
	fe.ServeStored(again, httptest.NewRequest("GET", "/v1/responses/"+r.ID, nil), "k", r.ID)
	if other.Code != 404 || del.Code != 200 || !strings.Contains(del.Body.String(), `"deleted":true`) || again.Code != 404 {
		t.Fatalf("other %d, delete %d %s, again %d", other.Code, del.Code, del.Body, again.Code)
	}
}

func TestStoreBoundAndTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newStore(2500, time.Minute, func() time.Time { return now })
	msg := []conv.Message{{Role: conv.RoleUser, Content: []conv.Part{{Type: conv.PartText, Text: strings.Repeat("x", 700)}}}}
	s.put("c", "a", msg, nil)
	s.put("c", "b", msg, nil)
	s.put("c", "c", msg, nil)
	if _, ok := s.body("c", "a"); ok {
		t.Fatal("a should have been evicted first")
	}
	if s.size > 2500 {
		t.Fatalf("size %d over bound", s.size)
	}
	s.body("c", "b") // b is now more recent than c
	s.put("c", "d", msg, nil)
	if _, ok := s.body("c", "c"); ok {
		t.Fatal("c (least recently used) should be gone")
	}
	if _, ok := s.body("c", "b"); !ok {
		t.Fatal("b was used recently")
	}
	s.put("c", "huge", []conv.Message{{Content: []conv.Part{{Text: strings.Repeat("x", 5000)}}}}, nil)
	if _, ok := s.body("c", "huge"); ok {
		t.Fatal("an entry bigger than the store was kept")
	}
	now = now.Add(time.Minute)
	if _, ok := s.conversation("c", "b"); ok {
		t.Fatal("expired entry returned")
	}
}
