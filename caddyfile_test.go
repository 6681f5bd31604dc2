package poeopenai

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parse(t *testing.T, input string) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return h, err
}

func TestCaddyfileFull(t *testing.T) {
	h, err := parse(t, `poe_openai {
		poe_keys {env.POE_API_KEY} key-2
		poe_keys key-3
		poe_keys_file /etc/poe/tokens
		auth_keys sk-a sk-b
		auth_keys_file /etc/poe/clients
		bot gpt-4o GPT-4o
		bot claude Claude-Sonnet-4
		unknown_models reject
		rate_limit 30
		cool_down 1.5s
		max_concurrent 4
		max_wait 2s
		quarantine 30m
		retries 3
		client_rate_limit 60
		passthrough
		idle_timeout 90s
		keepalive 10s
		simulate_roles auto
		reasoning inline
		disable_reasoning_effort_flag
		models_from_poe on
		base_url http://127.0.0.1:8081
		upload_url http://127.0.0.1:8081/upload
		upload_cache 16MB
		proxy socks5://127.0.0.1:1080
		max_request_body 8MB
		body_timeout 30s
		cors https://a.example *
		responses_store 1MB
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"poe_keys":["{env.POE_API_KEY}","key-2","key-3"],"poe_keys_file":"/etc/poe/tokens","auth_keys":["sk-a","sk-b"],` +
		`"auth_keys_file":"/etc/poe/clients","passthrough":true,"client_rate_limit":60,` +
		`"bots":{"claude":"Claude-Sonnet-4","gpt-4o":"GPT-4o"},"unknown_models":"reject","models_from_poe":true,` +
		`"rate_limit":30,"cool_down":1500000000,"max_concurrent":4,"max_wait":2000000000,"quarantine":1800000000000,"retries":3,` +
		`"idle_timeout":90000000000,"keepalive":10000000000,"simulate_roles":"auto",` +
		`"reasoning":"inline","disable_reasoning_effort_flag":true,"base_url":"http://127.0.0.1:8081",` +
		`"upload_url":"http://127.0.0.1:8081/upload","upload_cache":16000000,"proxy":"socks5://127.0.0.1:1080",` +
		`"max_request_body":8000000,"body_timeout":30000000000,"cors":["https://a.example","*"],"responses_store":1000000}`
	got, _ := json.Marshal(h)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCaddyfileMinimalAndZeroes(t *testing.T) {
	h, err := parse(t, "poe_openai {\n tokens k\n rate_limit 0\n max_wait 0\n passthrough off\n}")
	if err != nil || *h.RateLimit != 0 || *h.MaxWait != 0 || h.Passthrough {
		t.Fatalf("%+v %v", h, err)
	}
	if lim := h.limits(); lim.RateLimit != 0 || lim.MaxWait != 0 || lim.Quarantine != time.Hour {
		t.Fatalf("limits %+v", lim)
	}
	h, _ = parse(t, "poe_openai {\n tokens k\n}")
	if lim := h.limits(); lim.RateLimit != 500 || lim.MaxWait != 10*time.Second || lim.CoolDown != 0 {
		t.Fatalf("defaults %+v", lim)
	}
}

func TestCaddyfileErrors(t *testing.T) {
	tests := []struct{ input, msg, line string }{
		{"poe_openai {\n tokens\n}", "wrong argument count", "2"},
		{"poe_openai {\n tokens k\n frobnicate 1\n}", `unrecognized subdirective "frobnicate"`, "3"},
		{"poe_openai extra", "wrong argument count", "1"},
		{"poe_openai {\n bot only-one\n}", "bot needs two arguments", "2"},
		{"poe_openai {\n bot a b\n bot a c\n}", `model "a" is mapped twice`, "3"},
		{"poe_openai {\n unknown_models maybe\n}", `unknown_models: "maybe" is not one of pass, reject`, "2"},
		{"poe_openai {\n simulate_roles 2\n}", `simulate_roles: "2" is not one of off, on, auto`, "2"},
		{"poe_openai {\n reasoning think\n}", `reasoning: "think" is not one of split, inline, drop`, "2"},
		{"poe_openai {\n rate_limit many\n}", `rate_limit: "many" is not a whole number >= 0`, "2"},
		{"poe_openai {\n rate_limit -1\n}", `rate_limit: "-1" is not a whole number >= 0`, "2"},
		{"poe_openai {\n tokens k\n timeout soon\n}", `timeout: "soon" is not a duration`, "3"},
		{"poe_openai {\n cool_down 1s 2s\n}", "wrong argument count", "2"},
		{"poe_openai {\n max_request_body huge\n}", `max_request_body: "huge" is not a size`, "2"},
		{"poe_openai {\n max_request_body 0\n}", "max_request_body must be more than 0", "2"},
		{"poe_openai {\n base_url api.poe.com\n}", `base_url: "api.poe.com" is not an http(s) URL`, "2"},
		{"poe_openai {\n proxy ftp://x:1\n}", `proxy: "ftp://x:1": the scheme must be http, https or socks5`, "2"},
		{"poe_openai {\n models_from_poe maybe\n}", `expected on or off, not "maybe"`, "2"},
		{"poe_openai {\n timeout 1s\n timeout 2s\n}", `duplicate subdirective "timeout"`, "3"},
		{"poe_openai {\n idle_timeout 1s\n timeout 2s\n}", `duplicate subdirective "timeout"`, "3"},
		{"poe_openai {\n bot claude-[ X\n}", `bot: "claude-[" is not a valid glob pattern`, "2"},
		{"poe_openai {\n body_timeout never\n}", `body_timeout: "never" is not a duration`, "2"},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.input)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "Testfile:"+tt.line) {
			t.Errorf("%q: got %v, want %q at line %s", tt.input, err, tt.msg, tt.line)
		}
	}
}

