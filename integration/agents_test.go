//go:build unix

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

// The real coding agents, driven through Caddy against the fake Poe's
// Agent-Shell bot: it answers the first turn with a call of the agent's
// shell tool that writes a file, and the turn carrying the tool's output
// with "DONE: <output>". The CLIs come from the npm project in agents/
// (versions pinned there); .ci/run installs them.

// agentTimeout bounds one CLI run.
const agentTimeout = 3 * time.Minute

// agentBin returns the path of an npm-installed CLI. Missing CLIs fail the
// test: this test must never pass by not running.
func agentBin(t *testing.T, name string) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("agents", "node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		if testing.Short() {
			t.Skipf("%s is not installed (-short)", name)
		}
		t.Fatalf("%s is not installed (%v): run `npm ci --prefix integration/agents` from the repository root first (.ci/run does)", name, err)
	}
	return bin
}

// agentSite serves every model name the agents use from Agent-Shell.
func agentSite(t *testing.T, token string) (*poefake.Server, *site) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens `+token+`
		auth_keys sk-agent
		bot claude-* `+poefake.AgentShellBot+`
		bot gpt-* `+poefake.AgentShellBot+`
		base_url {FAKE}
	}`)
	return fake, s
}

// agentTask is a task for Agent-Shell: a file in a fresh working directory
// and a random word to write there.
type agentTask struct {
	dir, file, word, prompt string
}

func newAgentTask(t *testing.T) agentTask {
	var b [6]byte
	rand.Read(b[:])
	dir := filepath.Join(t.TempDir(), "work")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	task := agentTask{dir: dir, file: filepath.Join(dir, "out.txt"), word: "agent-ok-" + hex.EncodeToString(b[:])}
	task.prompt = "Create the file " + task.file + " containing " + task.word + ". Use the shell."
	return task
}

// agentEnv is a minimal environment: nothing of the caller's Anthropic,
// OpenAI or proxy settings leaks into the run, and HOME is a fresh dir.
func agentEnv(t *testing.T, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NO_COLOR=1",
		"NO_PROXY=localhost,127.0.0.1",
		"no_proxy=localhost,127.0.0.1",
	}
	return append(env, extra...)
}

// runAgent runs a CLI in dir and returns its stdout and stderr. The whole
// process group is killed at the deadline (Codex's npm launcher is a node
// script that spawns the native binary).
func runAgent(t *testing.T, dir string, env []string, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil // /dev/null: codex exec would otherwise read a prompt from stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (killed after %v)", err, agentTimeout)
	}
	t.Logf("%s ran %v: %v", filepath.Base(bin), time.Since(start).Round(time.Millisecond), err)
	return out.String(), errOut.String(), err
}

// checkAgentRun checks what the agent did, and on failure prints what it
// said and what the fake and Caddy saw.
func checkAgentRun(t *testing.T, fake *poefake.Server, s *site, task agentTask, shellTool, stdout, stderr string, runErr error) {
	t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		ok = false
	}
	if runErr != nil {
		fail("the agent failed: %v", runErr)
	}
	if b, err := os.ReadFile(task.file); err != nil {
		fail("the agent did not create the file: %v", err)
	} else if string(b) != task.word+"\n" {
		fail("file content %q, want %q", b, task.word+"\n")
	}
	if want := "DONE: " + task.word; !strings.Contains(stdout, want) {
		fail("the agent did not print %q", want)
	}

	// The round trip went over Poe's own tool fields: the call offered
	// the shell tool, and the result came back in tool_results.
	reqs := fake.RequestsFor(poefake.AgentShellBot)
	offered, answered := false, false
	for _, r := range reqs {
		for _, tool := range r.Query.Tools {
			offered = offered || tool.Function.Name == shellTool
		}
		for _, res := range r.Query.ToolResults {
			answered = answered || strings.Contains(res.Content, task.word)
		}
	}
	if !offered {
		fail("no request to %s offered the tool %s", poefake.AgentShellBot, shellTool)
	}
	if !answered {
		fail("no request to %s carried the command's output in tool_results", poefake.AgentShellBot)
	}
	if v := fake.Violations(); len(v) > 0 {
		fail("the fake saw protocol violations: %q", v)
	}
	if ok {
		t.Logf("%d requests to %s; the agent printed: %q", len(reqs), poefake.AgentShellBot, strings.TrimSpace(stdout))
		return
	}
	t.Logf("stdout:\n%s", stdout)
	t.Logf("stderr:\n%s", stderr)
	for i, r := range reqs {
		var tools []string
		for _, tool := range r.Query.Tools {
			tools = append(tools, tool.Function.Name)
		}
		last := ""
		if n := len(r.Query.Query); n > 0 {
			last = r.Query.Query[n-1].Role + ": " + r.Query.Query[n-1].Content
			if len(last) > 300 {
				last = last[:300] + "…"
			}
		}
		t.Logf("Poe request %d: %d bytes, %d messages, tools %v, tool_calls %+v, tool_results %+v, last message %q",
			i+1, len(r.Body), len(r.Query.Query), tools, r.Query.ToolCalls, r.Query.ToolResults, last)
	}
	logs := s.logs()
	if len(logs) > 20000 {
		logs = "…" + logs[len(logs)-20000:]
	}
	t.Logf("Caddy log:\n%s", logs)
}

func TestAgentClaudeCode(t *testing.T) {
	bin := agentBin(t, "claude")
	fake, s := agentSite(t, "tok-agent-claude")
	task := newAgentTask(t)
	env := agentEnv(t,
		"ANTHROPIC_BASE_URL="+s.base,
		"ANTHROPIC_API_KEY=sk-agent",
		"ANTHROPIC_MODEL=claude-sonnet-4-5-20250929",
		"ANTHROPIC_SMALL_FAST_MODEL=claude-haiku-4-5-20251001",
		"ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-haiku-4-5-20251001",
		// Offline: no telemetry, error reports, update checks or other
		// calls beyond the API.
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_BUG_COMMAND=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"CLAUDE_CODE_MAX_RETRIES=2",
	)
	// As root, Claude Code refuses --dangerously-skip-permissions; allowing
	// Bash is what lets it run the command unattended.
	stdout, stderr, err := runAgent(t, task.dir, env, bin,
		"-p", task.prompt, "--allowedTools", "Bash", "--output-format", "text", "--max-turns", "5")
	checkAgentRun(t, fake, s, task, "Bash", stdout, stderr, err)
}

func TestAgentCodex(t *testing.T) {
	bin := agentBin(t, "codex")
	fake, s := agentSite(t, "tok-agent-codex")
	task := newAgentTask(t)
	codexHome := t.TempDir()
	config := `model = "gpt-5-codex"
model_provider = "poe-gateway"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.poe-gateway]
name = "Poe through poe_openai"
base_url = "` + s.base + `/v1"
wire_api = "responses"
env_key = "POE_GW_KEY"
request_max_retries = 1
stream_max_retries = 1
`
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := agentEnv(t, "CODEX_HOME="+codexHome, "POE_GW_KEY=sk-agent")
	stdout, stderr, err := runAgent(t, task.dir, env, bin,
		"exec", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check", task.prompt)
	checkAgentRun(t, fake, s, task, "exec_command", stdout, stderr, err)
}
