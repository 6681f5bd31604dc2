package poeopenai

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/points"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

const defaultPointsCheck = 10 * time.Minute

// pointsGauge is each pool key's last balance read. Like the other
// collectors it is created once and registered with every config's
// registry; a key's series goes when no config holds the key any more.
var pointsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: "caddy", Subsystem: "poe_openai", Name: "points",
	Help: "Poe point balance of each pool key, as last read (label: the key's fingerprint).",
}, []string{"key"})

// heldPoints is a key's balance state kept across reloads with its token,
// so that a reload neither forgets a balance nor reads it again at once.
type heldPoints struct{ *points.Key }

func (k heldPoints) Destruct() error {
	pointsGauge.DeleteLabelValues(k.Token().Fingerprint())
	return nil
}

func (h *Handler) pointsInterval() time.Duration {
	if h.PointsCheck == nil {
		return defaultPointsCheck
	}
	return time.Duration(*h.PointsCheck)
}

// startPoints builds the points poller over the pool's keys and, unless
// points_check is 0, starts its rounds (the first one now). The relay asks
// it, instead of Poe directly, whether a refused key still has points.
func (h *Handler) startPoints(tokens []*tokenpool.Token, quarantine time.Duration) error {
	register(h.ctx.GetMetricsRegistry(), h.logger, pointsGauge)
	aside, ok := h.pool.(tokenpool.Aside)
	if !ok || len(tokens) == 0 {
		return nil
	}
	keys := make([]*points.Key, 0, len(tokens))
	for _, t := range tokens {
		v, err := h.hold("poe_openai/points/"+strings.TrimPrefix(tokenStateKey(t.Secret()), "poe_openai/token/"),
			func() caddy.Destructor { return heldPoints{points.NewKey(t)} })
		if err != nil {
			return err
		}
		keys = append(keys, v.(heldPoints).Key)
	}
	interval := h.pointsInterval()
	// A key at the floor is set aside until the check after next, so that
	// one failed read does not bring it back; each read at the floor
	// extends it. With polling off only a refused request reads a
	// balance: then it stays aside for the quarantine.
	hold := 2 * interval
	if interval == 0 {
		hold = quarantine
	}
	log := h.logger
	h.points = points.New(points.Options{
		Keys: keys, Balance: h.balance, Pool: aside, Floor: h.PointsFloor, Hold: hold,
		OnReading: func(fp string, n int64) { pointsGauge.WithLabelValues(fp).Set(float64(n)) },
		OnChange: func(fp string, aside bool, n int64) {
			if aside {
				log.Warn("Poe key set aside: its points are at or below points_floor", zap.String("token", fp),
					zap.Int64("points", n), zap.Int64("points_floor", h.PointsFloor), zap.String("reason", points.Reason))
				h.emitKeyEvent("poe_key_quarantined", fp, points.Reason)
				return
			}
			log.Info("Poe key back: its points are above points_floor", zap.String("token", fp), zap.Int64("points", n))
			h.emitKeyEvent("poe_key_restored", fp, points.Reason)
		},
	})
	h.engine.KeyWorks = h.points.KeyWorks
	if interval > 0 {
		h.points.Start(func() <-chan time.Time { return time.After(interval) })
	}
	h.stopPoints = h.points.Stop
	return nil
}

// balance reads a key's points. Its error is in words fit for the status
// page (no addresses or bodies: those go to the debug log).
func (h *Handler) balance(ctx context.Context, secret string) (int64, error) {
	n, err := h.client.Balance(ctx, secret)
	if err != nil {
		h.logger.Debug("reading a key's points failed", zap.String("token", fingerprint(secret)), zap.Error(err))
		pe := poeclient.AsError(err)
		if pe.Status != 0 {
			return 0, fmt.Errorf("HTTP %d: %s", pe.Status, pe.Message)
		}
		return 0, errors.New(pe.Message)
	}
	return n, nil
}

func (h *Handler) emitKeyEvent(name, fp, reason string) {
	if h.events != nil {
		h.events.Emit(h.ctx, name, map[string]any{"key": fp, "reason": reason})
	}
}

// validatePoints is Validate's part for points_check and points_floor.
func (h *Handler) validatePoints() error {
	if c := h.PointsCheck; c != nil && *c != 0 && time.Duration(*c) < points.MinGap {
		return errors.New("points_check must be 0 (off) or at least 1m: a key's balance is read at most once a minute")
	}
	if h.PointsFloor < 0 {
		return errors.New("points_floor must not be negative")
	}
	return nil
}
