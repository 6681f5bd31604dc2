package core

import (
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

type mapRemote map[string][]byte

func (m mapRemote) Get(k string) ([]byte, bool)               { v, ok := m[k]; return v, ok }
func (m mapRemote) Set(k string, v []byte, ttl time.Duration) { m[k] = v }

// An upload cached by one instance is found by another through Remote.
func TestUploadCacheRemote(t *testing.T) {
	shared := mapRemote{}
	a, b := NewUploadCache(1<<20), NewUploadCache(1<<20)
	a.Remote, b.Remote = shared, shared
	a.put("k", 10, poeclient.Attachment{URL: "https://poe/att", Name: "x.png"})
	got, ok := b.get("k")
	if !ok || got.URL != "https://poe/att" || got.Name != "x.png" {
		t.Fatalf("got %+v %v", got, ok)
	}
	if _, ok := b.get("other"); ok {
		t.Fatal("hit for an unknown key")
	}
	off := NewUploadCache(0)
	off.Remote = shared
	if _, ok := off.get("k"); ok {
		t.Fatal("a disabled cache must not hit")
	}
}
