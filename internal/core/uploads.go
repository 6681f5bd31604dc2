package core

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/translate"
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

	// Remote, when set before use, shares entries between instances (the
	// Redis of `redis`): a local miss asks it, a put tells it, with the
	// same lifetime. Its failures are misses.
	Remote interface {
		Get(key string) ([]byte, bool)
		Set(key string, v []byte, ttl time.Duration)
	}
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
	if att, ok := c.getLocal(key); ok || c.Remote == nil {
		return att, ok
	}
	var att poeclient.Attachment
	b, ok := c.Remote.Get(key)
	return att, ok && json.Unmarshal(b, &att) == nil
}

func (c *UploadCache) getLocal(key string) (poeclient.Attachment, bool) {
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
	if c == nil || c.budget <= 0 {
		return
	}
	if c.Remote != nil {
		if b, err := json.Marshal(att); err == nil {
			c.Remote.Set(key, b, c.ttl)
		}
	}
	if cost > c.budget {
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
