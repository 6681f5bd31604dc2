package poeopenai

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzCaddyfile: any directive body parses or fails with an error (never
// a panic), and what parses survives the JSON round trip Caddy makes
// (adapt, then load) unchanged.
func FuzzCaddyfile(f *testing.F) {
	f.Add("poe_keys a b\nbot claude-* X\nrate_limit 3\ncool_down 1s\nreasoning_effort_flag off")
	f.Add("tokens {env.K}\nmax_wait 0\npassthrough\nmodels_from_poe on\nresponses_store 1MB")
	f.Add("bot [ x\nunknown_models maybe\nproxy ftp://x")
	f.Add("cors * https://a\nbody_timeout 10s\nupstream_h2c off\nidle_timeout 2m")
	f.Fuzz(func(t *testing.T, body string) {
		h := new(Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("poe_openai {\n" + body + "\n}")); err != nil {
			return
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Handler
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("adapted JSON does not load: %v\n%s", err, b)
		}
		if b2, _ := json.Marshal(&back); string(b2) != string(b) {
			t.Fatalf("round trip changed the config:\n%s\n%s", b, b2)
		}
	})
}
