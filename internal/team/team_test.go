package team

import (
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindows(t *testing.T) {
	for _, c := range []struct {
		p          Period
		at         string
		start, end string
	}{
		{PerDay, "2026-12-02T23:59:59.999Z", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z"},
		{PerDay, "2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"},
		// 2026-12-06 is a Sunday: its week began on Monday the 1st.
		{PerWeek, "2026-12-06T23:00:00Z", "2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z"},
		{PerWeek, "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z"},
		{PerWeek, "2027-01-01T12:00:00Z", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{PerMonth, "2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{PerMonth, "2028-02-29T10:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		// Another zone's wall clock does not matter: windows are UTC.
		{PerDay, "2026-12-02T23:30:00-05:00", "2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"},
	} {
		s, e, err := c.p.Window(at(c.at))
		if err != nil || !s.Equal(at(c.start)) || !e.Equal(at(c.end)) {
			t.Errorf("%s at %s: [%s, %s) %v, want [%s, %s)", c.p, c.at, s, e, err, c.start, c.end)
		}
	}
	if _, _, err := Period("year").Window(time.Now()); err == nil {
		t.Error("year accepted")
	}
}

func TestParseBudget(t *testing.T) {
	b, err := ParseBudget(strings.Fields("1000 tokens per day"))
	if err != nil || b != (Budget{1000, Tokens, PerDay}) || b.String() != "1000 tokens per day" {
		t.Fatalf("%+v %v", b, err)
	}
	for _, bad := range []string{"10 tokens day", "x requests per week", "-1 requests per week", "5 points per day", "5 requests per year", "5 requests per"} {
		if _, err := ParseBudget(strings.Fields(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClientValidateAndModels(t *testing.T) {
	c := Client{Name: "alice.b-2_x", Models: []string{"gpt-4o", "claude-*"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]bool{"gpt-4o": true, "GPT-4o": true, "claude-sonnet-4-5": true, "gpt-5": false, "": false} {
		if c.Allows(m) != want {
			t.Errorf("Allows(%q) = %v", m, !want)
		}
	}
	if !(&Client{Name: "x"}).Allows("anything") {
		t.Error("no models must allow all")
	}
	for _, bad := range []Client{{Name: "a b"}, {Name: ""}, {Name: Anonymous}, {Name: "x", Models: []string{"[a"}}, {Name: "x", RateLimit: -1},
		{Name: "x", Budgets: []Budget{{1, "points", PerDay}}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// Each budget kind refuses once used up, with Retry-After until the end of
// its calendar window, and lets requests through again right at the
// boundary.
func TestBudgetsAtBoundaries(t *testing.T) {
	for _, c := range []struct {
		b       Budget
		start   string // some time inside the window
		use     Counts // recorded once per step
		steps   int    // requests until refused
		resets  string
		nextWin string
	}{
		{Budget{100, Tokens, PerDay}, "2026-12-02T23:59:00Z", Counts{Requests: 1, Prompt: 30, Completion: 20}, 2, "2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z"},
		{Budget{3, Requests, PerDay}, "2026-12-02T10:00:00Z", Counts{Requests: 1}, 3, "2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z"},
		{Budget{2, Requests, PerWeek}, "2026-12-06T23:59:59Z", Counts{Requests: 1}, 2, "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z"},
		{Budget{1000, Tokens, PerWeek}, "2026-12-01T00:00:00Z", Counts{Requests: 1, Prompt: 999, Completion: 2}, 1, "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z"},
		{Budget{2, Requests, PerMonth}, "2026-12-31T23:00:00Z", Counts{Requests: 1}, 2, "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Budget{10, Tokens, PerMonth}, "2026-11-30T12:00:00Z", Counts{Requests: 1, Completion: 10}, 1, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"},
	} {
		clk := &clock{at(c.start)}
		a := &Accounts{Store: NewMemory(), Now: clk.now}
		cl := &Client{Name: "alice", Budgets: []Budget{c.b}}
		for i := 0; i < c.steps; i++ {
			if r, err := a.Check(cl); r != nil || err != nil {
				t.Fatalf("%s: request %d refused: %+v %v", c.b, i, r, err)
			}
			a.Record("alice", "gpt-4o", c.use)
		}
		r, _ := a.Check(cl)
		if r == nil {
			t.Fatalf("%s: not refused after %d requests", c.b, c.steps)
		}
		if !r.Resets.Equal(at(c.resets)) || r.RetryAfter != at(c.resets).Sub(clk.t) || r.Budget != c.b {
			t.Errorf("%s: refusal %+v", c.b, r)
		}
		if msg := r.Message("alice"); !strings.Contains(msg, c.b.String()) || !strings.Contains(msg, c.resets) {
			t.Errorf("message %q", msg)
		}
		clk.t = at(c.nextWin).Add(-time.Nanosecond)
		if r, _ := a.Check(cl); r == nil {
			t.Errorf("%s: let through a nanosecond before the boundary", c.b)
		}
		clk.t = at(c.nextWin)
		if r, _ := a.Check(cl); r != nil {
			t.Errorf("%s: still refused at the boundary: %+v", c.b, r)
		}
	}
}

// Every budget must have room; other clients' use does not count.
func TestSeveralBudgetsAndClients(t *testing.T) {
	clk := &clock{at("2026-12-02T12:00:00Z")}
	a := &Accounts{Store: NewMemory(), Now: clk.now}
	cl := &Client{Name: "bob", Budgets: []Budget{{1000, Tokens, PerDay}, {2, Requests, PerMonth}}}
	a.Record("carol", "m", Counts{Requests: 50, Prompt: 5000})
	a.Record("bob", "m", Counts{Requests: 1, Prompt: 10})
	a.Record("bob", "other", Counts{Requests: 1, Prompt: 10})
	r, _ := a.Check(cl)
	if r == nil || r.Budget.Unit != Requests || r.Used != 2 {
		t.Fatalf("refusal %+v", r)
	}
	if r, _ := a.Check(&Client{Name: "bob"}); r != nil {
		t.Fatal("a client without budgets was refused")
	}
}

func TestKeepsDays(t *testing.T) {
	clk := &clock{at("2026-12-02T12:00:00Z")}
	m := NewMemory()
	a := &Accounts{Store: m, Now: clk.now}
	for i := 0; i < 40; i++ {
		a.Record("alice", "m", Counts{Requests: 1})
		clk.t = clk.t.Add(24 * time.Hour)
	}
	clk.t = clk.t.Add(-24 * time.Hour)
	today := DayOf(clk.t)
	got, _ := m.Range("alice", today-100, today)
	if len(got) != KeepDays {
		t.Fatalf("kept %d days, want %d", len(got), KeepDays)
	}
	if _, ok := got[today-KeepDays+1]; !ok {
		t.Error("the oldest day kept is missing")
	}
	// A day already dropped is not written again.
	m.Add(today-KeepDays, "alice", "m", Counts{Requests: 1})
	if got, _ := m.Range("alice", today-KeepDays, today-KeepDays); len(got) != 0 {
		t.Error("wrote a day older than KeepDays")
	}
}

func TestSnapshotRestore(t *testing.T) {
	clk := &clock{at("2026-12-02T12:00:00Z")}
	m := NewMemory()
	a := &Accounts{Store: m, Now: clk.now}
	a.Record("alice", "gpt-4o", Counts{Requests: 2, Errors: 1, Prompt: 10, Completion: 20})
	clk.t = clk.t.Add(-48 * time.Hour)
	a.Record("bob", "claude-*", Counts{Requests: 1, Completion: 5})
	if !m.Dirty() {
		t.Fatal("not dirty after Add")
	}
	snap := m.Snapshot()
	if m.Dirty() {
		t.Fatal("dirty after Snapshot")
	}
	m2 := NewMemory()
	if err := m2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	d := DayOf(at("2026-12-02T00:00:00Z"))
	got, _ := m2.Range("alice", d, d)
	if got[d]["gpt-4o"] != (Counts{2, 1, 10, 20}) {
		t.Errorf("alice: %+v", got)
	}
	got, _ = m2.Range("bob", d-2, d)
	if got[d-2]["claude-*"] != (Counts{Requests: 1, Completion: 5}) {
		t.Errorf("bob: %+v", got)
	}
	if string(m2.Snapshot()) != string(snap) {
		t.Error("a restored store snapshots differently")
	}
	for _, bad := range []string{"", "{", `{"version":2}`, `{"version":1,"days":{"yesterday":{}}}`} {
		if NewMemory().Restore([]byte(bad)) == nil {
			t.Errorf("restored %q", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	clk := &clock{at("2026-12-02T12:00:00Z")}
	a := &Accounts{Store: NewMemory(), Now: clk.now}
	cl := &Client{Name: "alice", Budgets: []Budget{{100, Tokens, PerDay}}}
	clk.t = at("2026-11-30T12:00:00Z") // last month
	a.Record("alice", "m", Counts{Requests: 1, Prompt: 1000})
	clk.t = at("2026-12-01T12:00:00Z")
	a.Record("alice", "m", Counts{Requests: 1, Prompt: 7})
	clk.t = at("2026-12-02T12:00:00Z")
	a.Record("alice", "m", Counts{Requests: 1, Prompt: 30})
	a.Record("alice", "n", Counts{Requests: 1, Errors: 1, Completion: 10})
	s, err := a.Summarize(cl, 14)
	if err != nil {
		t.Fatal(err)
	}
	if s.Today != (Counts{2, 1, 30, 10}) || s.Month.Requests != 3 || s.Month.Tokens() != 47 {
		t.Errorf("today %+v month %+v", s.Today, s.Month)
	}
	if len(s.Daily) != 14 || s.Daily[13].Tokens() != 40 || s.Daily[11].Tokens() != 1000 || s.Daily[13].Day != DayOf(clk.t) {
		t.Errorf("daily %+v", s.Daily)
	}
	if len(s.Budgets) != 1 || s.Budgets[0].Used != 40 || s.Budgets[0].Left != 60 || !s.Budgets[0].Resets.Equal(at("2026-12-03T00:00:00Z")) {
		t.Errorf("budgets %+v", s.Budgets)
	}
}
