module github.com/poe-openai/caddy-poe-openai/internal/tokenizer/internal/gen

go 1.26.0

require (
	github.com/dlclark/regexp2/v2 v2.8.0
	github.com/tiktoken-go/tokenizer v0.10.0
)
