package translate

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

func parse(t *testing.T, body string) *conv.Request {
	t.Helper()
	req, err := chat.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return req
}

func plan(t *testing.T, body string, opts RequestOptions) *Plan {
	t.Helper()
	p, err := ToPoe(parse(t, body), opts)
	if err != nil {
		t.Fatalf("ToPoe: %v (%s)", err, err.Param)
	}
	return p
}

func roles(q *poeclient.QueryRequest) string {
	var out []string
	for _, m := range q.Query {
		out = append(out, m.Role+":"+m.Content)
	}
	return strings.Join(out, "|")
}

func TestV2Mapping(t *testing.T) {
	p := plan(t, `{"model":"m","temperature":0.5,"stop":["\n\n"],"messages":[
		{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"},
		{"role":"assistant","content":"Hello."},{"role":"user","content":"Capital of Nepal?"}]}`, RequestOptions{})
	q := p.Query
	if roles(q) != "system:You are terse.|user:Hi|bot:Hello.|user:Capital of Nepal?" {
		t.Fatal(roles(q))
	}
	if *q.Temperature != 0.5 || len(q.StopSequences) != 1 || q.StopSequences[0] != "\n\n" || q.LogitBias == nil ||
		q.Version != "1.2" || q.Type != "query" || q.UserID != "" || q.Tools != nil {
		t.Fatalf("%+v", q)
	}
}

func TestRolesAndParts(t *testing.T) {
	p := plan(t, `{"model":"m","logit_bias":{"5":1},"messages":[
		{"role":"developer","content":[{"type":"text","text":"rule 1"},{"type":"text","text":"rule 2"}]},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
		{"role":"function","name":"lookup","content":"42"}]}`, RequestOptions{})
	if roles(p.Query) != "system:rule 1\nrule 2|user:a\nb|user:[Tool result for lookup]\n42" {
		t.Fatal(roles(p.Query))
	}
	if p.Query.LogitBias["5"] != 1 {
		t.Fatal(p.Query.LogitBias)
	}
}

const simConversation = `{"model":"m","messages":[
	{"role":"system","content":"Be kind."},{"role":"user","content":"Hi"},
	{"role":"assistant","content":"Hello!"},{"role":"user","content":"How are you?"}]}`

