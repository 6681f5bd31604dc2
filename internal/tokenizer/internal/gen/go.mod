module github.com/poe-openai/caddy-poe-openai/internal/tokenizer/internal/gen

go 1.26.0

require (
	github.com/dlclark/regexp2/v2 v2.8.0
	github.com/poe-openai/caddy-poe-openai v0.0.0-00010101000000-000000000000
	github.com/tiktoken-go/tokenizer v0.10.0
)

replace github.com/poe-openai/caddy-poe-openai => ../../../..
