package tokenpool

import (
	"fmt"
	"testing"
	"time"
)

func TestKeyLimiterWindow(t *testing.T) {
	c := NewFakeClock(t0)
	k := NewKeyLimiter(2, c)
	allow := func(key string, wantOK bool, wantRetry time.Duration) {
		t.Helper()
		ok, retry := k.Allow(key)
		if ok != wantOK || retry != wantRetry {
			t.Fatalf("Allow(%s) at +%v = %v, %v; want %v, %v", key, c.Now().Sub(t0), ok, retry, wantOK, wantRetry)
		}
	}
	allow("a", true, 0)
	c.Advance(10 * time.Second)
	allow("a", true, 0)
	c.Advance(10 * time.Second)
	allow("a", false, 40*time.Second)
	allow("b", true, 0) // keys are independent
	c.Set(t0.Add(Window - 1))
	allow("a", false, 1)
	c.Set(t0.Add(Window))
	allow("a", true, 0)
	allow("a", false, 10*time.Second) // next frees when t0+10s is 60 s old
}

func TestKeyLimiterUnlimited(t *testing.T) {
	k := NewKeyLimiter(0, NewFakeClock(t0))
	for i := 0; i < 1000; i++ {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatal("refused")
		}
	}
	if k.Len() != 0 {
		t.Fatal("unlimited limiter keeps state")
	}
}

func TestKeyLimiterBoundedMemory(t *testing.T) {
	c := NewFakeClock(t0)
	k := NewKeyLimiter(1, c)
	k.Allow("a")
	k.Allow("b")
	c.Advance(Window)
	k.Allow("c")
	if k.Len() != 1 {
		t.Fatalf("idle keys kept: Len = %d", k.Len())
	}
	k.max = 3
	for i := 0; i < 10; i++ {
		k.Allow(fmt.Sprint(i))
	}
	if k.Len() != 3 {
		t.Fatalf("Len = %d, want 3", k.Len())
	}
	// The surviving key kept its window.
	if ok, _ := k.Allow("9"); ok {
		t.Fatal("window lost")
	}
}

func TestKeyLimiterDestruct(t *testing.T) {
	if NewKeyLimiter(1, nil).Destruct() != nil {
		t.Fatal("Destruct")
	}
}