func TestSimulateRoles(t *testing.T) {
	want := "user:||>Instructions:\nBe kind.\n||>User:\nHi\n||>Assistant:\nHello!\n||>User:\nHow are you?\n||>Assistant:\n"
	for _, mode := range []string{SimulateOn, SimulateAuto} {
		if got := roles(plan(t, simConversation, RequestOptions{SimulateRoles: mode}).Query); got != want {
			t.Fatalf("%s:\n%q\nwant\n%q", mode, got, want)
		}
	}
	if got := roles(plan(t, simConversation, RequestOptions{SimulateRoles: SimulateOff}).Query); !strings.HasPrefix(got, "system:Be kind.|user:Hi|bot:") {
		t.Fatal(got)
	}
	// auto keeps native roles for [user], [system] and [system, user].
	for _, body := range []string{
		`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`,
		`{"model":"m","messages":[{"role":"system","content":"S"}]}`,
		`{"model":"m","messages":[{"role":"developer","content":"S"},{"role":"user","content":"Hi"}]}`,
	} {
		if q := plan(t, body, RequestOptions{SimulateRoles: SimulateAuto}).Query; strings.Contains(q.Query[0].Content, "||>") {
			t.Fatalf("auto flattened %s", body)
		}
	}
	if got := roles(plan(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`, RequestOptions{SimulateRoles: SimulateOn}).Query); got != "user:||>User:\nHi\n||>Assistant:\n" {
		t.Fatal(got)
	}
}

// v6bRequest is vector V6b: the exact body of fastapi_poe's second tool
// request.
const v6bRequest = `{"version":"1.2","type":"query","query":[{"role":"user","message_type":null,"sender_id":null,"sender":null,"content":"Weather in Paris?","parameters":{},"content_type":"text/markdown","timestamp":0,"message_id":"","feedback":[],"attachments":[],"metadata":null,"referenced_message":null,"reactions":[]}],"user_id":"","conversation_id":"","message_id":"","metadata":"","api_key":"<missing>","access_key":"<missing>","temperature":null,"skip_system_prompt":false,"logit_bias":{},"stop_sequences":[],"language_code":"en","adopt_current_bot_name":null,"bot_query_id":"","users":[],"tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}}}],"tool_calls":[{"id":"call_123","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\":\"Paris\"}"}}],"tool_results":[{"role":"tool","name":"get_current_weather","tool_call_id":"call_123","content":"\"{\\\"temperature\\\": \\\"22\\\"}\""}],"query_creation_time":null,"extra_params":null}`

const weatherTool = `{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}}}`

func TestV6bToolRound(t *testing.T) {
	p := plan(t, `{"model":"m","tools":[`+weatherTool+`],"messages":[
		{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_123","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"call_123","content":"\"{\\\"temperature\\\": \\\"22\\\"}\""}]}`, RequestOptions{})
	var b strings.Builder
	poeclient.EncodeQuery(&b, p.Query)
	if strings.TrimSpace(b.String()) != v6bRequest {
		t.Fatalf("V6b differs:\n got %s\nwant %s", b.String(), v6bRequest)
	}
}

func TestV6aTools(t *testing.T) {
	p := plan(t, `{"model":"m","tools":[`+weatherTool+`,{"type":"function","function":{"name":"bare"}}],"messages":[{"role":"user","content":"Weather in Paris?"}]}`, RequestOptions{})
	var b strings.Builder
	poeclient.EncodeQuery(&b, p.Query)
	if !strings.Contains(b.String(), `"tools":[`+weatherTool+`,{"type":"function","function":{"name":"bare","description":"","parameters":{"properties":{},"type":"object"}}}],"tool_calls":null,"tool_results":null`) {
		t.Fatal(b.String())
	}
	if p := plan(t, `{"model":"m","tool_choice":"none","tools":[`+weatherTool+`],"messages":[{"role":"user","content":"x"}]}`, RequestOptions{}); p.Query.Tools != nil {
		t.Fatal("tool_choice none sent tools")
	}
	p = plan(t, `{"model":"m","tool_choice":"required","tools":[`+weatherTool+`],"messages":[{"role":"system","content":"S"},{"role":"user","content":"x"}]}`, RequestOptions{})
	if len(p.Query.Tools) != 1 || p.Query.Query[0].Content != "S\n\nYou must answer by calling one or more of the provided tools." {
		t.Fatal(roles(p.Query))
	}
	p = plan(t, `{"model":"m","tool_choice":{"type":"function","function":{"name":"get_current_weather"}},"tools":[`+weatherTool+`],"messages":[{"role":"user","content":"x"}]}`, RequestOptions{})
	if roles(p.Query) != `system:You must answer by calling the tool "get_current_weather".|user:x` {
		t.Fatal(roles(p.Query))
	}
}

func TestEarlierToolRoundsAsText(t *testing.T) {
	p := plan(t, `{"model":"m","tools":[`+weatherTool+`],"messages":[
		{"role":"user","content":"Weather?"},
		{"role":"assistant","content":"Checking.","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_current_weather","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"sunny"},
		{"role":"assistant","content":"It is sunny."},
		{"role":"user","content":"And tomorrow?"}]}`, RequestOptions{})
	want := "user:Weather?|bot:Checking.\n[Called tool get_current_weather (call c1) with arguments: {}]|user:[Tool result for call c1]\nsunny|bot:It is sunny.|user:And tomorrow?"
	if roles(p.Query) != want || p.Query.ToolCalls != nil {
		t.Fatalf("%q", roles(p.Query))
	}
}

func TestToolResultWithoutCall(t *testing.T) {
	_, err := ToPoe(parse(t, `{"model":"m","tools":[`+weatherTool+`],"messages":[
		{"role":"user","content":"x"},
		{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_current_weather","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"ok"},
		{"role":"tool","tool_call_id":"c9","content":"??"}]}`), RequestOptions{})
	if err == nil || err.Param != "messages[3].tool_call_id" || err.Status != 400 {
		t.Fatalf("%v", err)
	}
}

func TestInstructionsAndReasoningEffort(t *testing.T) {
	p := plan(t, `{"model":"m","reasoning_effort":"high","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
		"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}`, RequestOptions{ReasoningEffortFlag: true})
	want := "system:Respond only with a valid JSON value, without code fences or any other text, that conforms to this JSON schema:\n{\"type\":\"object\"}|user:a|bot:b|user:c --reasoning_effort high"
	if roles(p.Query) != want {
		t.Fatalf("%q", roles(p.Query))
	}
	p = plan(t, `{"model":"m","reasoning_effort":"high","messages":[{"role":"user","content":"c"}]}`, RequestOptions{})
	if roles(p.Query) != "user:c" {
		t.Fatal("flag off still appended")
	}
}

var pngBytes = []byte("\x89PNG\r\n\x1a\nfake")

func TestAttachments(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(pngBytes)
	p := plan(t, `{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[
		{"type":"text","text":"What is this?"},
		{"type":"image_url","image_url":{"url":"data:image/png;base64,`+b64+`"}},
		{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg?x=1"}},
		{"type":"file","file":{"filename":"report.pdf","file_data":"`+b64+`"}},
		{"type":"input_audio","input_audio":{"data":"`+b64+`","format":"mp3"}}]}]}`, RequestOptions{})
	if roles(p.Query) != "system:s|user:What is this?" || len(p.Uploads) != 4 {
		t.Fatalf("%q %d", roles(p.Query), len(p.Uploads))
	}
	u := p.Uploads
	if u[0].Message != 1 || u[0].ContentType != "image/png" || u[0].Name != "image.png" || string(u[0].Data) != string(pngBytes) {
		t.Fatalf("data url %+v", u[0])
	}
	if u[1].URL != "https://example.com/cat.jpg?x=1" || u[1].Data != nil || u[1].Name != "cat.jpg" {
		t.Fatalf("http url %+v", u[1])
	}
	if u[2].ContentType != "application/pdf" || u[2].Name != "report.pdf" || u[3].ContentType != "audio/mpeg" || u[3].Name != "audio.mp3" {
		t.Fatalf("file/audio %+v %+v", u[2], u[3])
	}
	// Simulated roles keep every attachment on the one message.
	p = plan(t, `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]},{"role":"assistant","content":"ok"},{"role":"user","content":"more"}]}`, RequestOptions{SimulateRoles: SimulateOn})
	if len(p.Query.Query) != 1 || p.Uploads[0].Message != 0 {
		t.Fatalf("%+v", p.Uploads)
	}
}

func TestAttachmentErrors(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(pngBytes)
	big := base64.StdEncoding.EncodeToString(make([]byte, 2000))
	tests := []struct{ part, param, code string }{
		{`{"type":"image_url","image_url":{"url":"data:image/png;base64,@@@"}}`, "messages[0].content[0].image_url.url", "invalid_base64"},
		{`{"type":"image_url","image_url":{"url":"data:image/png,notbase64"}}`, "messages[0].content[0].image_url.url", "invalid_data_url"},
		{`{"type":"image_url","image_url":{"url":"data:image/svg+xml;base64,` + b64 + `"}}`, "messages[0].content[0].image_url.url", "invalid_image_format"},
		{`{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}`, "messages[0].content[0].image_url.url", "invalid_image_url"},
		{`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + big + `"}}`, "messages[0].content[0].image_url.url", "file_too_large"},
		{`{"type":"file","file":{"file_id":"file-abc"}}`, "messages[0].content[0].file.file_id", "unsupported_value"},
		{`{"type":"file","file":{"file_data":"` + b64 + `"}}`, "messages[0].content[0].file.filename", "invalid_value"},
		{`{"type":"file","file":{"filename":"x.exe","file_data":"data:application/x-msdownload;base64,` + b64 + `"}}`, "messages[0].content[0].file", "unsupported_file_type"},
		{`{"type":"input_audio","input_audio":{"data":"` + b64 + `","format":"flac"}}`, "messages[0].content[0].input_audio.format", "invalid_value"},
	}
	for _, tt := range tests {
		_, err := ToPoe(parse(t, `{"model":"m","messages":[{"role":"user","content":[`+tt.part+`]}]}`), RequestOptions{MaxPartBytes: 1000})
		if err == nil || err.Param != tt.param || err.Code != tt.code || err.Status != 400 {
			t.Errorf("%s: got %v", tt.part, err)
		}
	}
}

func TestPromptTokens(t *testing.T) {
	p := plan(t, `{"model":"m","messages":[{"role":"user","content":"Hello world"}]}`, RequestOptions{})
	// 3 (reply) + 4 (message) + 1 ("user") + 2 ("Hello world")
	if n := PromptTokens(context.Background(), p.Query); n != 10 {
		t.Fatalf("prompt tokens %d", n)
	}
	// A request whose client has gone counts nothing more: only the
	// fixed overheads are left.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := PromptTokens(ctx, p.Query); n != 7 {
		t.Fatalf("prompt tokens after cancel %d", n)
	}
}
