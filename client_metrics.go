package poeopenai

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/poe-openai/caddy-poe-openai/internal/team"
)

// Per-client collectors, created once and registered with every config's
// registry as the others are (metrics.go). Label values are bounded:
// client names and auth_keys fingerprints from the config plus the
// reserved buckets, models known to the config or Poe's list, else
// "other".
var (
	clientRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "poe_openai", Name: "client_requests_total",
		Help: "API requests by client, model and HTTP status.",
	}, []string{"client", "model", "code"})
	clientTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "poe_openai", Name: "client_tokens_total",
		Help: "Tokens by client, model and type (prompt or completion), as usage reports them.",
	}, []string{"client", "model", "type"})
)

func observeClient(client, model string, status int, c team.Counts) {
	clientRequests.WithLabelValues(client, model, strconv.Itoa(status)).Inc()
	if c.Prompt > 0 {
		clientTokens.WithLabelValues(client, model, "prompt").Add(float64(c.Prompt))
	}
	if c.Completion > 0 {
		clientTokens.WithLabelValues(client, model, "completion").Add(float64(c.Completion))
	}
}
