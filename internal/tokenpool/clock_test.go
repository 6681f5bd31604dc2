package tokenpool

import (
	"testing"
	"time"
)

func TestFakeClockRunsTimersInOrder(t *testing.T) {
	c := NewFakeClock(t0)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(t0).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, func() {
		at("a")()
		c.AfterFunc(time.Second, at("nested")) // due within the same Advance
	})
	c.AfterFunc(2*time.Second, at("b"))
	stopped := c.AfterFunc(2500*time.Millisecond, at("stopped"))
	if c.Timers() != 4 {
		t.Fatalf("Timers = %d", c.Timers())
	}
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report pending once")
	}
	c.Advance(5 * time.Second)
	want := []string{"a@1s", "b@2s", "nested@2s", "c@3s"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if !c.Now().Equal(t0.Add(5*time.Second)) || c.Timers() != 0 {
		t.Fatalf("now %v timers %d", c.Now(), c.Timers())
	}
}

func TestFakeClockSet(t *testing.T) {
	c := NewFakeClock(t0)
	fired := 0
	tm := c.AfterFunc(time.Minute, func() { fired++ })
	c.Set(t0.Add(-time.Hour)) // backwards: nothing fires
	if fired != 0 || c.Timers() != 1 {
		t.Fatal("timer fired going backwards")
	}
	c.Set(t0.Add(time.Minute))
	if fired != 1 || tm.Stop() {
		t.Fatalf("fired %d", fired)
	}
	c.AfterFunc(0, func() { fired++ }) // due now: runs at the next Advance
	if fired != 1 {
		t.Fatal("zero timer ran synchronously")
	}
	c.Advance(0)
	if fired != 2 {
		t.Fatal("zero timer did not run")
	}
}

func TestSystemClock(t *testing.T) {
	c := SystemClock()
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	recv(t, done)
	if c.AfterFunc(time.Hour, func() {}).Stop() != true {
		t.Fatal("Stop")
	}
}
