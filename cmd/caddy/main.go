// Command caddy is Caddy with the standard modules plus poe_openai, so that
// `go run ./cmd/caddy run --config example.Caddyfile` needs no xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/poe-openai/caddy-poe-openai"
)

func main() {
	caddycmd.Main()
}
