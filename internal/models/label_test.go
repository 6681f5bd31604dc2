package models

import (
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

func TestLabel(t *testing.T) {
	c := New(map[string]string{"gpt-4o": "GPT-4o", "claude-*": "Claude-Sonnet-4.5"}, false)
	c.setPoe([]poeclient.Model{{ID: "Gemini-2.5-Pro"}})
	for model, want := range map[string]string{
		"gpt-4o":          "gpt-4o",
		"GPT-4O":          "gpt-4o", // the configured spelling
		"claude-opus-4-1": "claude-*",
		"Gemini-2.5-Pro":  "Gemini-2.5-Pro",
		"anything-else":   Other,
		"":                Other,
	} {
		if got := c.Label(model); got != want {
			t.Errorf("Label(%q) = %q, want %q", model, got, want)
		}
	}
}
