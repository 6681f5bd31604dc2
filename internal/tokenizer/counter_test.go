package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// feed adds s to c in random deltas of 1 to maxDelta bytes, which often cut
// runes in two, and checks each running total against Count of the text so far.
func feed(t *testing.T, c *Counter, s string, r *rand.Rand, maxDelta int) (maxPending int) {
	t.Helper()
	for i := 0; i < len(s); {
		j := min(len(s), i+1+r.IntN(maxDelta))
		got := c.Add(s[i:j])
		if c.counted == len(c.pending) { // Add retokenised the tail: exact
			if want := Count(s[:j]); got != want {
				t.Fatalf("after Add(%q) at %d: running total %d, Count %d", s[i:j], j, got, want)
			}
		}
		maxPending = max(maxPending, len(c.pending))
		i = j
	}
	return maxPending
}

func TestCounterRandomSplits(t *testing.T) {
	texts := append([]string{corpus, strings.Join(cases, ""), strings.Join(cases, " ")}, cases...)
	r := rand.New(rand.NewPCG(1, 2))
	var c Counter
	for _, s := range texts {
		for _, maxDelta := range []int{1, 3, 8, 40} {
			c.Reset()
			maxPending := feed(t, &c, s, r, maxDelta)
			if got, want := c.Total(), Count(s); got != want {
				t.Fatalf("Total() = %d, Count = %d for %.40q in deltas of up to %d", got, want, s, maxDelta)
			}
			if maxPending >= longTail {
				t.Errorf("pending tail grew to %d bytes on ordinary text", maxPending)
			}
		}
	}
}

// TestCounterLongTail feeds long unbroken runs in small deltas: the tail is
// one growing piece, retokenised only as it grows by a quarter.
func TestCounterLongTail(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("a", 200_000) + " the end",
		strings.Repeat("x", 300) + strings.Repeat(" ", 5000) + "\n" + strings.Repeat("中文", 20_000) + "。",
	} {
		var c Counter
		start := time.Now()
		last := 0
		for i := 0; i < len(s); i += 3 {
			last = c.Add(s[i:min(i+3, len(s))])
		}
		took := time.Since(start)
		want := Count(s)
		if got := c.Total(); got != want {
			t.Errorf("Total() = %d, want %d", got, want)
		}
		t.Logf("%d bytes in 3-byte deltas: %v; last running total %d, final %d", len(s), took, last, want)
		if !raceEnabled && took > time.Second {
			t.Errorf("took %v", took)
		}
	}
}

func TestCounterReset(t *testing.T) {
	var c Counter
	c.Add("hello wor")
	c.Reset()
	if c.Total() != 0 {
		t.Fatal("Reset did not empty the counter")
	}
	if got, want := c.Add("hello world"), Count("hello world"); got != want {
		t.Fatalf("Add after Reset = %d, want %d", got, want)
	}
	var zero Counter
	if zero.Total() != 0 || zero.Add("") != 0 {
		t.Fatal("zero Counter not empty")
	}
}

// TestCounterTailCanShrink pins down the example in Add's documentation.
func TestCounterTailCanShrink(t *testing.T) {
	var c Counter
	got := []int{c.Add("wor"), c.Add("l"), c.Add("d")}
	if got[0] != 1 || got[1] != 2 || got[2] != 1 {
		t.Errorf("running totals %v, want [1 2 1]", got)
	}
}
