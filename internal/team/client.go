package team

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Unit is what a budget counts.
type Unit string

// The units.
const (
	Tokens   Unit = "tokens" // prompt + completion, as usage reports them
	Requests Unit = "requests"
)

// Budget caps a client's use per calendar period.
type Budget struct {
	Limit  int64  `json:"limit"`
	Unit   Unit   `json:"unit"`
	Period Period `json:"per"`
}

// String reads like the Caddyfile: "1000 tokens per day" ("1 request").
func (b Budget) String() string {
	unit := string(b.Unit)
	if b.Limit == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return fmt.Sprintf("%d %s per %s", b.Limit, unit, b.Period)
}

// ParseBudget reads `<n> tokens|requests per day|week|month`.
func ParseBudget(args []string) (Budget, error) {
	if len(args) != 4 || args[2] != "per" {
		return Budget{}, fmt.Errorf("budget reads <n> tokens|requests per day|week|month")
	}
	n, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || n < 0 {
		return Budget{}, fmt.Errorf("budget: %q is not a whole number >= 0", args[0])
	}
	b := Budget{Limit: n, Unit: Unit(args[1]), Period: Period(args[3])}
	return b, b.Validate()
}

// Validate checks the unit, period and limit.
func (b Budget) Validate() error {
	if b.Unit != Tokens && b.Unit != Requests {
		return fmt.Errorf("budget: %q is not tokens or requests", string(b.Unit))
	}
	if _, _, err := b.Period.Window(timeZero); err != nil {
		return fmt.Errorf("budget: %v", err)
	}
	if b.Limit < 0 {
		return fmt.Errorf("budget: the limit must not be negative")
	}
	return nil
}

// Client is a named client: the keys it sends, and its limits.
type Client struct {
	// Name shows in logs, metrics and the status page instead of a key.
	Name string `json:"name"`
	// Keys are the client's keys (secrets; placeholders resolved by the host).
	Keys []string `json:"keys,omitempty"`
	// RateLimit is requests per minute; 0 uses the host's default.
	RateLimit int `json:"rate_limit,omitempty"`
	// Budgets are checked before each request; all must have room.
	Budgets []Budget `json:"budgets,omitempty"`
	// Models are the allowed model names, globs allowed; none = all.
	Models []string `json:"models,omitempty"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Reserved names label requests that have no named client.
const (
	Anonymous   = "anonymous"   // the API is open (no client keys)
	Passthrough = "passthrough" // the client's own Poe key
)

// ValidName reports whether name may name a client.
func ValidName(name string) bool {
	return validName.MatchString(name) && name != Anonymous && name != Passthrough
}

// Validate checks a client's settings (not its keys, which may still be
// placeholders).
func (c *Client) Validate() error {
	if !ValidName(c.Name) {
		return fmt.Errorf("client %q: a name is [A-Za-z0-9_.-]+ and not %s or %s", c.Name, Anonymous, Passthrough)
	}
	if c.RateLimit < 0 {
		return fmt.Errorf("client %s: rate_limit must not be negative", c.Name)
	}
	for _, b := range c.Budgets {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("client %s: %v", c.Name, err)
		}
	}
	for _, m := range c.Models {
		if _, err := path.Match(m, ""); err != nil || m == "" {
			return fmt.Errorf("client %s: models: %q is not a valid glob", c.Name, m)
		}
	}
	return nil
}

// Allows reports whether the client may ask for model (case-insensitive).
func (c *Client) Allows(model string) bool {
	if len(c.Models) == 0 {
		return true
	}
	lower := strings.ToLower(model)
	for _, m := range c.Models {
		if ok, _ := path.Match(strings.ToLower(m), lower); ok {
			return true
		}
	}
	return false
}
