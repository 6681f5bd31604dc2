package status

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"time"
)

//go:embed page.html
var pageFS embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"at":    at,
	"num":   num,
	"pct":   pct,
	"level": level,
}).ParseFS(pageFS, "page.html"))

// WriteHTML writes the status page: one self-contained document (inline
// CSS, an inline SVG chart drawn here, no scripts), so that it works
// offline and behind any proxy. It reloads itself every RefreshSeconds.
func WriteHTML(w io.Writer, s *Snapshot) error {
	v := pageView{Snapshot: s, Refresh: RefreshSeconds}
	for i := range s.Handlers {
		v.Charts = append(v.Charts, drawChart(&s.Handlers[i], s.Generated))
	}
	return page.Execute(w, v)
}

// RefreshSeconds is the page's reload interval.
const RefreshSeconds = 10

type pageView struct {
	*Snapshot
	Refresh int
	Charts  []chart // one per handler, same order
}

// at shows an instant as a UTC clock time and how far it is from now.
func at(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	d := t.Sub(now).Round(time.Second)
	rel := "now"
	switch {
	case d > 0:
		rel = "in " + d.String()
	case d < 0:
		rel = (-d).String() + " ago"
	}
	return t.UTC().Format("Jan 2 15:04:05") + " UTC (" + rel + ")"
}

// num writes a count short: 1234 -> 1.2k.
func num(n int64) string {
	f := float64(n)
	switch a := math.Abs(f); {
	case a >= 1e9:
		return strconv.FormatFloat(f/1e9, 'f', 1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(f/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(f/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatInt(n, 10)
}

// pct is how full a budget is, 0..100, as a CSS width.
func pct(b Budget) string {
	p := 100.0
	if b.Limit > 0 {
		p = min(100*float64(b.Used)/float64(b.Limit), 100)
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// level is a budget's colour class.
func level(b Budget) string {
	switch {
	case b.Used >= b.Limit:
		return "over"
	case float64(b.Used) >= 0.8*float64(b.Limit):
		return "warn"
	}
	return "ok"
}

// chart is the stacked bar chart of one handler's tokens per day per
// client, in SVG user units.
type chart struct {
	W, H   int
	Bars   []bar
	XTicks []tick
	YTicks []tick
	Legend []legend
	Left   int
	Bottom int
	Right  int
	Empty  bool
	MidX   int // where "no usage" goes
	MidY   int
}

type bar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type tick struct {
	X, Y  float64
	Label string
}

type legend struct {
	Color string
	Name  string
}

// palette is distinguishable on white and for most colour blindness.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

func drawChart(h *Handler, now time.Time) chart {
	const w, ht, left, right, top, bottom = 720, 240, 56, 12, 12, 52
	c := chart{W: w, H: ht, Left: left, Right: w - right, Bottom: ht - bottom, MidX: (left + w - right) / 2, MidY: (top + ht - bottom) / 2}
	today := now.UTC().Truncate(24 * time.Hour)
	days := make([]string, ChartDays)
	for i := range days {
		days[i] = today.AddDate(0, 0, i-ChartDays+1).Format(time.DateOnly)
	}
	totals := make([]int64, ChartDays)
	per := make([]map[string]int64, len(h.Clients))
	for ci, cl := range h.Clients {
		per[ci] = map[string]int64{}
		for _, d := range cl.Daily {
			per[ci][d.Date] += d.Tokens
		}
		for i, d := range days {
			totals[i] += per[ci][d]
		}
	}
	var top64 int64
	for _, t := range totals {
		top64 = max(top64, t)
	}
	c.Empty = top64 == 0
	scale := niceCeil(top64)
	plotH := float64(ht - top - bottom)
	slot := float64(w-left-right) / ChartDays
	for i, d := range days {
		x := float64(left) + float64(i)*slot
		if i%2 == 1 || i == ChartDays-1 {
			c.XTicks = append(c.XTicks, tick{X: x + slot/2, Y: float64(ht-bottom) + 16, Label: d[5:]})
		}
		y := float64(ht - bottom)
		for ci, cl := range h.Clients {
			n := per[ci][d]
			if n == 0 {
				continue
			}
			bh := plotH * float64(n) / float64(scale)
			y -= bh
			c.Bars = append(c.Bars, bar{X: x + slot*0.15, Y: y, W: slot * 0.7, H: bh,
				Color: palette[ci%len(palette)], Title: fmt.Sprintf("%s %s: %d tokens", cl.Name, d, n)})
		}
	}
	for _, f := range []int64{0, 2, 4} {
		v := scale * f / 4
		c.YTicks = append(c.YTicks, tick{X: float64(left - 6), Y: float64(ht-bottom) - plotH*float64(f)/4, Label: num(v)})
	}
	for ci, cl := range h.Clients {
		c.Legend = append(c.Legend, legend{Color: palette[ci%len(palette)], Name: cl.Name})
	}
	return c
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 10),
// so that the axis reads in round numbers.
func niceCeil(n int64) int64 {
	p := int64(1)
	for {
		for _, m := range []int64{1, 2, 5} {
			if v := m * p; v >= n && v >= 10 {
				return v
			}
		}
		p *= 10
	}
}
