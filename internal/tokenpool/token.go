package tokenpool

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Token is one Poe API key and everything known about its use. The state is
// shared by every Pool built over the token (reloads), so it is guarded by
// the token's own mutex, never by a pool's.
type Token struct {
	secret string
	fp     string

	mu        sync.Mutex
	ring      ring   // recent starts, for the rate window
	lastStart int64  // never if unused
	coolUntil int64  // never if not cooling
	quarUntil int64  // never if not quarantined
	reason    string // why quarantined
	inFlight  int
	unsent    int // leases started under a cool-down whose request Poe has not acknowledged yet
	starts    uint64
	// watchers are the open pools indexing this token; they are told when
	// inFlight drops. Copy-on-write, so Release can range over a snapshot
	// without holding mu.
	watchers []watcher
}

type watcher struct {
	p *Pool
	m *member
}

// NewToken returns a fresh, never used token for secret.
func NewToken(secret string) *Token {
	sum := sha256.Sum256([]byte(secret))
	return &Token{
		secret:    secret,
		fp:        hex.EncodeToString(sum[:4]),
		lastStart: never,
		coolUntil: never,
		quarUntil: never,
	}
}

// Secret returns the API key.
func (t *Token) Secret() string { return t.secret }

// Fingerprint returns the first 8 hex digits of sha256(secret), safe to log.
func (t *Token) Fingerprint() string { return t.fp }

// Destruct lets the host keep tokens in a caddy.UsagePool. Nothing to free.
func (t *Token) Destruct() error { return nil }

// gate is the earliest instant at which the token may start again under l,
// ignoring the in-flight cap. It only moves later as state accumulates
// (cool and quarantine only extend), which is what makes the pools' lazy
// heap keys safe lower bounds. Caller holds t.mu.
func (t *Token) gate(l *Limits) int64 {
	at := max(t.coolUntil, t.quarUntil, t.ring.windowGate(l.RateLimit))
	if l.CoolDown > 0 && t.lastStart != never {
		at = max(at, t.lastStart+int64(l.CoolDown))
	}
	return at
}

// capped reports whether the token must wait for a lease to move on: the
// in-flight cap of l is reached, or, under a cool-down, Poe has not yet
// acknowledged a started request (the cool-down then counts from that
// acknowledgement, see Lease.Reached). Caller holds t.mu.
func (t *Token) capped(l *Limits) bool {
	return l.MaxConcurrent > 0 && t.inFlight >= l.MaxConcurrent || l.CoolDown > 0 && t.unsent > 0
}

// start records a request start at now and reports whether the lease must
// report Poe's acknowledgement. Caller holds t.mu.
func (t *Token) start(now int64, l *Limits) (unsent bool) {
	t.inFlight++
	t.starts++
	t.lastStart = now
	t.ring.push(now, l.RateLimit)
	if l.CoolDown > 0 {
		t.unsent++
		return true
	}
	return false
}

// idle reports whether forgetting the token loses nothing: nothing in
// flight, no start inside the window, and no gate still closed.
func (t *Token) idle(now int64, l *Limits) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inFlight == 0 && t.unsent == 0 && t.gate(l) <= now &&
		(t.lastStart == never || t.lastStart+int64(Window) <= now)
}

func (t *Token) addWatcher(p *Pool, m *member) {
	t.mu.Lock()
	ws := make([]watcher, len(t.watchers), len(t.watchers)+1)
	copy(ws, t.watchers)
	t.watchers = append(ws, watcher{p, m})
	t.mu.Unlock()
}

func (t *Token) removeWatcher(p *Pool) {
	t.mu.Lock()
	ws := make([]watcher, 0, len(t.watchers))
	for _, w := range t.watchers {
		if w.p != p {
			ws = append(ws, w)
		}
	}
	t.watchers = ws
	t.mu.Unlock()
}

// Token states reported by Status.
const (
	StateReady       = "ready"
	StateCooling     = "cooling"
	StateQuarantined = "quarantined"
	StateBusy        = "busy" // ready, but window full, cool-down running or in-flight cap reached
)

// TokenStatus is a snapshot of one token for metrics and health pages.
type TokenStatus struct {
	Fingerprint string
	State       string
	Until       time.Time // end of cooling/quarantine, or when a busy token gets room by time; zero otherwise
	Reason      string    // quarantine reason
	InFlight    int
	// StartsInWindow counts starts in the last 60 s as remembered by the
	// window ring; with RateLimit 0 no ring is kept and it reads 0.
	StartsInWindow int
	Starts         uint64 // total starts since the token was created
}

func (t *Token) status(now int64, l *Limits) TokenStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := TokenStatus{
		Fingerprint:    t.fp,
		State:          StateReady,
		InFlight:       t.inFlight,
		StartsInWindow: t.ring.count(now),
		Starts:         t.starts,
	}
	switch {
	case t.quarUntil > now:
		s.State, s.Until, s.Reason = StateQuarantined, timeOf(t.quarUntil), t.reason
	case t.coolUntil > now:
		s.State, s.Until = StateCooling, timeOf(t.coolUntil)
	default:
		if g := t.gate(l); g > now {
			s.State, s.Until = StateBusy, timeOf(g)
		} else if t.capped(l) {
			s.State = StateBusy
		}
	}
	return s
}
