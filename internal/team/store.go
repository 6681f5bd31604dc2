package team

// Counts are what a client did with a model on a day.
type Counts struct {
	Requests   int64 `json:"requests,omitempty"`
	Errors     int64 `json:"errors,omitempty"` // answered with a status >= 400
	Prompt     int64 `json:"prompt_tokens,omitempty"`
	Completion int64 `json:"completion_tokens,omitempty"`
}

// Tokens is prompt plus completion.
func (c Counts) Tokens() int64 { return c.Prompt + c.Completion }

// Add sums two counts.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Requests + o.Requests, c.Errors + o.Errors, c.Prompt + o.Prompt, c.Completion + o.Completion}
}

// Of reads the figure a budget counts.
func (c Counts) Of(u Unit) int64 {
	if u == Requests {
		return c.Requests
	}
	return c.Tokens()
}

// KeepDays is how many days of usage a store keeps, today included: a
// month's budget needs 31, the rest is for the people reading it.
const KeepDays = 35

// Store keeps usage per day, client and model. Errors are the store's
// (a network); Memory never fails.
type Store interface {
	Add(day Day, client, model string, c Counts) error
	// Range returns a client's counts per day and model for the days
	// from..to, both included; days without use may be absent.
	Range(client string, from, to Day) (map[Day]map[string]Counts, error)
}
