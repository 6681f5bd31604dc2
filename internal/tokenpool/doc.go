// Package tokenpool hands out Poe API keys ("tokens") under per-token limits:
// a sliding 60 s window of request starts, a minimum gap between starts, an
// optional in-flight cap, and cooling/quarantine states set by the caller
// when Poe answers 429 or rejects a key.
//
// All per-token truth lives in *Token, under the token's own mutex, so the
// same Token objects can be shared by the pool of the previous config (still
// finishing requests) and the pool of the new one. A Pool is only an index
// over its tokens (a min-heap of available tokens keyed by last start and a
// min-heap of blocked tokens keyed by the instant they free up) that it
// re-validates against the token whenever it pops an entry.
//
// The package does not import Caddy; *Token has Destruct so the host can keep
// tokens in a caddy.UsagePool across reloads.
package tokenpool
