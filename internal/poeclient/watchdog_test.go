package poeclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// pipePoe answers every request with an event stream that script writes
// through a pipe. Like a real connection, a consumer that stops reading
// holds Poe's writes back, and cancelling the request fails its reads.
type pipePoe func(ctx context.Context, w io.Writer) error

func (script pipePoe) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	pr, pw := io.Pipe()
	ctx := req.Context()
	context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	go func() { pw.CloseWithError(script(ctx, pw)) }()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: pr, Request: req}, nil
}

func pipeClient(script pipePoe) *Client {
	return &Client{HTTP: &http.Client{Transport: script}, BaseURL: "http://poe.test", IdleTimeout: 2 * time.Second}
}

const textEvent = "event: text\ndata: {\"text\": \"x\"}\n\n"

// sleep is Poe pausing; it ends early when the request is cancelled, so
// that no script outlives its test.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func write(w io.Writer, s string) error {
	_, err := io.WriteString(w, s)
	return err
}

// Issue 12: the idle timer ran while the consumer was busy (writing to a
// slow client, counting tokens), and cancelled Poe while Poe streamed.
func TestIdleTimeoutIgnoresASlowConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := pipeClient(func(ctx context.Context, w io.Writer) error {
			for range 5 {
				if err := sleep(ctx, time.Second); err != nil { // an event every second: well within 2 s
					return err
				}
				if err := write(w, textEvent); err != nil {
					return err
				}
			}
			return write(w, "event: done\ndata: {}\n\n")
		})
		s, err := c.Query(t.Context(), "Bot", "k", NewQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		time.Sleep(5 * time.Second) // busy before the first read
		n := 0
		for {
			if _, err = s.Next(); err != nil {
				break
			}
			n++
			time.Sleep(5 * time.Second) // a slow client: 5 s per event
		}
		if err != io.EOF || !s.Done() || n != 5 {
			t.Fatalf("%d events, then %v", n, err)
		}
	})
}

func TestIdleTimeoutMeasuresPoesSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := pipeClient(func(ctx context.Context, w io.Writer) error {
			if err := write(w, textEvent); err != nil {
				return err
			}
			return sleep(ctx, time.Hour)
		})
		s, err := c.Query(t.Context(), "Bot", "k", NewQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // the consumer's own time does not count...
		start := time.Now()
		_, err = s.Next()
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != KindTimeout || !errors.Is(err, ErrIdleTimeout) || pe.Message != "Poe did not answer in time" {
			t.Fatalf("err = %#v", err)
		}
		if waited := time.Since(start); waited != 2*time.Second { // ...Poe's does
			t.Fatalf("timed out after %v of Poe's silence, want 2s", waited)
		}
	})
}

func TestIdleTimeoutBeforeHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hangs := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		})
		c := &Client{HTTP: &http.Client{Transport: hangs}, BaseURL: "http://poe.test", IdleTimeout: 3 * time.Second}
		start := time.Now()
		_, err := c.Query(t.Context(), "Bot", "k", NewQuery(nil))
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != KindTimeout || time.Since(start) != 3*time.Second {
			t.Fatalf("after %v: %#v", time.Since(start), err)
		}
	})
}

// Issue 12: an upstream that only pings held a request forever, since
// every ping re-armed the idle timer.
func TestPingsAloneDoNotHoldARequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := pipeClient(func(ctx context.Context, w io.Writer) error {
			if err := write(w, textEvent); err != nil {
				return err
			}
			for range 600 { // ten minutes of pings (a bound, so that the old code ends)
				if err := sleep(ctx, time.Second); err != nil {
					return err
				}
				if err := write(w, ": ping\n\nevent: ping\ndata: {}\n\n"); err != nil {
					return err
				}
			}
			return write(w, "event: done\ndata: {}\n\n")
		})
		s, err := c.Query(t.Context(), "Bot", "k", NewQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		for err == nil {
			_, err = s.Next()
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != KindTimeout || !errors.Is(err, ErrNoContent) {
			t.Fatalf("err = %#v", err)
		}
		// The default cap is 5 × IdleTimeout of Poe's time without content.
		if d := time.Since(start); d != 10*time.Second {
			t.Fatalf("gave up after %v, want 10s", d)
		}
	})
}

func TestContentKeepsARequestAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := pipeClient(func(ctx context.Context, w io.Writer) error {
			for range 60 { // a minute: pings, and content every 3 s
				for _, ev := range []string{": ping\n\n", ": ping\n\n", textEvent} {
					if err := sleep(ctx, time.Second); err != nil {
						return err
					}
					if err := write(w, ev); err != nil {
						return err
					}
				}
			}
			return write(w, "event: done\ndata: {}\n\n")
		})
		c.MaxSilence = 4 * time.Second
		s, err := c.Query(t.Context(), "Bot", "k", NewQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		n := 0
		for {
			if _, err = s.Next(); err != nil {
				break
			}
			n++
			time.Sleep(10 * time.Second) // a slow consumer's time is not silence either
		}
		if err != io.EOF || n != 60 {
			t.Fatalf("%d events, then %v", n, err)
		}

		c.MaxSilence = -1 // none
		c.IdleTimeout = 2 * time.Second
		c.HTTP = &http.Client{Transport: pipePoe(func(ctx context.Context, w io.Writer) error {
			for range 100 {
				if err := sleep(ctx, time.Second); err != nil {
					return err
				}
				if err := write(w, ": ping\n\n"); err != nil {
					return err
				}
			}
			return write(w, "event: done\ndata: {}\n\n")
		})}
		s, err = c.Query(t.Context(), "Bot", "k", NewQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Next(); err != io.EOF || !s.Done() {
			t.Fatalf("MaxSilence < 0: %v", err)
		}
	})
}
