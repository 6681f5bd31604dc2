package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// readmeBlock returns the fenced block that follows marker in README.md.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(marker) + " -->\n```[a-z]*\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("README has no %s block", marker)
	}
	return string(m[1])
}

func adapt(t *testing.T, caddyfile string) map[string]any {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.Unmarshal(out, &cfg)
	return cfg
}

// findHandler digs the poe_openai handler out of an adapted config.
func findHandler(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "poe_openai" {
			return x
		}
		for _, e := range x {
			if h := findHandler(e); h != nil {
				return h
			}
		}
	case []any:
		for _, e := range x {
			if h := findHandler(e); h != nil {
				return h
			}
		}
	}
	return nil
}

func TestReadmeJSONIsWhatAdaptGives(t *testing.T) {
	got := findHandler(adapt(t, readmeBlock(t, "adapt:caddyfile")))
	var want map[string]any
	if err := json.Unmarshal([]byte(readmeBlock(t, "adapt:json")), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "\t")
		t.Fatalf("caddy adapt gives\n%s", g)
	}
}

func TestExampleCaddyfile(t *testing.T) {
	example, err := os.ReadFile("../example.Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	// Plain HTTP on localhost:8080 by default, on loopback only.
	cfg := adapt(t, string(example))
	b, _ := json.Marshal(cfg)
	if !strings.Contains(string(b), `"listen":["127.0.0.1:8080","[::1]:8080"]`) || !strings.Contains(string(b), `"poe_keys":["{env.POE_API_KEY}"]`) {
		t.Fatalf("default example: %s", b)
	}

	// Without a key, the config does not load, and says why.
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(example, nil)
	if err != nil {
		t.Fatal(err)
	}
	validate := func() error {
		var c caddy.Config
		if err := json.Unmarshal(cfgJSON, &c); err != nil {
			t.Fatal(err)
		}
		c.Admin = &caddy.AdminConfig{Disabled: true}
		return caddy.Validate(&c)
	}
	t.Setenv("POE_API_KEY", "")
	if err := validate(); err == nil || !strings.Contains(err.Error(), "POE_API_KEY") {
		t.Fatalf("validate without key: %v", err)
	}
	t.Setenv("POE_API_KEY", "k-example")
	if err := validate(); err != nil {
		t.Fatalf("validate with key: %v", err)
	}

	// An automatic-HTTPS site when POE_SITE names a domain.
	t.Setenv("POE_SITE", "api.example.com")
	t.Setenv("POE_BIND", "0.0.0.0 [::]")
	b, _ = json.Marshal(adapt(t, string(example)))
	if !strings.Contains(string(b), `"host":["api.example.com"]`) || !strings.Contains(string(b), `"listen":["0.0.0.0:443","[::]:443"]`) {
		t.Fatalf("POE_SITE example: %s", b)
	}
}

func TestMetricsAfterReload(t *testing.T) {
	_, url := fakePoe(t, nil)
	cfg := `
	metrics /metrics
	poe_openai {
		tokens tok-metrics
		bot m%d V1
		base_url {FAKE}
	}`
	for i := range 2 {
		s := startCaddy(t, url, fmt.Sprintf(cfg, i)) // the second is a reload
		if r := s.post("/v1/chat/completions", "", fmt.Sprintf(`{"model":"m%d","messages":[{"role":"user","content":"x"}]}`, i)); r.StatusCode != 200 {
			t.Fatal(r.StatusCode)
		}
		resp, err := http.Get(s.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`caddy_poe_openai_requests_total\{code="200",stream="false"\} [1-9]`).MatchString(body) ||
			!strings.Contains(body, `caddy_poe_openai_tokens_total{type="completion"}`) {
			t.Fatalf("config %d: metrics missing:\n%s", i, grepLines(body, "poe_openai"))
		}
	}
}
