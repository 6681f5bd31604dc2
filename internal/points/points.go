// Package points keeps track of each pool key's Poe point balance: it
// reads it at start, every interval and when a request fails for lack of
// points, never more than once per MinGap per key, and sets a key at or
// below the floor aside (reason insufficient_points) until a later read
// finds it above. A subscription renews monthly, so such a key comes back
// by itself, not after a fixed quarantine.
package points

import (
	"context"
	"sync"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

// Reason is the set-aside reason of a key at or below the floor (the same
// word the relay uses for Poe's "not enough points").
const Reason = "insufficient_points"

// MinGap is the least time between two balance reads of one key: a storm
// of failures must not become a storm of balance calls.
const MinGap = time.Minute

// DefaultTimeout bounds one balance read (a request that Poe refused
// waits for it).
const DefaultTimeout = 5 * time.Second

// Balancer reads the point balance of a key (poeclient.Client.Balance).
type Balancer func(ctx context.Context, secret string) (int64, error)

// Reading is what the last balance read of a key found.
type Reading struct {
	Points int64     // the last balance read successfully
	Known  bool      // some read has succeeded
	At     time.Time // when Points was read
	Err    string    // the last read's failure; "" when it succeeded
	ErrAt  time.Time
}

// Key is the balance state of one key. The host keeps it across config
// reloads with the key's token, so that a reload neither forgets the
// balance nor reads it again within MinGap.
type Key struct {
	tok *tokenpool.Token

	mu      sync.Mutex
	checked time.Time     // start of the last read
	running chan struct{} // closed when the read in progress ends; nil when none
	r       Reading
	aside   bool // set aside by a reading at the floor, as last applied
}

// NewKey returns the state of a never read key.
func NewKey(t *tokenpool.Token) *Key { return &Key{tok: t} }

// Token returns the key's token.
func (k *Key) Token() *tokenpool.Token { return k.tok }

// Reading returns the last reading.
func (k *Key) Reading() Reading {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.r
}

// Destruct lets the host keep a Key in a caddy.UsagePool.
func (k *Key) Destruct() error { return nil }

// Options configure a Poller.
type Options struct {
	Keys    []*Key
	Balance Balancer
	// Pool is where keys are set aside and restored.
	Pool tokenpool.Aside
	// Floor: a balance at or below it sets the key aside.
	Floor int64
	// Hold is how long one reading at the floor sets a key aside; each
	// later reading at the floor extends it, one above ends it early.
	Hold time.Duration
	// Timeout bounds one read; DefaultTimeout when 0.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnReading is called after each read that succeeded (metrics).
	OnReading func(fingerprint string, points int64)
	// OnChange is called when a key is set aside or comes back (logs).
	OnChange func(fingerprint string, aside bool, points int64)
}

// Poller reads the keys' balances and applies the floor.
type Poller struct {
	o       Options
	byTok   map[*tokenpool.Token]*Key
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	started bool // Start was called (before Stop, by the host)

	mu      sync.Mutex
	stopped bool
	reads   sync.WaitGroup // reads in progress; added to under mu, until stopped
}

// New returns a poller; Start starts its rounds. Without Start it still
// reads when KeyWorks asks.
func New(o Options) *Poller {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	p := &Poller{o: o, byTok: make(map[*tokenpool.Token]*Key, len(o.Keys)), done: make(chan struct{})}
	for _, k := range o.Keys {
		p.byTok[k.tok] = k
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Start reads every key now, and again each time the channel that next
// returns, asked after each round, delivers; until Stop. The next round is
// timed from the end of the last one, so that with a one-minute interval
// no key's read is skipped for having come a hair early.
func (p *Poller) Start(next func() <-chan time.Time) {
	p.started = true
	go func() {
		defer close(p.done)
		for {
			p.CheckAll(p.ctx)
			select {
			case <-p.ctx.Done():
				return
			case <-next():
			}
		}
	}()
}

// Stop ends the rounds and cancels the reads in progress, and waits for
// them. KeyWorks still answers after Stop, from the last readings.
func (p *Poller) Stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.cancel()
	if p.started {
		<-p.done
	}
	p.reads.Wait()
}

// CheckAll reads every key whose last read is at least MinGap old, one
// after the other (a few keys; Poe need not see a burst), and applies the
// floor to every key with a reading.
func (p *Poller) CheckAll(ctx context.Context) {
	for _, k := range p.o.Keys {
		if ctx.Err() != nil {
			return
		}
		p.check(ctx, k)
	}
}

// KeyWorks reads t's balance (or, within MinGap of the last read, takes
// that one), applies the floor, and reports whether the key has points
// above the floor. It is what the relay asks when Poe refused a request
// for lack of points or for the key: a key with points is fine, whatever
// one bot answered; a read that fails leaves the bot's word standing.
func (p *Poller) KeyWorks(ctx context.Context, t *tokenpool.Token) bool {
	k := p.byTok[t]
	if k == nil {
		return false
	}
	r := p.check(ctx, k)
	return r.Err == "" && r.Known && r.Points > 0 && r.Points > p.o.Floor
}

// check reads k unless it was read within MinGap (or is being read: then
// it waits for that read), and applies the floor. The read itself belongs
// to the poller, not to the caller: a request that goes away does not
// cut it short (a cancelled read would stand for a minute), only Stop
// does. A stopped poller reads nothing.
func (p *Poller) check(ctx context.Context, k *Key) Reading {
	now := p.o.Now()
	k.mu.Lock()
	ch := k.running
	switch {
	case ch != nil:
	case !k.checked.IsZero() && now.Sub(k.checked) < MinGap || !p.addRead():
		r := k.r
		k.mu.Unlock()
		p.apply(k, r)
		return r
	default:
		ch = make(chan struct{})
		k.running = ch
		go p.read(k, ch, k.checked)
		k.checked = now
	}
	k.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return k.Reading()
}

// addRead counts a read about to start, unless the poller is stopped.
func (p *Poller) addRead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.reads.Add(1)
	return true
}

// read asks Poe for k's balance, records and applies it, and closes ch.
// A read cut short by Stop is forgotten, so that the next config's poller
// may read at once.
func (p *Poller) read(k *Key, ch chan struct{}, prev time.Time) {
	defer p.reads.Done()
	rctx, cancel := context.WithTimeout(p.ctx, p.o.Timeout)
	pts, err := p.o.Balance(rctx, k.tok.Secret())
	cancel()

	at := p.o.Now()
	k.mu.Lock()
	stopped := err != nil && p.ctx.Err() != nil
	switch {
	case stopped:
		k.checked = prev
	case err != nil:
		k.r.Err, k.r.ErrAt = err.Error(), at
	default:
		k.r = Reading{Points: pts, Known: true, At: at}
	}
	r := k.r
	k.running = nil
	k.mu.Unlock()
	if !stopped {
		if err == nil && p.o.OnReading != nil {
			p.o.OnReading(k.tok.Fingerprint(), pts)
		}
		p.apply(k, r)
	}
	close(ch)
}

// apply sets k aside or brings it back after reading r. A failed read
// changes nothing: not knowing is no reason to stop or start using a key.
func (p *Poller) apply(k *Key, r Reading) {
	if r.Err != "" || !r.Known || p.o.Pool == nil {
		return
	}
	if r.Points <= p.o.Floor {
		p.o.Pool.SetAside(k.tok, p.o.Hold, Reason)
		k.mu.Lock()
		was := k.aside
		k.aside = true
		k.mu.Unlock()
		if !was && p.o.OnChange != nil {
			p.o.OnChange(k.tok.Fingerprint(), true, r.Points)
		}
		return
	}
	restored := p.o.Pool.Restore(k.tok, Reason)
	k.mu.Lock()
	was := k.aside
	k.aside = false
	k.mu.Unlock()
	if (was || restored) && p.o.OnChange != nil {
		p.o.OnChange(k.tok.Fingerprint(), false, r.Points)
	}
}

// Readings returns each key's last reading, by fingerprint.
func (p *Poller) Readings() map[string]Reading {
	out := make(map[string]Reading, len(p.o.Keys))
	for _, k := range p.o.Keys {
		out[k.tok.Fingerprint()] = k.Reading()
	}
	return out
}
