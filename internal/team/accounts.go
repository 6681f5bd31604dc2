package team

import (
	"fmt"
	"time"
)

// Accounts checks budgets and records usage in a Store.
type Accounts struct {
	Store Store
	Now   func() time.Time // nil = time.Now; tests step a fake clock
}

func (a *Accounts) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// Refusal says which budget refused a request and until when.
type Refusal struct {
	Budget     Budget
	Used       int64
	Resets     time.Time
	RetryAfter time.Duration
}

// Message names the budget and its reset, for the client.
func (r *Refusal) Message(client string) string {
	return fmt.Sprintf("Client %s has used its budget of %s (%d used); it resets at %s.",
		client, r.Budget, r.Used, r.Resets.Format(time.RFC3339))
}

// Check returns the first budget of c that has no room left, or nil.
// A store error lets the request through: an outage of the shared state
// must not stop the team, and the host logs it.
func (a *Accounts) Check(c *Client) (*Refusal, error) {
	if len(c.Budgets) == 0 {
		return nil, nil
	}
	now := a.now()
	uses, err := a.uses(c, now)
	if err != nil {
		return nil, err
	}
	for _, u := range uses {
		if u.Used >= u.Limit {
			return &Refusal{Budget: u.Budget, Used: u.Used, Resets: u.Resets, RetryAfter: u.Resets.Sub(now)}, nil
		}
	}
	return nil, nil
}

// BudgetUse is a budget with what its current window used.
type BudgetUse struct {
	Budget
	Used   int64     `json:"used"`
	Left   int64     `json:"left"`
	Resets time.Time `json:"resets"`
}

// uses reads each budget's current window with one Range call.
func (a *Accounts) uses(c *Client, now time.Time) ([]BudgetUse, error) {
	today := DayOf(now)
	from := today
	type win struct{ from, to Day }
	wins := make([]win, len(c.Budgets))
	ends := make([]time.Time, len(c.Budgets))
	for i, b := range c.Budgets {
		start, end, err := b.Period.Window(now)
		if err != nil {
			return nil, err
		}
		wins[i] = win{DayOf(start), DayOf(end) - 1}
		ends[i] = end
		from = min(from, wins[i].from)
	}
	days, err := a.Store.Range(c.Name, from, today)
	if err != nil {
		return nil, err
	}
	out := make([]BudgetUse, len(c.Budgets))
	for i, b := range c.Budgets {
		var used int64
		for d, mo := range days {
			if d >= wins[i].from && d <= wins[i].to {
				for _, cnt := range mo {
					used += cnt.Of(b.Unit)
				}
			}
		}
		out[i] = BudgetUse{Budget: b, Used: used, Left: max(b.Limit-used, 0), Resets: ends[i]}
	}
	return out, nil
}

// Record counts one request's use for client and model today.
func (a *Accounts) Record(client, model string, c Counts) error {
	return a.Store.Add(DayOf(a.now()), client, model, c)
}

// Summary is what the status page shows of one client.
type Summary struct {
	Today   Counts      `json:"today"`
	Month   Counts      `json:"month"`
	Budgets []BudgetUse `json:"budgets,omitempty"`
	// Daily is the last n days, oldest first, summed over models.
	Daily []DayCounts `json:"daily,omitempty"`
}

// DayCounts is one day of a client's use.
type DayCounts struct {
	Day Day `json:"-"`
	Counts
}

// Summarize reads a client's use: today, this month, its budgets and the
// last days days (at most KeepDays).
func (a *Accounts) Summarize(c *Client, days int) (Summary, error) {
	now := a.now()
	today := DayOf(now)
	mstart, _, _ := PerMonth.Window(now)
	days = min(max(days, 1), KeepDays)
	from := min(DayOf(mstart), today-Day(days-1))
	got, err := a.Store.Range(c.Name, from, today)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	sum := func(d Day) Counts {
		var t Counts
		for _, cnt := range got[d] {
			t = t.Add(cnt)
		}
		return t
	}
	s.Today = sum(today)
	for d := DayOf(mstart); d <= today; d++ {
		s.Month = s.Month.Add(sum(d))
	}
	for d := today - Day(days-1); d <= today; d++ {
		s.Daily = append(s.Daily, DayCounts{Day: d, Counts: sum(d)})
	}
	if s.Budgets, err = a.uses(c, now); err != nil {
		return Summary{}, err
	}
	return s, nil
}
