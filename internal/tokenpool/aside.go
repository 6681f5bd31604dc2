package tokenpool

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// This file lets the host act on a token outside any request: set it
// aside (quarantine with a reason, as a failed request would) and bring it
// back early when the cause is gone, e.g. a key out of points whose
// balance was topped up. Keys (Pool or Shared) implement Aside.

// Aside is implemented by *Pool and *Shared.
type Aside interface {
	// Tokens returns the pool's tokens, in config order.
	Tokens() []*Token
	// SetAside quarantines t for d with reason; it never shortens a
	// longer quarantine.
	SetAside(t *Token, d time.Duration, reason string)
	// Restore ends t's quarantine if its reason is reason, and reports
	// whether it did.
	Restore(t *Token, reason string) bool
}

var (
	_ Aside = (*Pool)(nil)
	_ Aside = (*Shared)(nil)
)

// Tokens implements Aside.
func (p *Pool) Tokens() []*Token {
	out := make([]*Token, len(p.members))
	for i := range p.members {
		out[i] = p.members[i].tok
	}
	return out
}

// SetAside implements Aside. Quarantine only moves a token's gate later,
// which the pools' lazy heaps handle by themselves.
func (p *Pool) SetAside(t *Token, d time.Duration, reason string) {
	t.setAside(p.now()+int64(d), reason)
}

func (t *Token) setAside(until int64, reason string) {
	t.mu.Lock()
	t.quarUntil = max(t.quarUntil, until)
	t.reason = reason
	t.mu.Unlock()
}

// Restore implements Aside: every open pool over t re-files it, so that
// waiters get it at once.
func (p *Pool) Restore(t *Token, reason string) bool {
	return t.restore(p.now(), reason)
}

func (t *Token) restore(now int64, reason string) bool {
	t.mu.Lock()
	if t.quarUntil <= now || t.reason != reason {
		t.mu.Unlock()
		return false
	}
	t.quarUntil, t.reason = never, ""
	ws := t.watchers
	t.mu.Unlock()
	for _, w := range ws {
		w.p.refile(w.m)
	}
	return true
}

// refile moves m to where its token's state says, after its gate moved
// earlier (which the heaps cannot find by themselves).
func (p *Pool) refile(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.loc {
	case locTimed:
		p.timed.remove(m.pos)
	case locAvail:
		p.avail.remove(m.pos)
	default:
		p.nNone--
	}
	now := p.now()
	p.place(m, now)
	if !p.closed {
		p.serve(now)
		p.arm(now)
	}
}

// remove takes out the member at i.
func (h *mheap) remove(i int) {
	old := *h
	n := len(old) - 1
	m := old[i]
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i < n {
		h.down(i)
		h.up(i)
	}
	m.pos = -1
}

// Tokens implements Aside.
func (s *Shared) Tokens() []*Token { return append([]*Token(nil), s.toks...) }

// SetAside implements Aside, in Redis and locally (the fallback pool).
func (s *Shared) SetAside(t *Token, d time.Duration, reason string) {
	s.local.SetAside(t, d, reason)
	if i := s.index(t); i >= 0 {
		_, _ = s.r.run(untilScript, []string{s.keys[4*i+1]}, s.r.nowArg(), "quar", micros(max(d, 0)), reason)
	}
}

// Restore implements Aside, in Redis and locally; waiters everywhere are
// woken.
func (s *Shared) Restore(t *Token, reason string) bool {
	ok := s.local.Restore(t, reason)
	if i := s.index(t); i >= 0 {
		v, err := s.r.run(restoreScript, []string{s.keys[4*i+1]}, reason, wakeChannel, s.hashes[i])
		ok = ok || err == nil && v == int64(1)
	}
	return ok
}

func (s *Shared) index(t *Token) int {
	for i, x := range s.toks {
		if x == t {
			return i
		}
	}
	return -1
}

// restoreScript ends a quarantine whose reason matches. KEYS: s. ARGV:
// reason, wake channel, token hash.
var restoreScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'reason') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'quar', 0)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// Used returns the requests key made in the current window (for status
// pages); 0 when unlimited.
func (k *KeyLimiter) Used(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el := k.keys[key]; el != nil {
		return el.Value.(*klEntry).ring.count(nanos(k.clock.Now()))
	}
	return 0
}

// Client is the connection to the shared state, for other shared data
// (usage counts) to use the same Redis.
func (r *Redis) Client() *redis.Client { return r.c }
