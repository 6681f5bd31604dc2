package poefake

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// agentQuery is a query as the module sends it for an agent's first turn:
// some context, the prompt, and the client's tools.
func agentQuery(prompt string, tools ...string) *poeclient.QueryRequest {
	q := poeclient.NewQuery([]poeclient.ProtocolMessage{
		poeclient.NewMessage(poeclient.RoleSystem, "You are a coding agent."),
		poeclient.NewMessage(poeclient.RoleUser, "<environment_context>\n  <cwd>/somewhere</cwd>\n</environment_context>"),
		poeclient.NewMessage(poeclient.RoleUser, "<system-reminder>\nToday is a day.\n</system-reminder>\n"+prompt),
	})
	for _, name := range tools {
		q.Tools = append(q.Tools, poeclient.ToolDefinition{Type: "function", Function: poeclient.FunctionDefinition{
			Name: name, Parameters: map[string]any{"type": "object"}}})
	}
	return q
}

type agentCall struct{ id, name, args, finish string }

// agentAnswer reads a stream: the text events, and the tool call assembled
// from the json chunks as fastapi_poe does.
func agentAnswer(t *testing.T, body string) (text string, call agentCall, done bool) {
	t.Helper()
	for _, ev := range parseSSE(body) {
		switch ev.name {
		case "text":
			var v struct{ Text string }
			if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
				t.Fatalf("text event %q: %v", ev.data, err)
			}
			text += v.Text
		case "json":
			var c struct {
				Object  string
				Choices []struct {
					Delta struct {
						ToolCalls []struct {
							Index    *int
							ID, Type string
							Function struct{ Name, Arguments string }
						} `json:"tool_calls"`
					}
					FinishReason *string `json:"finish_reason"`
				}
			}
			if err := json.Unmarshal([]byte(ev.data), &c); err != nil || c.Object != "chat.completion.chunk" || len(c.Choices) != 1 {
				t.Fatalf("json event %q: %v", ev.data, err)
			}
			ch := c.Choices[0]
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil || *tc.Index != 0 {
					t.Fatalf("tool call delta without index 0: %q", ev.data)
				}
				if tc.ID != "" {
					if call.id != "" || tc.Type != "function" {
						t.Fatalf("second id or bad type: %q", ev.data)
					}
					call.id = tc.ID
				}
				call.name += tc.Function.Name
				call.args += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				call.finish = *ch.FinishReason
			}
		case "done":
			done = true
		}
	}
	return text, call, done
}

func postAgent(t *testing.T, url string, q *poeclient.QueryRequest) (string, agentCall) {
	t.Helper()
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := doRead(t, newBotRequest(t.Context(), t, url+"/bot/"+AgentShellBot, "k", b))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	text, call, done := agentAnswer(t, body)
	if !done {
		t.Fatalf("no done: %q", body)
	}
	return text, call
}

