package status

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func sample() *Snapshot {
	var daily []Day
	for i := range ChartDays {
		daily = append(daily, Day{Date: now.AddDate(0, 0, i-ChartDays+1).Format(time.DateOnly), Requests: 2, Tokens: int64(100 * (i + 1))})
	}
	return &Snapshot{Generated: now, Handlers: []Handler{{
		ID: 1, Site: "srv0 localhost", PointsFloor: 10, PointsCheck: "10m0s",
		Keys: []Key{
			{Fingerprint: "aaaa1111", State: "ready", StartsInWindow: 3, InFlight: 1, Points: ptr(int64(5000)), PointsAt: ptr(now)},
			{Fingerprint: "bbbb2222", State: "quarantined", Reason: "insufficient_points", Until: ptr(now.Add(20 * time.Minute)), Points: ptr(int64(0))},
			{Fingerprint: "cccc3333", State: "cooling", Until: ptr(now.Add(30 * time.Second)), LastError: "rate limited <by Poe>", LastErrorAt: ptr(now)},
		},
		Clients: []Client{
			{Name: "alice", Today: Usage{Requests: 2, Tokens: 1400}, Month: Usage{Requests: 20, Tokens: 9000},
				Budgets:   []Budget{{Budget: "1000 tokens per day", Limit: 1000, Unit: "tokens", Per: "day", Used: 1400, Left: 0, Resets: now.Add(12 * time.Hour)}},
				RateLimit: 60, RateUsed: 2, Daily: daily},
			{Name: "bob", Daily: daily[:3]},
		},
	}}}
}

func TestStatusJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Handlers []struct {
			Keys []struct {
				Fingerprint, State, Reason string
				Until                      *time.Time
				Points                     *int64
				StartsInWindow             int    `json:"starts_in_window"`
				InFlight                   int    `json:"in_flight"`
				LastError                  string `json:"last_error"`
			}
			Clients []struct {
				Name    string
				Budgets []struct{ Left, Used int64 }
				Today   struct{ Tokens int64 }
				Daily   []struct{ Date string }
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	h := got.Handlers[0]
	k := h.Keys[1]
	if k.State != "quarantined" || k.Reason != "insufficient_points" || k.Until == nil || k.Points == nil || *k.Points != 0 {
		t.Fatalf("key %+v", k)
	}
	if h.Keys[0].StartsInWindow != 3 || h.Keys[0].InFlight != 1 || h.Keys[2].LastError == "" {
		t.Fatalf("keys %+v", h.Keys)
	}
	if !strings.Contains(b.String(), `"points": 0`) {
		t.Fatal("a known balance of 0 must show, not be omitted")
	}
	c := h.Clients[0]
	if c.Name != "alice" || c.Budgets[0].Left != 0 || c.Budgets[0].Used != 1400 || c.Today.Tokens != 1400 || len(c.Daily) != ChartDays {
		t.Fatalf("client %+v", c)
	}
}

func TestStatusHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		`<table class="keys">`, `<table class="clients">`, `<svg class="chart" id="chart-1"`,
		`data-fingerprint="bbbb2222" data-state="quarantined"`, `state-quarantined`, `state-cooling`, `state-ready`,
		`insufficient_points`, `data-name="alice"`, `fill over`, `style="width: 100.0%"`,
		`1000 tokens per day: 0 left`, `rate limited &lt;by Poe&gt;`, `alice 2026-03-14: 1400 tokens`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: no scripts, no stylesheets or fonts fetched, no
	// URLs but the SVG namespace.
	// The chart's rects take their size from their attributes: no CSS
	// rule may name them.
	if strings.Contains(page, ".bar ") || strings.Contains(page, "rect {") {
		t.Error("CSS styles the chart's bars")
	}
	for _, bad := range []string{"<script", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"' ]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("page refers to %s", u)
		}
	}
	// One bar per client per day with use: 14 for alice, 3 for bob.
	if n := strings.Count(page, `<rect class="bar"`); n != ChartDays+3 {
		t.Errorf("%d bars, want %d", n, ChartDays+3)
	}
	if strings.Contains(page, "no usage in these days") {
		t.Error("chart with data says it has none")
	}
}

func TestStatusHTMLEmpty(t *testing.T) {
	var b bytes.Buffer
	s := &Snapshot{Generated: now, Handlers: []Handler{{ID: 1, PointsCheck: "off"}}}
	if err := WriteHTML(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No pool keys", "No named clients", "no usage in these days", `<svg class="chart"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	b.Reset()
	if err := WriteHTML(&b, &Snapshot{Generated: now}); err != nil || !strings.Contains(b.String(), "No poe_openai handler") {
		t.Fatalf("%v %s", err, b.String())
	}
}

func TestStatusChartScale(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{{0, 10}, {7, 10}, {11, 20}, {1400, 2000}, {2001, 5000}, {5000, 5000}, {50001, 100000}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	// The tallest stack fits the plot exactly when the total is round.
	h := Handler{Clients: []Client{{Name: "a", Daily: []Day{{Date: "2026-03-14", Tokens: 1000}}}, {Name: "b", Daily: []Day{{Date: "2026-03-14", Tokens: 1000}}}}}
	c := drawChart(&h, now)
	if len(c.Bars) != 2 || c.Bars[1].Y < 11.9 || c.Bars[1].Y > 12.1 || c.Bars[0].H+c.Bars[1].H < 175.9 {
		t.Fatalf("bars %+v", c.Bars)
	}
}