func TestValidateJSONConfig(t *testing.T) {
	bad := []*Handler{
		{UnknownModels: "maybe"},
		{SimulateRoles: "2"},
		{BaseURL: "not a url"},
		{Proxy: "ftp://x"},
		{Bots: map[string]string{"m": ""}},
		{CoolDown: caddy.Duration(-1)},
	}
	for _, h := range bad {
		if err := h.Validate(); err == nil {
			t.Errorf("%+v accepted", h)
		}
	}
}

func TestProvisionSecrets(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()

	t.Setenv("POE_API_KEY", "")
	h := &Handler{PoeKeys: []string{"{env.POE_API_KEY}"}}
	err := h.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "POE_API_KEY") {
		t.Fatalf("empty env: %v", err)
	}
	h.Cleanup()

	t.Setenv("POE_API_KEY", "k1, k2 k1")
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	os.WriteFile(file, []byte("# comment\n\nk3\n  k4  \n"), 0o600)
	h = &Handler{PoeKeys: []string{"{env.POE_API_KEY}"}, PoeKeysFile: file}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	var fps []string
	for _, s := range h.pool.Status() {
		fps = append(fps, s.Fingerprint)
	}
	if len(fps) != 4 || fps[0] != fingerprint("k1") || fps[3] != fingerprint("k4") {
		t.Fatalf("tokens %v", fps)
	}

	h2 := &Handler{PoeKeys: []string{"k"}, PoeKeysFile: filepath.Join(dir, "missing")}
	if err := h2.Provision(ctx); err == nil || !strings.Contains(err.Error(), "poe_keys_file") {
		t.Fatalf("missing file: %v", err)
	}
	h2.Cleanup()
}

func TestKeyring(t *testing.T) {
	k := newKeyring([]string{"sk-a", "sk-b"})
	if k.match("sk-b") != 1 || k.match("sk-a") != 0 || k.match("sk-c") != -1 || k.match("") != -1 {
		t.Fatal("match")
	}
	for hdr, want := range map[string]string{"Bearer x": "x", "bearer  y ": "y", "Basic x": "", "Bearer": "", "": ""} {
		if got := bearer(hdr); got != want {
			t.Errorf("bearer(%q) = %q", hdr, got)
		}
	}
	if fp := fingerprint("secret"); len(fp) != 8 || fp != "2bb80d53" {
		t.Fatalf("fingerprint %q", fp)
	}
}

// The renamed subdirectives and JSON fields keep working, so that no
// config breaks.
func TestOldNamesStillWork(t *testing.T) {
	old, err := parse(t, "poe_openai {\n tokens a b\n tokens_file /f\n timeout 5s\n reasoning_effort_flag off\n}")
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := parse(t, "poe_openai {\n poe_keys a b\n poe_keys_file /f\n idle_timeout 5s\n disable_reasoning_effort_flag\n}")
	o, _ := json.Marshal(old)
	c, _ := json.Marshal(cur)
	if string(o) != string(c) {
		t.Fatalf("old %s\nnew %s", o, c)
	}
	var h Handler
	if err := json.Unmarshal([]byte(`{"tokens":["a","b"],"tokens_file":"/f","timeout":5000000000,"reasoning_effort_flag":false}`), &h); err != nil {
		t.Fatal(err)
	}
	if j, _ := json.Marshal(&h); string(j) != string(c) || len(h.deprecated) != 4 {
		t.Fatalf("old JSON %s, deprecated %v", j, h.deprecated)
	}
	if err := json.Unmarshal([]byte(`{"poe_keys":["a"],"frobnicate":1}`), &h); err == nil {
		t.Fatal("an unknown JSON field was accepted")
	}
}
