package poeopenai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/team"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

// Usage is one ledger per place it is kept: per Caddy storage without
// `redis` (every poe_openai handler using that storage counts into it; a
// client's name means the same client in every site), per Redis with it.
// Either is held in tokenStates, so a reload keeps counting into the same
// ledger without reading or writing anything.

// usageKey is the ledger's key in Caddy's storage.
const usageKey = "poe_openai/usage.json"

// usageSaveEvery is how often a changed ledger is saved: a crash (not a
// stop or reload, which save) loses at most this much counting.
const usageSaveEvery = 30 * time.Second

// provisionUsage sets h.accounts: in Redis with `redis`, else in memory
// saved to ctx.Storage().
func (h *Handler) provisionUsage(ctx caddy.Context, repl *caddy.Replacer) error {
	if h.redis != nil {
		h.accounts = &team.Accounts{Store: h.redisUsage(repl.ReplaceAll(h.Redis, ""))}
		return nil
	}
	storage := storageOf(ctx)
	if storage == nil {
		// No storage (a bare context, as in unit tests): count in memory.
		h.accounts = &team.Accounts{Store: team.NewMemory()}
		return nil
	}
	id := fmt.Sprintf("%T", storage)
	if s, ok := storage.(fmt.Stringer); ok {
		id = s.String()
	}
	sum := sha256.Sum256([]byte(id))
	key := "poe_openai/usage/" + hex.EncodeToString(sum[:])
	v, _, err := tokenStates.LoadOrNew(key, func() (caddy.Destructor, error) {
		return openLedger(storage, usageKey, h.logger, usageSaveEvery)
	})
	if err != nil {
		return err
	}
	h.held = append(h.held, key)
	h.ledger = v.(*ledger)
	h.ledger.log.Store(h.logger)
	h.accounts = &team.Accounts{Store: h.ledger.mem}
	return nil
}

// storageOf is ctx.Storage(), or nil for a context made without a config
// (caddy.NewContext in unit tests), whose Storage panics.
func storageOf(ctx caddy.Context) (s certmagic.Storage) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	return ctx.Storage()
}

// ledger is a team.Memory saved to Caddy's storage when it changed, every
// period, at each reload (Handler.Cleanup) and when the last config using
// it goes (Destruct: Caddy stopping).
type ledger struct {
	mem     *team.Memory
	storage certmagic.Storage
	key     string
	log     atomic.Pointer[zap.Logger] // the newest config's

	mu        sync.Mutex // one save at a time
	failed    bool       // the last save failed: save again even if unchanged
	afterSave func()     // tests: told after each save that wrote
	stop      chan struct{}
	done      chan struct{}
}

// openLedger loads the saved counts. A missing file is an empty ledger; an
// unreadable one is kept aside as <key>.bad and the ledger starts empty,
// so that a damaged file neither stops Caddy nor is overwritten; a storage
// that cannot be read at all is an error (it would be overwritten).
func openLedger(storage certmagic.Storage, key string, log *zap.Logger, every time.Duration) (*ledger, error) {
	l := &ledger{mem: team.NewMemory(), storage: storage, key: key, stop: make(chan struct{}), done: make(chan struct{})}
	l.log.Store(log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := storage.Load(ctx, key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the usage counts (%s) from storage: %v", key, err)
	default:
		if err := l.mem.Restore(b); err != nil {
			log.Error("usage counts unreadable: kept aside, counting starts from zero", zap.String("key", key), zap.String("kept_as", key+".bad"), zap.Error(err))
			_ = storage.Store(ctx, key+".bad", b) // best effort: the log line above says what was lost
			l.mem = team.NewMemory()
		}
	}
	go l.loop(every)
	return l, nil
}

func (l *ledger) loop(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.save()
		}
	}
}

// save writes the ledger if it changed since the last save.
func (l *ledger) save() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.mem.Dirty() && !l.failed {
		return
	}
	b := l.mem.Snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := l.storage.Store(ctx, l.key, b)
	if err != nil && !l.failed {
		l.log.Load().Error("cannot save the usage counts; retrying every period", zap.String("key", l.key), zap.Error(err))
	}
	l.failed = err != nil
	if l.afterSave != nil {
		l.afterSave()
	}
}

// Destruct saves and stops the timer: the last config using the ledger is
// gone (Caddy stops, or the storage changed).
func (l *ledger) Destruct() error {
	close(l.stop)
	<-l.done
	l.save()
	return nil
}

// redisUsage is the usage store in Redis, on the key pool's connection
// (h.redis), one per connection across reloads: counts held during an
// outage survive a reload.
func (h *Handler) redisUsage(raw string) *team.Redis {
	timeout := durationOr(h.RedisTimeout, tokenpool.DefaultRedisTimeout)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", raw, timeout)))
	key := "poe_openai/usage-redis/" + hex.EncodeToString(sum[:])
	v, _, _ := tokenStates.LoadOrNew(key, func() (caddy.Destructor, error) {
		u := new(redisUsage)
		u.r = team.NewRedis(team.RedisOptions{Client: h.redis.Client(), Timeout: timeout, OnChange: u.changed})
		return u, nil
	})
	h.held = append(h.held, key)
	u := v.(*redisUsage)
	u.log.Store(h.logger)
	return u.r
}

// redisUsage holds the Redis usage store and the logger of the newest
// config, so that an outage is logged once, by whoever is current.
type redisUsage struct {
	r   *team.Redis
	log atomic.Pointer[zap.Logger]
}

// Destruct has nothing to close: the connection is the key pool's, held
// (under the same URL and timeout) by the same handlers.
func (u *redisUsage) Destruct() error { return nil }

func (u *redisUsage) changed(up bool, err error) {
	log := u.log.Load()
	if log == nil {
		return
	}
	if up {
		log.Info("usage store (redis) answers again: budgets are checked again")
		return
	}
	log.Warn("usage store (redis) unreachable: budgets are not checked and counts wait in memory until it answers", zap.Error(err))
}

// saveUsage saves the ledger at a reload (the next config keeps using it).
func (h *Handler) saveUsage() {
	if h.ledger != nil {
		h.ledger.save()
	}
}
