// Package models is the model catalog: which Poe bot answers a model
// name (exact `bot` mappings, glob patterns, Poe's public list) and what
// /models lists. Front ends render the list in their own shape.
package models

import (
	"context"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// Created is the fixed creation time of mapped models, so that /models
// answers the same every time (2025-01-01T00:00:00Z).
const Created = 1735689600

// refresh is how often Poe's public model list is fetched again.
const refresh = time.Hour

// firstFetchWait bounds how long a request waits for Poe's model list
// right after start-up.
const firstFetchWait = 5 * time.Second

// Model is one entry of the list.
type Model struct {
	ID      string
	Created int64 // Unix seconds
	OwnedBy string
}

// Catalog maps model names to bots and lists the models.
type Catalog struct {
	bots     map[string]string // exact model -> bot
	folded   map[string]string // lower-cased model -> bot
	patterns []pattern         // longest first
	mapped   []Model
	reject   bool // unknown_models reject

	mu     sync.RWMutex
	poe    []Model
	poeIDs map[string]bool
	loaded chan struct{} // closed after the first fetch attempt; nil = no Poe list
}

type pattern struct{ glob, bot string } // glob lower-cased

// IsPattern reports whether a `bot` model name is a glob.
func IsPattern(model string) bool { return strings.ContainsAny(model, "*?[") }

// New builds a catalog from the `bot` mappings; reject refuses models
// that neither a mapping nor Poe's list (once fetched) knows.
func New(bots map[string]string, reject bool) *Catalog {
	c := &Catalog{bots: map[string]string{}, folded: map[string]string{}, reject: reject}
	for model, bot := range bots {
		if IsPattern(model) {
			c.patterns = append(c.patterns, pattern{strings.ToLower(model), bot})
			continue
		}
		c.bots[model] = bot
		c.folded[strings.ToLower(model)] = bot
		c.mapped = append(c.mapped, Model{ID: model, Created: Created, OwnedBy: "poe"})
	}
	slices.SortFunc(c.mapped, func(a, b Model) int { return strings.Compare(a.ID, b.ID) })
	// Longest pattern first; ties in a fixed order, so a config always
	// means the same.
	slices.SortFunc(c.patterns, func(a, b pattern) int {
		if d := len(b.glob) - len(a.glob); d != 0 {
			return d
		}
		return strings.Compare(a.glob, b.glob)
	})
	return c
}

// ValidPattern reports whether a glob is well-formed.
func ValidPattern(glob string) bool {
	_, err := path.Match(glob, "")
	return err == nil
}

// Bot maps a model name to a Poe bot: an exact mapping, then one that
// differs only in case, then the longest matching pattern.
func (c *Catalog) Bot(model string) (string, bool) {
	if b, ok := c.bots[model]; ok {
		return b, true
	}
	lower := strings.ToLower(model)
	if b, ok := c.folded[lower]; ok {
		return b, true
	}
	for _, p := range c.patterns {
		if ok, _ := path.Match(p.glob, lower); ok {
			return p.bot, true
		}
	}
	return "", false
}

// BotFor resolves the bot for a request's model, or says why not.
func (c *Catalog) BotFor(ctx context.Context, model string) (string, *conv.Error) {
	if bot, ok := c.Bot(model); ok {
		return bot, nil
	}
	if !c.reject || c.fromPoe(ctx, model) {
		return model, nil
	}
	return "", &conv.Error{Status: http.StatusNotFound, Type: conv.TypeInvalidRequest, Param: "model", Code: "model_not_found",
		Message: "The model '" + model + "' does not exist on this server. GET /v1/models lists the available models."}
}

// List is what /models shows: the mapped names, then Poe's list.
func (c *Catalog) List(ctx context.Context) []Model {
	c.waitLoaded(ctx)
	c.mu.RLock()
	defer c.mu.RUnlock()
	data := make([]Model, 0, len(c.mapped)+len(c.poe))
	data = append(data, c.mapped...)
	for _, p := range c.poe {
		if _, dup := c.bots[p.ID]; !dup {
			data = append(data, p)
		}
	}
	return data
}

// Find is one entry of List.
func (c *Catalog) Find(ctx context.Context, id string) (Model, bool) {
	for _, x := range c.List(ctx) {
		if x.ID == id {
			return x, true
		}
	}
	return Model{}, false
}

// waitLoaded waits, right after start-up, for the first fetch of Poe's
// list, so that the first answers already include it.
func (c *Catalog) waitLoaded(ctx context.Context) {
	if c.loaded == nil {
		return
	}
	select {
	case <-c.loaded:
	case <-ctx.Done():
	case <-time.After(firstFetchWait):
	}
}

func (c *Catalog) fromPoe(ctx context.Context, id string) bool {
	if c.loaded == nil {
		return false
	}
	c.waitLoaded(ctx)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.poeIDs[id]
}

// StartRefresh fetches Poe's model list now and every hour until ctx
// ends.
func (c *Catalog) StartRefresh(ctx context.Context, client *poeclient.Client, log *zap.Logger) {
	c.loaded = make(chan struct{})
	go func() {
		first := true
		for {
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			list, err := client.Models(fctx)
			cancel()
			if err != nil {
				log.Warn("cannot fetch Poe's model list", zap.Error(err))
			} else {
				c.setPoe(list)
			}
			if first {
				close(c.loaded)
				first = false
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(refresh):
			}
		}
	}()
}

func (c *Catalog) setPoe(list []poeclient.Model) {
	out := make([]Model, 0, len(list))
	ids := make(map[string]bool, len(list))
	for _, p := range list {
		if p.ID == "" || ids[p.ID] {
			continue
		}
		ids[p.ID] = true
		owner := p.OwnedBy
		if owner == "" {
			owner = "poe"
		}
		// Poe sends milliseconds; clients expect seconds.
		out = append(out, Model{ID: p.ID, Created: p.Created / 1000, OwnedBy: owner})
	}
	c.mu.Lock()
	c.poe, c.poeIDs = out, ids
	c.mu.Unlock()
}
