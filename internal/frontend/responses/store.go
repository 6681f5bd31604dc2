package responses

import (
	"container/list"
	"slices"
	"sync"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// responseStore keeps finished responses: in memory (store), or in the
// shared Redis with a memory store as fallback (remoteStore).
type responseStore interface {
	enabled() bool
	put(client, id string, msgs []conv.Message, body []byte)
	conversation(client, id string) ([]conv.Message, bool)
	body(client, id string) ([]byte, bool)
	remove(client, id string) bool
}

// store keeps finished responses in memory for previous_response_id and
// GET /responses/{id}: per client (a client never sees another's), at
// most max bytes (approximately; least recently used first out), each for
// ttl at most.
type store struct {
	mu    sync.Mutex
	max   int64
	ttl   time.Duration
	now   func() time.Time
	size  int64
	lru   *list.List // of *entry, most recent first
	byKey map[storeKey]*list.Element
}

type storeKey struct{ client, id string }

type entry struct {
	key     storeKey
	msgs    []conv.Message // the conversation, answer included
	body    []byte         // the response object
	size    int64
	expires time.Time
}

func newStore(max int64, ttl time.Duration, now func() time.Time) *store {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &store{max: max, ttl: ttl, now: now, lru: list.New(), byKey: map[storeKey]*list.Element{}}
}

func (s *store) enabled() bool { return s.max > 0 }

// entrySize approximates what an entry holds, in bytes.
func entrySize(k storeKey, msgs []conv.Message, body []byte) int64 {
	n := int64(len(k.client) + len(k.id) + len(body) + 128)
	for _, m := range msgs {
		n += 96 + int64(len(m.ToolCallID))
		for _, p := range m.Content {
			n += 64 + int64(len(p.Text)+len(p.URL)+len(p.FileData)+len(p.Filename)+len(p.Audio))
		}
		for _, c := range m.ToolCalls {
			n += 64 + int64(len(c.ID)+len(c.Name)+len(c.Arguments))
		}
	}
	return n
}

// put stores a response; one larger than the whole store is not kept.
func (s *store) put(client, id string, msgs []conv.Message, body []byte) {
	if !s.enabled() {
		return
	}
	k := storeKey{client, id}
	e := &entry{key: k, msgs: msgs, body: body, size: entrySize(k, msgs, body)}
	if e.size > s.max {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e.expires = now.Add(s.ttl)
	if old, ok := s.byKey[k]; ok {
		s.drop(old)
	}
	s.byKey[k] = s.lru.PushFront(e)
	s.size += e.size
	// Out go the expired at the back, then the least recently used.
	for back := s.lru.Back(); back != nil && (s.size > s.max || !now.Before(back.Value.(*entry).expires)); back = s.lru.Back() {
		s.drop(back)
	}
}

func (s *store) drop(el *list.Element) {
	e := s.lru.Remove(el).(*entry)
	delete(s.byKey, e.key)
	s.size -= e.size
}

// get returns a live entry of client's and marks it used; the caller
// holds s.mu.
func (s *store) get(client, id string) *entry {
	el, ok := s.byKey[storeKey{client, id}]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if !s.now().Before(e.expires) {
		s.drop(el)
		return nil
	}
	s.lru.MoveToFront(el)
	return e
}

// conversation returns a copy of a stored response's conversation, to
// continue it.
func (s *store) conversation(client, id string) ([]conv.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(client, id)
	if e == nil {
		return nil, false
	}
	out := slices.Clone(e.msgs)
	for i := range out { // the request may change its messages: not ours
		out[i].Content = slices.Clone(out[i].Content)
		out[i].ToolCalls = slices.Clip(slices.Clone(out[i].ToolCalls))
	}
	return out, true
}

// body returns a stored response object.
func (s *store) body(client, id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(client, id)
	if e == nil {
		return nil, false
	}
	return e.body, true
}

// remove deletes a stored response; false if there was none.
func (s *store) remove(client, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(client, id)
	if e == nil {
		return false
	}
	s.drop(s.byKey[e.key])
	return true
}

// storedParam is where errors in a continued conversation point.
const storedParam = "previous_response_id"

// keepConversation copies a request's conversation for the store, without
// the instructions (which previous_response_id does not carry over, as
// OpenAI has it), its errors pointing at previous_response_id. The copy
// shares only strings with msgs, so the core may change msgs.
func keepConversation(msgs []conv.Message) []conv.Message {
	out := make([]conv.Message, 0, len(msgs)+1)
	for _, m := range msgs {
		if m.Param == "instructions" {
			continue
		}
		m.Content = slices.Clone(m.Content)
		for i := range m.Content {
			m.Content[i].Param = storedParam
		}
		m.ToolCalls = slices.Clone(m.ToolCalls)
		m.Param, m.IDParam = storedParam, storedParam
		out = append(out, m)
	}
	return out
}
