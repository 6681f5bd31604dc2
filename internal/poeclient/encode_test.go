package poeclient

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// stdlib is what encoding/json writes (without HTML escaping).
func stdlib(t *testing.T, q *QueryRequest) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(q); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestEncodeQueryMatchesEncodingJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	temp, tiny := 0.7, 1e-7
	yes := true
	when := int64(12345)
	base := func() *QueryRequest {
		return NewQuery([]ProtocolMessage{NewMessage(RoleSystem, "Be <terse> & kind \u2028 \"quoted\"\n\t\x01 \xff"), NewMessage(RoleUser, "héllo 😀")})
	}
	cases := map[string]func(*QueryRequest){
		"defaults": func(*QueryRequest) {},
		"sampling": func(q *QueryRequest) {
			q.Temperature, q.StopSequences, q.LogitBias = &temp, []string{"\n\n", "END"}, map[string]float64{"42": -5, "7": 1.5}
		},
		"tiny temperature": func(q *QueryRequest) { q.Temperature = &tiny },
		"tools round": func(q *QueryRequest) {
			q.Tools = []ToolDefinition{{Type: "function", Function: FunctionDefinition{Name: "f", Description: "d",
				Parameters: json.RawMessage(`{"type":"object","properties":{"x":{"type":"string"}}}`)}},
				{Type: "function", Function: FunctionDefinition{Name: "g", Parameters: map[string]any{"type": "object", "properties": map[string]any{}}}}}
			q.ToolCalls = []ToolCallDefinition{{ID: "c1", Type: "function", Function: FunctionCall{Name: "f", Arguments: `{"x":"<y>"}`}}}
			q.ToolResults = []ToolResultDefinition{{Role: "tool", Name: "f", ToolCallID: "c1", Content: `"ok"`}}
		},
		"attachments and odd fields": func(q *QueryRequest) {
			m := &q.Query[1]
			m.Attachments = []Attachment{{URL: "https://x/a.png?w=1&h=2", ContentType: "image/png", Name: "a.png"},
				{URL: "u", ContentType: "application/pdf", Name: "b", InlineRef: s("ref"), ParsedContent: s("text")}}
			m.MessageType, m.SenderID, m.Sender, m.Metadata = s("function_call"), s("u1"), &Sender{ID: s("i"), Name: s("n")}, s("meta")
			m.Parameters = map[string]any{"k": []any{1.0, "v"}}
			m.Feedback = []Feedback{{Type: "like"}}
			m.Reactions = []Reaction{{UserID: "u", Reaction: "+1"}}
			m.Timestamp = 99
			m.ReferencedMessage = &ProtocolMessage{Role: "bot", Content: "earlier"}
			q.AdoptCurrentBotName, q.QueryCreationTime = &yes, &when
			q.ExtraParams = map[string]any{"a": "b"}
			q.Users = []User{{ID: "u1", Name: s("Ann")}}
			q.SkipSystemPrompt = true
		},
		"nil slices": func(q *QueryRequest) {
			q.Query[0].Attachments, q.Query[0].Feedback, q.Query[0].Reactions, q.Query[0].Parameters = nil, nil, nil, nil
			q.StopSequences, q.LogitBias, q.Users = nil, nil, nil
		},
	}
	for name, mod := range cases {
		q := base()
		mod(q)
		var got strings.Builder
		if err := EncodeQuery(&got, q); err != nil {
			t.Fatal(err)
		}
		if want := stdlib(t, q); got.String() != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got.String(), want)
		}
	}
}

func FuzzEncodeQueryString(f *testing.F) {
	f.Add("plain", "x")
	f.Add("\u2028<>&\"\\\x00\xff", "😀")
	f.Fuzz(func(t *testing.T, content, name string) {
		q := NewQuery([]ProtocolMessage{NewMessage(RoleUser, content)})
		q.Query[0].Attachments = []Attachment{{URL: name, ContentType: content, Name: name}}
		q.StopSequences = []string{content}
		var got strings.Builder
		EncodeQuery(&got, q)
		if want := stdlib(t, q); got.String() != want {
			t.Fatalf("got %s\nwant %s", got.String(), want)
		}
	})
}

func BenchmarkEncodeQuery(b *testing.B) {
	msgs := make([]ProtocolMessage, 20)
	for i := range msgs {
		msgs[i] = NewMessage(RoleUser, strings.Repeat("some words of a long conversation ", 10+rand.IntN(10)))
	}
	q := NewQuery(msgs)
	var w bytesWriter
	b.ReportAllocs()
	for b.Loop() {
		w.b = w.b[:0]
		EncodeQuery(&w, q)
	}
}
