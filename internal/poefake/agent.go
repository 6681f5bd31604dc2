package poefake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// AgentShellBot is the name of the bot that plays a coding agent's model for
// one shell step (registered as a built-in bot).
const AgentShellBot = "Agent-Shell"

// agentTask finds "create the file <path> containing <word>" in a prompt.
// The path is absolute; a trailing full stop or quote is not part of it.
var agentTask = regexp.MustCompile(`(?i)create the file (/[^\s'"` + "`" + `]*[^\s'"` + "`" + `.,;:!?)]) containing ([A-Za-z0-9._-]*[A-Za-z0-9_-])`)

// AgentTask returns the path and the content word of the newest
// "create the file <path> containing <word>" in the query's user messages.
func AgentTask(q *poeclient.QueryRequest) (path, word string, ok bool) {
	for i := len(q.Query) - 1; i >= 0; i-- {
		m := q.Query[i]
		if m.Role != poeclient.RoleUser {
			continue
		}
		if all := agentTask.FindAllStringSubmatch(m.Content, -1); len(all) > 0 {
			last := all[len(all)-1]
			return last[1], last[2], true
		}
	}
	return "", "", false
}

// AgentShellCommand is the shell command Agent-Shell asks the client to run:
// it writes word and a newline to path, then prints the file.
func AgentShellCommand(path, word string) string {
	return "echo " + shellQuote(word) + " > " + shellQuote(path) + " && cat " + shellQuote(path)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// agentShellArgs builds the arguments of the client's shell tool, by the
// tool's name: Claude Code's Bash, Codex's exec_command (unified exec),
// shell_command, or the older shell with an argv.
func agentShellArgs(tools []poeclient.ToolDefinition, cmd string) (name, args string, ok bool) {
	have := map[string]bool{}
	for _, t := range tools {
		have[t.Function.Name] = true
	}
	var v any
	switch {
	case have["Bash"]:
		name, v = "Bash", map[string]any{"command": cmd, "description": "Create the requested file"}
	case have["exec_command"]:
		name, v = "exec_command", map[string]any{"cmd": cmd}
	case have["shell_command"]:
		name, v = "shell_command", map[string]any{"command": cmd}
	case have["shell"]:
		name, v = "shell", map[string]any{"command": []string{"bash", "-lc", cmd}}
	default:
		return "", "", false
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return name, string(b), true
}

// agentQuote is the line of a tool result that the final answer quotes: the
// first one holding word (Codex wraps the command's output in a report),
// else the first non-empty one.
func agentQuote(content, word string) string {
	first := ""
	for line := range strings.Lines(content) {
		line = strings.TrimSpace(line)
		if word != "" && strings.Contains(line, word) {
			return line
		}
		if first == "" {
			first = line
		}
	}
	return first
}

// flattenedToolResult reports whether a tool result reached the bot as text
// (the module writes earlier rounds as "[Tool result for ...]" user
// messages) instead of in tool_results.
func flattenedToolResult(q *poeclient.QueryRequest) bool {
	for _, m := range q.Query {
		if m.Role == poeclient.RoleTool || m.Role == poeclient.RoleUser && strings.HasPrefix(m.Content, "[Tool result for ") {
			return true
		}
	}
	return false
}

// agentShell plays a coding agent's model for a one-step task. Asked (in
// the newest user message that has one) to "create the file <path>
// containing <word>", with no tool results yet, it says a sentence and then
// calls the client's shell tool (Bash, exec_command, shell_command or shell,
// whichever the query offers) with a command that writes word to path and
// prints the file, in Poe's real wire format: json events carrying OpenAI
// chat.completion.chunk tool_calls deltas, then finish_reason "tool_calls".
// Once the results come back in tool_results, it answers
// "DONE: <the result's line holding word>". A request with no task or no
// shell tool gets a short text, so background calls (titles, summaries)
// finish; a tool result that arrived only as text is called out rather
// than answered with another call, so a broken round trip cannot loop.
func agentShell(req *Request) Script {
	q := &req.Query
	path, word, ok := AgentTask(q)
	switch {
	case len(q.ToolResults) > 0:
		return Script{Meta(), Text("DONE: "), Text(agentQuote(q.ToolResults[0].Content, word)), Done()}
	case flattenedToolResult(q):
		return Script{Meta(), Text("Agent-Shell: the tool result came as text, not in tool_results."), Done()}
	case !ok:
		return Script{Meta(), Text("Agent-Shell: no task."), Done()}
	}
	name, args, ok := agentShellArgs(q.Tools, AgentShellCommand(path, word))
	if !ok {
		return Script{Meta(), Text("Agent-Shell: no shell tool offered."), Done()}
	}
	var id [12]byte
	rand.Read(id[:])
	cut := strings.Index(args, ":") + 1 // the arguments arrive in two deltas
	return Script{
		Meta(),
		Text("I will create the file with a shell command."),
		JSON(chunk(toolDelta(0, "call_"+hex.EncodeToString(id[:]), name, ""), "null")),
		JSON(chunk(toolDelta(0, "", "", args[:cut]), "null")),
		JSON(chunk(toolDelta(0, "", "", args[cut:]), "null")),
		JSON(chunk(`{}`, `"tool_calls"`)),
		Done(),
	}
}
