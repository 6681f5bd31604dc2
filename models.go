package poeopenai

import (
	"context"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

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
