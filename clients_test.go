package poeopenai

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/team"
)

func TestCaddyfileClients(t *testing.T) {
	h, err := parse(t, `poe_openai {
		auth_keys sk-nameless
		client alice {env.ALICE_KEY} sk-alice-2 {
			rate_limit 30
			budget 100000 tokens per day
			budget 2000 requests per month
			models gpt-4o claude-*
			models o3
		}
		client bob.b-2_x sk-bob
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"auth_keys":["sk-nameless"],"clients":[{"name":"alice","keys":["{env.ALICE_KEY}","sk-alice-2"],"rate_limit":30,` +
		`"budgets":[{"limit":100000,"unit":"tokens","per":"day"},{"limit":2000,"unit":"requests","per":"month"}],` +
		`"models":["gpt-4o","claude-*","o3"]},{"name":"bob.b-2_x","keys":["sk-bob"]}]}`
	if got, _ := json.Marshal(h); string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ input, msg, line string }{
		{"client alice", "client needs a name and at least one key", "2"},
		{"client a/b k", `client "a/b": a name is [A-Za-z0-9_.-]+`, "2"},
		{"client anonymous k", `not anonymous or passthrough`, "2"},
		{"client a k\n client a k2", `client "a" is defined twice`, "3"},
		{"client a k {\n budget 5 points per day\n}", `"points" is not tokens or requests`, "3"},
		{"client a k {\n budget 5 tokens per year\n}", `"year" is not day, week or month`, "3"},
		{"client a k {\n rate_limit -2\n}", `rate_limit: "-2" is not a whole number`, "3"},
		{"client a k {\n rate_limit 1\n rate_limit 2\n}", `duplicate "rate_limit"`, "4"},
		{"client a k {\n models [x\n}", `not a valid glob`, "3"},
		{"client a k {\n colour red\n}", `unrecognized setting "colour"`, "3"},
	} {
		_, err := parse(t, "poe_openai {\n "+c.input+"\n}")
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "Testfile:"+c.line) {
			t.Errorf("%q: got %v, want %q at line %s", c.input, err, c.msg, c.line)
		}
	}
	for _, bad := range []*Handler{
		{Clients: []*team.Client{{Name: "a"}}},
		{Clients: []*team.Client{{Name: "a", Keys: []string{"k"}}, {Name: "a", Keys: []string{"k2"}}}},
		{Clients: []*team.Client{nil}},
		{Clients: []*team.Client{{Name: "a b", Keys: []string{"k"}}}},
	} {
		if bad.Validate() == nil {
			t.Errorf("JSON clients %+v accepted", bad.Clients)
		}
	}
}

// Keys resolve at provision and name their client; a key shared with
// another client or with auth_keys is refused without quoting it; the
// resolved keys never go back into the config.
func TestProvisionClients(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	t.Setenv("ALICE_KEYS", "sk-a1,sk-a2")
	t.Setenv("EMPTY_KEY", "")
	h := &Handler{PoeKeys: []string{"k"}, AuthKeys: []string{"sk-n"}, ClientRateLimit: 5, Clients: []*team.Client{
		{Name: "alice", Keys: []string{"{env.ALICE_KEYS}"}, RateLimit: 1},
		{Name: "bob", Keys: []string{"sk-b"}},
	}}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	for key, want := range map[string]string{"sk-a1": "alice", "sk-a2": "alice", "sk-b": "bob", "sk-n": fingerprint("sk-n")} {
		r, _ := http.NewRequest("POST", "/v1/chat/completions", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		who, ok := h.authenticate(r)
		if !ok || who.Client != want {
			t.Errorf("%s: %q %v, want %q", key, who.Client, ok, want)
		}
	}
	if h.Clients[0].Keys[0] != "{env.ALICE_KEYS}" {
		t.Fatal("the resolved keys were written back into the config")
	}
	// alice's own limit (1 a minute) replaces client_rate_limit (5).
	if h.clientLimit(core.Caller{Client: "alice"}) != nil || h.clientLimit(core.Caller{Client: "alice"}) == nil {
		t.Error("alice's rate_limit not applied")
	}
	if h.clientLimit(core.Caller{Client: "bob"}) != nil || h.clientLimit(core.Caller{Client: "bob"}) != nil {
		t.Error("bob got alice's limit, not client_rate_limit")
	}

	for _, c := range []struct {
		h   *Handler
		msg string
	}{
		{&Handler{PoeKeys: []string{"k"}, AuthKeys: []string{"sk-x"}, Clients: []*team.Client{{Name: "a", Keys: []string{"sk-x"}}}},
			"client a: one of its keys is also in auth_keys"},
		{&Handler{PoeKeys: []string{"k"}, Clients: []*team.Client{{Name: "a", Keys: []string{"sk-x"}}, {Name: "b", Keys: []string{"sk-y sk-x"}}}},
			"client b: one of its keys is also client a's"},
		{&Handler{PoeKeys: []string{"k"}, Clients: []*team.Client{{Name: "a", Keys: []string{"{env.EMPTY_KEY}"}}}},
			"client a has no keys after resolving placeholders: set EMPTY_KEY"},
		{&Handler{PoeKeys: []string{"k"}, AuthKeys: []string{"secret"}, Clients: []*team.Client{{Name: fingerprint("secret"), Keys: []string{"sk"}}}},
			"is the fingerprint of one of auth_keys"},
	} {
		err := c.h.Provision(ctx)
		c.h.Cleanup()
		if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "sk-x") {
			t.Errorf("got %v, want %q", err, c.msg)
		}
	}
}

