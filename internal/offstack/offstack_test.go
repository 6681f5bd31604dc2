package offstack

import (
	"runtime"
	"testing"
)

func TestRunWaitsAndReturns(t *testing.T) {
	x := 0
	Run(func() { x = 42 })
	if x != 42 {
		t.Fatal("f did not run before Run returned")
	}
}

func TestRunRepanics(t *testing.T) {
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v", p)
		}
	}()
	Run(func() { panic("boom") })
	t.Fatal("no panic")
}

//go:noinline
func deep(n int) int {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deep(n-1) + int(pad[n%512])
}

// The point of Run: deep work leaves the caller's stack small.
func TestRunKeepsCallerStackSmall(t *testing.T) {
	const n = 200
	measure := func(work func()) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		stop := make(chan struct{})
		for range n {
			ready := make(chan struct{})
			go func() { work(); close(ready); <-stop }()
			<-ready
		}
		runtime.ReadMemStats(&after)
		close(stop)
		return float64(after.StackInuse-before.StackInuse) / n
	}
	inline := measure(func() { deep(40) }) // about 20 KB deep
	off := measure(func() { Run(func() { deep(40) }) })
	if off*2 > inline {
		t.Fatalf("stack per goroutine: %.0f B inline, %.0f B with Run", inline, off)
	}
}
