package poefake

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// Request is what the fake received on /bot/<name>, recorded for assertions.
// Header and Body are shared with the Server's record: treat them as read-only.
type Request struct {
	Bot      string
	Token    string // bearer from Authorization ("Bearer x" -> "x")
	Header   http.Header
	Body     []byte                 // raw JSON body
	Query    poeclient.QueryRequest // parsed body
	Received time.Time
	Attempt  int // 1-based count of requests this bot has received so far, including this one
}

// Requests returns the recorded /bot/ requests in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recordsLocked())
}

// recordsLocked is the visible part of the records (see Options.MaxRecords).
func (s *Server) recordsLocked() []Request {
	if n := s.opts.MaxRecords; n > 0 && len(s.records) > n {
		return s.records[len(s.records)-n:]
	}
	return s.records
}

// RequestsFor returns the recorded requests for one bot, in arrival order.
func (s *Server) RequestsFor(bot string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.recordsLocked() {
		if r.Bot == bot {
			out = append(out, r)
		}
	}
	return out
}

// Starts returns the arrival times of all /bot/ requests made with token,
// including those answered 401, 400 or 429.
func (s *Server) Starts(token string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.starts[token])
}

// Violations returns the protocol violations seen so far, oldest first.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Reset clears what was recorded: requests, per-bot attempt counters,
// starts, rate-limit history, violations, uploads (and their stored bytes),
// the model-list hit count and the balance reads. Bots, token behaviours,
// balances, framing and pending FailUploads are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = nil
	s.attempts = map[string]int{}
	s.starts = map[string][]time.Time{}
	s.admitted = map[string][]time.Time{}
	s.violations = nil
	s.uploads = nil
	s.files = map[string]storedFile{}
	s.modelHits = 0
	s.balanceReads = map[string]int{}
}

// violate records a protocol violation; the caller holds s.mu.
func (s *Server) violateLocked(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *Server) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violateLocked(format, args...)
}

// MaxInWindow returns the largest number of times that fit in one interval
// [t, t+window) of the given length. The input is not modified.
func MaxInWindow(times []time.Time, window time.Duration) int {
	if window <= 0 || len(times) == 0 {
		return 0
	}
	ts := sortedCopy(times)
	best, j := 0, 0
	// Some best interval starts at a recorded time, so slide its start over ts.
	for i := range ts {
		end := ts[i].Add(window)
		if j < i {
			j = i
		}
		for j < len(ts) && ts[j].Before(end) {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// MinGap returns the smallest gap between consecutive times (after sorting);
// 0 if there are fewer than two.
func MinGap(times []time.Time) time.Duration {
	if len(times) < 2 {
		return 0
	}
	ts := sortedCopy(times)
	gap := ts[1].Sub(ts[0])
	for i := 2; i < len(ts); i++ {
		gap = min(gap, ts[i].Sub(ts[i-1]))
	}
	return gap
}

func sortedCopy(times []time.Time) []time.Time {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts
}