// The ledger loads what was saved, saves only when something changed,
// keeps an unreadable file aside instead of overwriting it, and saves
// again after a failed save.
func TestLedger(t *testing.T) {
	dir := t.TempDir()
	storage := &certmagic.FileStorage{Path: dir}
	file := filepath.Join(dir, "poe_openai", "usage.json")
	log := zap.NewNop()

	l, err := openLedger(storage, usageKey, log, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l.save()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("an unchanged empty ledger was saved: %v", err)
	}
	day := team.DayOf(time.Now())
	l.mem.Add(day, "alice", "gpt-4o", team.Counts{Requests: 2, Prompt: 10})
	l.Destruct()
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("not saved at Destruct: %v", err)
	}

	l, err = openLedger(storage, usageKey, log, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := l.mem.Range("alice", day, day)
	if got[day]["gpt-4o"] != (team.Counts{Requests: 2, Prompt: 10}) {
		t.Fatalf("loaded %+v", got)
	}
	// A failed save is retried even though nothing changed since.
	os.Chmod(filepath.Dir(file), 0o500)
	l.mem.Add(day, "alice", "gpt-4o", team.Counts{Requests: 1})
	l.save()
	os.Chmod(filepath.Dir(file), 0o700)
	if !l.failed && os.Getuid() != 0 {
		t.Fatal("the save into a read-only directory did not fail")
	}
	l.save()
	l.Destruct()
	l, _ = openLedger(storage, usageKey, log, time.Hour)
	if got, _ := l.mem.Range("alice", day, day); got[day]["gpt-4o"].Requests != 3 {
		t.Fatalf("after the retried save: %+v", got)
	}
	l.Destruct()

	// The timer saves a changed ledger by itself.
	l, _ = openLedger(storage, usageKey, log, time.Millisecond)
	saved := make(chan struct{}, 1)
	l.mu.Lock()
	l.afterSave = func() {
		select {
		case saved <- struct{}{}:
		default:
		}
	}
	l.mem.Add(day, "bob", "m", team.Counts{Requests: 1})
	l.mu.Unlock()
	<-saved
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), `"bob"`) {
		t.Fatalf("the timer did not save: %s", b)
	}
	l.Destruct()

	os.WriteFile(file, []byte("{not json"), 0o600)
	l, err = openLedger(storage, usageKey, log, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := l.mem.Range("alice", day, day); len(got) != 0 {
		t.Fatalf("counts from a broken file: %+v", got)
	}
	l.Destruct()
	if b, _ := os.ReadFile(file + ".bad"); string(b) != "{not json" {
		t.Fatalf("the broken file was not kept aside: %q", b)
	}
}
