package team

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Memory is a Store in this process's memory. Days older than KeepDays
// before the newest day written are dropped as days go by.
type Memory struct {
	mu     sync.Mutex
	days   map[Day]map[string]map[string]Counts // day -> client -> model
	newest Day
	dirty  bool
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{days: map[Day]map[string]map[string]Counts{}} }

// Add counts c for client and model on day.
func (m *Memory) Add(day Day, client, model string, c Counts) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if day > m.newest {
		m.newest = day
		m.prune()
	}
	if day <= m.newest-KeepDays {
		return nil // too old to keep
	}
	cl := m.days[day]
	if cl == nil {
		cl = map[string]map[string]Counts{}
		m.days[day] = cl
	}
	mo := cl[client]
	if mo == nil {
		mo = map[string]Counts{}
		cl[client] = mo
	}
	mo[model] = mo[model].Add(c)
	m.dirty = true
	return nil
}

// prune drops the days that fell out of KeepDays. Caller holds mu.
func (m *Memory) prune() {
	for d := range m.days {
		if d <= m.newest-KeepDays {
			delete(m.days, d)
		}
	}
}

// Range implements Store.
func (m *Memory) Range(client string, from, to Day) (map[Day]map[string]Counts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[Day]map[string]Counts{}
	for d := from; d <= to; d++ {
		if mo := m.days[d][client]; len(mo) > 0 {
			cp := make(map[string]Counts, len(mo))
			for k, v := range mo {
				cp[k] = v
			}
			out[d] = cp
		}
	}
	return out, nil
}

// Dirty reports whether anything was added since the last Snapshot, so
// that a host saves only when there is something new.
func (m *Memory) Dirty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dirty
}

// snapshot is the saved form: readable JSON, days as 2006-01-02.
type snapshot struct {
	Version int                                     `json:"version"`
	Days    map[string]map[string]map[string]Counts `json:"days"`
}

// Snapshot returns every kept day as bytes for the host to save.
func (m *Memory) Snapshot() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := snapshot{Version: 1, Days: make(map[string]map[string]map[string]Counts, len(m.days))}
	for d, cl := range m.days {
		s.Days[d.String()] = cl
	}
	b, _ := json.Marshal(s) // maps of strings and numbers always marshal
	m.dirty = false
	return b
}

// Restore adds a snapshot's counts to the store (which is normally empty:
// at start, before any request). Days too old are skipped.
func (m *Memory) Restore(b []byte) error {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("usage snapshot: %v", err)
	}
	if s.Version != 1 {
		return fmt.Errorf("usage snapshot: version %d is not 1", s.Version)
	}
	for ds, cl := range s.Days {
		d, err := ParseDay(ds)
		if err != nil {
			return fmt.Errorf("usage snapshot: day %q: %v", ds, err)
		}
		for client, mo := range cl {
			for model, c := range mo {
				_ = m.Add(d, client, model, c) // Memory never fails
			}
		}
	}
	return nil
}
