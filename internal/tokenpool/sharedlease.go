package tokenpool

import "time"

// sharedLease is what a Lease from a Shared pool carries: its id in Redis.
type sharedLease struct {
	s  *Shared
	i  int // token index in s
	id string
}

// release ends the lease in Redis and wakes waiters everywhere. If Redis
// is down the lease simply expires there after the lease TTL.
func (sl *sharedLease) release(l *Lease) {
	s := sl.s
	if !s.track {
		return // nothing in Redis to end, and nobody waits on it
	}
	s.r.unhold(l)
	k := s.keys[4*sl.i:]
	_, _ = s.r.run(releaseScript, []string{k[2], k[3]}, "", sl.id, wakeChannel, s.hashes[sl.i])
}

// reached starts the cool-down from Poe's acknowledgement, cluster-wide.
func (sl *sharedLease) reached() {
	s := sl.s
	k := s.keys[4*sl.i:]
	_, _ = s.r.run(reachedScript, []string{k[1], k[3]}, s.r.nowArg(), sl.id, s.keepMs, wakeChannel, s.hashes[sl.i])
}

// until extends cooling ("cool") or quarantine ("quar") in Redis. A
// failure is fine: the local token has it, and a cluster of N then meets
// Poe's refusal at most N times.
func (sl *sharedLease) until(field string, d time.Duration, reason string) {
	s := sl.s
	_, _ = s.r.run(untilScript, []string{s.keys[4*sl.i+1]}, s.r.nowArg(), field, micros(max(d, 0)), reason)
}

// hold registers a tracked lease for renewal; the first one arms the
// renewal timer.
func (r *Redis) hold(l *Lease) {
	r.mu.Lock()
	r.live[l] = struct{}{}
	if r.renew == nil && !r.closed {
		r.renew = r.clock.AfterFunc(r.leaseTTL/3, r.renewAll)
	}
	r.mu.Unlock()
}

func (r *Redis) unhold(l *Lease) {
	r.mu.Lock()
	delete(r.live, l)
	r.mu.Unlock()
}

// renewAll pushes the expiry of every live lease of this process in one
// script call, every third of the TTL, while any is live: a running
// stream keeps its slot, a dead process loses it within the TTL.
func (r *Redis) renewAll() {
	r.mu.Lock()
	r.renew = nil
	if r.closed || len(r.live) == 0 {
		r.mu.Unlock()
		return
	}
	keys := make([]string, 0, 2*len(r.live))
	args := make([]any, 0, 2+len(r.live))
	args = append(args, r.nowArg(), micros(r.leaseTTL))
	for l := range r.live {
		k := l.sh.s.keys[4*l.sh.i:]
		keys = append(keys, k[2], k[3])
		args = append(args, l.sh.id)
	}
	r.renew = r.clock.AfterFunc(r.leaseTTL/3, r.renewAll)
	r.mu.Unlock()
	if r.Up() {
		_, _ = r.run(renewScript, keys, args...)
	}
}