func TestAgentShell(t *testing.T) {
	fake, ts := newFake(t, Options{})
	dir := filepath.Join(t.TempDir(), "a$HOME;b&c") // the command must quote
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "out.txt")
	prompt := "Create the file " + file + " containing agent-ok-42. Then stop."

	for _, tc := range []struct {
		tool  string
		tools []string
		cmd   func(args map[string]any) string
	}{
		{"Bash", []string{"Agent", "Bash", "Read"}, func(a map[string]any) string { s, _ := a["command"].(string); return s }},
		{"exec_command", []string{"exec_command", "write_stdin"}, func(a map[string]any) string { s, _ := a["cmd"].(string); return s }},
		{"shell_command", []string{"shell_command"}, func(a map[string]any) string { s, _ := a["command"].(string); return s }},
		{"shell", []string{"shell"}, func(a map[string]any) string {
			argv, _ := a["command"].([]any)
			if len(argv) != 3 || argv[0] != "bash" || argv[1] != "-lc" {
				return ""
			}
			s, _ := argv[2].(string)
			return s
		}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			os.Remove(file)
			q := agentQuery(prompt, tc.tools...)
			text, call := postAgent(t, ts.URL, q)
			if text != "I will create the file with a shell command." || call.name != tc.tool || call.finish != "tool_calls" ||
				!strings.HasPrefix(call.id, "call_") {
				t.Fatalf("first answer: text %q call %+v", text, call)
			}
			var args map[string]any
			if err := json.Unmarshal([]byte(call.args), &args); err != nil {
				t.Fatalf("arguments %q: %v", call.args, err)
			}
			cmd := tc.cmd(args)
			if cmd != AgentShellCommand(file, "agent-ok-42") {
				t.Fatalf("command %q", cmd)
			}
			out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
			if err != nil || string(out) != "agent-ok-42\n" {
				t.Fatalf("running %q: %v %q", cmd, err, out)
			}
			if b, err := os.ReadFile(file); err != nil || string(b) != "agent-ok-42\n" {
				t.Fatalf("file: %v %q", err, b)
			}

			// The second turn: the same query plus the call and its result
			// (wrapped, as Codex reports a command's output).
			q.ToolCalls = []poeclient.ToolCallDefinition{{ID: call.id, Type: "function",
				Function: poeclient.FunctionCall{Name: call.name, Arguments: call.args}}}
			q.ToolResults = []poeclient.ToolResultDefinition{{Role: "tool", Name: call.name, ToolCallID: call.id,
				Content: "Chunk ID: 1\nProcess exited with code 0\nOutput:\n" + string(out)}}
			text, call = postAgent(t, ts.URL, q)
			if text != "DONE: agent-ok-42" || call != (agentCall{}) {
				t.Fatalf("second answer: text %q call %+v", text, call)
			}
		})
	}

	for name, tc := range map[string]struct {
		q    *poeclient.QueryRequest
		want string
	}{
		"no shell tool": {agentQuery(prompt, "Read"), "Agent-Shell: no shell tool offered."},
		"no tools":      {agentQuery(prompt), "Agent-Shell: no shell tool offered."},
		"no task":       {agentQuery("Write a title for this chat.", "Bash"), "Agent-Shell: no task."},
		"flattened": {func() *poeclient.QueryRequest {
			q := agentQuery(prompt, "Bash")
			q.Query = append(q.Query, poeclient.NewMessage(poeclient.RoleBot, "calling"),
				poeclient.NewMessage(poeclient.RoleUser, "[Tool result for call call_1]\nagent-ok-42"))
			return q
		}(), "Agent-Shell: the tool result came as text, not in tool_results."},
		// Without the word in the output, the first non-empty line is quoted.
		"plain result": {func() *poeclient.QueryRequest {
			q := agentQuery(prompt, "Bash")
			q.ToolCalls = []poeclient.ToolCallDefinition{{ID: "call_1", Type: "function", Function: poeclient.FunctionCall{Name: "Bash", Arguments: "{}"}}}
			q.ToolResults = []poeclient.ToolResultDefinition{{Role: "tool", Name: "Bash", ToolCallID: "call_1", Content: "\n  permission denied \nmore"}}
			return q
		}(), "DONE: permission denied"},
	} {
		if text, call := postAgent(t, ts.URL, tc.q); text != tc.want || call != (agentCall{}) {
			t.Errorf("%s: text %q call %+v", name, text, call)
		}
	}
	if v := fake.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}

func TestAgentTask(t *testing.T) {
	for in, want := range map[string][2]string{
		"Create the file /tmp/a/out.txt containing agent-ok.":                            {"/tmp/a/out.txt", "agent-ok"},
		"please create the file '/tmp/a b' containing x":                                 {},
		"create the file /tmp/x/y.txt, containing z":                                     {},
		"Create the file /tmp/q/r.txt containing w-1_2. And more text.":                  {"/tmp/q/r.txt", "w-1_2"},
		"old: create the file /a/b containing c\nnew: Create the file /d/e containing f": {"/d/e", "f"},
		"no task here": {},
	} {
		q := poeclient.NewQuery([]poeclient.ProtocolMessage{poeclient.NewMessage(poeclient.RoleUser, in)})
		path, word, ok := AgentTask(q)
		if ok != (want[0] != "") || path != want[0] || word != want[1] {
			t.Errorf("%q: %q %q %v, want %q", in, path, word, ok, want)
		}
	}
	// The newest user message with a task wins; bot messages are not read.
	q := poeclient.NewQuery([]poeclient.ProtocolMessage{
		poeclient.NewMessage(poeclient.RoleUser, "Create the file /one containing 1"),
		poeclient.NewMessage(poeclient.RoleUser, "Create the file /two containing 2"),
		poeclient.NewMessage(poeclient.RoleUser, "thanks"),
		poeclient.NewMessage(poeclient.RoleBot, "Create the file /three containing 3"),
	})
	if path, word, _ := AgentTask(q); path != "/two" || word != "2" {
		t.Errorf("got %q %q", path, word)
	}
}
