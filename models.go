package poeopenai

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/openai"
	"github.com/poe-openai/caddy-poe-openai/poeclient"
	"github.com/poe-openai/caddy-poe-openai/tokenpool"
)

// modelsCreated is the fixed "created" of mapped models, so that /models
// answers the same every time (2025-01-01T00:00:00Z).
const modelsCreated = 1735689600

// modelRefresh is how often Poe's public model list is fetched again.
const modelRefresh = time.Hour

// modelList answers /models and maps model names to bots: the `bot`
// mappings first, then (with models_from_poe) Poe's public list.
type modelList struct {
	bots   map[string]string // model -> bot
	folded map[string]string // lower-cased model -> bot
	mapped []openai.Model

	mu     sync.RWMutex
	poe    []openai.Model
	poeIDs map[string]bool
	loaded chan struct{} // closed after the first fetch attempt
}

func newModelList(bots map[string]string) *modelList {
	m := &modelList{bots: bots, folded: map[string]string{}}
	for model, bot := range bots {
		m.folded[strings.ToLower(model)] = bot
		m.mapped = append(m.mapped, openai.Model{ID: model, Object: "model", Created: modelsCreated, OwnedBy: "poe"})
	}
	slices.SortFunc(m.mapped, func(a, b openai.Model) int { return strings.Compare(a.ID, b.ID) })
	return m
}

func (m *modelList) list(ctx context.Context) openai.ModelList {
	m.waitLoaded(ctx)
	m.mu.RLock()
	defer m.mu.RUnlock()
	data := make([]openai.Model, 0, len(m.mapped)+len(m.poe))
	data = append(data, m.mapped...)
	for _, p := range m.poe {
		if _, dup := m.bots[p.ID]; !dup {
			data = append(data, p)
		}
	}
	return openai.ModelList{Object: "list", Data: data}
}

func (m *modelList) find(ctx context.Context, id string) (openai.Model, bool) {
	for _, x := range m.list(ctx).Data {
		if x.ID == id {
			return x, true
		}
	}
	return openai.Model{}, false
}

// bot maps a model name to a Poe bot: exact mapping, then one that
// differs only in case.
func (m *modelList) bot(model string) (string, bool) {
	if b, ok := m.bots[model]; ok {
		return b, true
	}
	b, ok := m.folded[strings.ToLower(model)]
	return b, ok
}

// firstFetchWait bounds how long a request waits for Poe's model list
// right after start-up.
const firstFetchWait = 5 * time.Second

// waitLoaded waits, right after start-up, for the first fetch of Poe's
// list, so that the first answers already include it.
func (m *modelList) waitLoaded(ctx context.Context) {
	if m.loaded == nil {
		return
	}
	select {
	case <-m.loaded:
	case <-ctx.Done():
	case <-time.After(firstFetchWait):
	}
}

// fromPoe reports whether Poe's list has id.
func (m *modelList) fromPoe(ctx context.Context, id string) bool {
	if m.loaded == nil {
		return false
	}
	m.waitLoaded(ctx)
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.poeIDs[id]
}

// startRefresh fetches Poe's model list now and every hour until the
// config is unloaded.
func (m *modelList) startRefresh(ctx caddy.Context, c *poeclient.Client, log *zap.Logger) {
	m.loaded = make(chan struct{})
	go func() {
		first := true
		for {
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			models, err := c.Models(fctx)
			cancel()
			if err != nil {
				log.Warn("poe_openai: cannot fetch Poe's model list", zap.Error(err))
			} else {
				m.setPoe(models)
			}
			if first {
				close(m.loaded)
				first = false
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(modelRefresh):
			}
		}
	}()
}

func (m *modelList) setPoe(models []poeclient.Model) {
	list := make([]openai.Model, 0, len(models))
	ids := make(map[string]bool, len(models))
	for _, p := range models {
		if p.ID == "" || ids[p.ID] {
			continue
		}
		ids[p.ID] = true
		owner := p.OwnedBy
		if owner == "" {
			owner = "poe"
		}
		// Poe sends milliseconds; OpenAI clients expect seconds.
		list = append(list, openai.Model{ID: p.ID, Object: "model", Created: p.Created / 1000, OwnedBy: owner})
	}
	m.mu.Lock()
	m.poe, m.poeIDs = list, ids
	m.mu.Unlock()
}

// botFor resolves the bot for a request's model.
func (h *Handler) botFor(ctx context.Context, model string) (string, *openai.Error) {
	if bot, ok := h.models.bot(model); ok {
		return bot, nil
	}
	if h.UnknownModels != "reject" || h.ModelsFromPoe && h.models.fromPoe(ctx, model) {
		return model, nil
	}
	return "", &openai.Error{Status: http.StatusNotFound, Type: openai.TypeInvalidRequest, Param: "model", Code: "model_not_found",
		Message: "The model '" + model + "' does not exist on this server. GET /v1/models lists the available models."}
}

// passthroughTokens serves one client's own Poe key.
type passthroughTokens struct {
	pt     *tokenpool.Passthrough
	secret string
}

func (p passthroughTokens) Acquire(ctx context.Context) (*tokenpool.Lease, error) {
	return p.pt.Acquire(ctx, p.secret)
}

// Healthy is false: there is no other key to fail over to.
func (passthroughTokens) Healthy() bool { return false }
