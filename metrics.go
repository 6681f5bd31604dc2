package poeopenai

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/core"
)

// The collectors are created once and registered with every config's
// registry: Caddy makes a new registry per config, and collectors that
// were registered only with the first would stop at their values after a
// reload. Labels are bounded: no model names (clients choose those).
var promMetrics = &metrics{
	requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "poe_openai", Name: "requests_total",
		Help: "Chat completion requests by HTTP status and streaming.",
	}, []string{"code", "stream"}),
	firstByte: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "poe_openai", Name: "first_byte_seconds",
		Help:    "Time until the first byte of the answer reached the client.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60, 120},
	}, []string{"stream"}),
	tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "poe_openai", Name: "tokens_total",
		Help: "Tokens counted with o200k_base, by prompt and completion.",
	}, []string{"type"}),
	attempts: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "poe_openai", Name: "retries_total",
		Help: "Extra attempts made after a failure (failover to another key, or a retry).",
	}),
}

type metrics struct {
	requests  *prometheus.CounterVec
	firstByte *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	attempts  prometheus.Counter
}

func registerMetrics(reg *prometheus.Registry, log *zap.Logger) *metrics {
	register(reg, log, promMetrics.requests, promMetrics.firstByte, promMetrics.tokens, promMetrics.attempts)
	return promMetrics
}

// register adds the module's collectors, created once per process, to a
// config's registry (nil without one); each config of a reload registers
// them again, which is fine.
func register(reg *prometheus.Registry, log *zap.Logger, cs ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				log.Warn("cannot register metrics", zap.Error(err))
			}
		}
	}
}

func (m *metrics) observe(status int, stream bool, o *core.Outcome) {
	if m == nil {
		return
	}
	s := strconv.FormatBool(stream)
	m.requests.WithLabelValues(strconv.Itoa(status), s).Inc()
	if o == nil {
		return
	}
	if o.FirstByte > 0 {
		m.firstByte.WithLabelValues(s).Observe(o.FirstByte.Seconds())
	}
	if o.Attempts > 1 {
		m.attempts.Add(float64(o.Attempts - 1))
	}
	if o.Usage != nil {
		m.tokens.WithLabelValues("prompt").Add(float64(o.Usage.PromptTokens))
		m.tokens.WithLabelValues("completion").Add(float64(o.Usage.CompletionTokens))
	}
}
