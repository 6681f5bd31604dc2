package relay

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/poe-openai/caddy-poe-openai/poeclient"
	"github.com/poe-openai/caddy-poe-openai/translate"
)

// UploadCache remembers which attachment URL Poe gave for a file, by
// content hash, so that a conversation resent with the same image uploads
// it once. Its budget counts the bytes of the files it remembers (the
// cache itself only holds hashes and URLs); least recently used entries
// go first, and entries expire after a while because Poe does not promise
// how long its attachment URLs live.
type UploadCache struct {
	mu     sync.Mutex
	budget int64
	used   int64
	ttl    time.Duration
	order  *list.List // front = most recently used
	byKey  map[string]*list.Element
}

type cacheEntry struct {
	key     string
	cost    int64
	att     poeclient.Attachment
	expires time.Time
}

// uploadTTL is how long a cached attachment URL is reused.
const uploadTTL = time.Hour

// NewUploadCache returns a cache of budget bytes; 0 disables caching.
func NewUploadCache(budget int64) *UploadCache {
	return &UploadCache{budget: budget, ttl: uploadTTL, order: list.New(), byKey: map[string]*list.Element{}}
}

func uploadKey(u translate.Upload) (string, int64) {
	h := sha256.New()
	if u.URL != "" {
		h.Write([]byte("url\x00" + u.URL))
		return hex.EncodeToString(h.Sum(nil)), int64(len(u.URL))
	}
	h.Write([]byte(u.ContentType + "\x00" + u.Name + "\x00"))
	h.Write(u.Data)
	return hex.EncodeToString(h.Sum(nil)), int64(len(u.Data))
}

func (c *UploadCache) get(key string) (poeclient.Attachment, bool) {
	if c == nil || c.budget <= 0 {
		return poeclient.Attachment{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return poeclient.Attachment{}, false
	}
	e := el.Value.(*cacheEntry)
	if time.Now().After(e.expires) {
		c.remove(el)
		return poeclient.Attachment{}, false
	}
	c.order.MoveToFront(el)
	return e.att, true
}

func (c *UploadCache) put(key string, cost int64, att poeclient.Attachment) {
	if c == nil || c.budget <= 0 || cost > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.remove(el)
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, cost: cost, att: att, expires: time.Now().Add(c.ttl)})
	c.used += cost
	for c.used > c.budget {
		c.remove(c.order.Back())
	}
}

func (c *UploadCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cacheEntry)
	delete(c.byKey, e.key)
	c.used -= e.cost
}

// Len is the number of cached uploads.
func (c *UploadCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
