package models

import (
	"path"
	"strings"
)

// Other labels every model the catalog does not know.
const Other = "other"

// Label is a bounded name for model, for metrics and usage records whose
// label values must not be whatever clients send: a mapped name as
// configured, the glob that maps it, a model in Poe's list, or Other.
func (c *Catalog) Label(model string) string {
	if _, ok := c.bots[model]; ok {
		return model
	}
	if _, ok := c.folded[strings.ToLower(model)]; ok {
		for _, m := range c.mapped {
			if strings.EqualFold(m.ID, model) {
				return m.ID
			}
		}
	}
	lower := strings.ToLower(model)
	for _, p := range c.patterns {
		if ok, _ := path.Match(p.glob, lower); ok {
			return p.glob
		}
	}
	c.mu.RLock()
	known := c.poeIDs[model]
	c.mu.RUnlock()
	if known {
		return model
	}
	return Other
}
