// Package offstack runs deep but short work away from a long-lived
// goroutine's stack.
//
// A stream's goroutine lives as long as the stream and keeps the largest
// stack it ever needed: Go grows stacks by doubling and shrinks one only
// when less than a quarter of it is in use. The deepest moments of a
// request (decoding its JSON, the HTTP/2 round trip to Poe) would take the
// goroutine from 8 to 16 KB for good, about 8 KB more per open stream,
// while the stream itself only ever waits a few frames deep. Run puts
// those moments on a goroutine that ends at once.
package offstack

// Run calls f on a short-lived goroutine and waits for it. A panic in f is
// raised again in the caller, so that the caller's recovery still applies.
func Run(f func()) {
	var panicked any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		f()
	}()
	<-done
	if panicked != nil {
		panic(panicked)
	}
}
