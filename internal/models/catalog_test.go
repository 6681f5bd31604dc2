package models

import (
	"context"
	"testing"
)

func TestBotPatterns(t *testing.T) {
	c := New(map[string]string{
		"claude-sonnet-4-5-20250929": "Claude-Sonnet-4.5-Exact",
		"claude-*":                   "Claude-Sonnet-4.5",
		"claude-haiku-*":             "Claude-Haiku-4.5",
		"gpt-?o":                     "GPT-4o",
	}, true)
	for model, want := range map[string]string{
		"claude-sonnet-4-5-20250929": "Claude-Sonnet-4.5-Exact", // exact wins over patterns
		"Claude-Sonnet-4-5-20250929": "Claude-Sonnet-4.5-Exact", // then case-insensitive exact
		"claude-haiku-4-5-20251001":  "Claude-Haiku-4.5",        // longest pattern wins
		"claude-opus-4-1":            "Claude-Sonnet-4.5",
		"CLAUDE-HAIKU-3":             "Claude-Haiku-4.5",
		"gpt-4o":                     "GPT-4o",
	} {
		if got, ok := c.Bot(model); !ok || got != want {
			t.Errorf("%s: got %q %v, want %q", model, got, ok, want)
		}
	}
	if _, e := c.BotFor(context.Background(), "gpt-4o-mini"); e == nil || e.Status != 404 {
		t.Fatalf("unmapped model under reject: %+v", e)
	}
	// Patterns are not models: /models lists only exact names.
	if l := c.List(context.Background()); len(l) != 1 || l[0].ID != "claude-sonnet-4-5-20250929" {
		t.Fatalf("list %+v", l)
	}
}

func TestValidPattern(t *testing.T) {
	if !ValidPattern("claude-*") || ValidPattern("claude-[") {
		t.Fatal("pattern validation")
	}
}
