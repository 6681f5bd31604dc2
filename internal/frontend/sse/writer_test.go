package sse

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func event(name, data string) func([]byte) []byte {
	return func(dst []byte) []byte { return AppendEvent(dst, name, []byte(data)) }
}

func TestHeldEventsLeaveAtFlush(t *testing.T) {
	rec := httptest.NewRecorder()
	s := New(rec, 0, nil)
	defer s.Close()
	s.HoldFlushes()
	s.Append(event("a", "1"))
	s.Append(event("b", "2"))
	if rec.Body.Len() != 0 || !s.Started() {
		t.Fatalf("held events were written: %q", rec.Body.String())
	}
	s.Flush()
	if got := rec.Body.String(); got != "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n" {
		t.Fatalf("got %q", got)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	s.End(event("z", "end"))
	if !strings.HasSuffix(rec.Body.String(), "event: z\ndata: end\n\n") {
		t.Fatalf("end not written: %q", rec.Body.String())
	}
	if s.Append(event("late", "x")) != nil || strings.Contains(rec.Body.String(), "late") {
		t.Fatal("an event after End was written")
	}
}

func TestFailBeforeAndAfterStart(t *testing.T) {
	rec := httptest.NewRecorder()
	s := New(rec, 0, nil)
	if !s.Fail(func(w http.ResponseWriter) { w.WriteHeader(502) }, event("error", "x")) || rec.Code != 502 {
		t.Fatalf("before start: code %d", rec.Code)
	}
	s.Close()

	rec = httptest.NewRecorder()
	s = New(rec, 0, nil)
	s.Append(event("a", "1"))
	if s.Fail(func(w http.ResponseWriter) { t.Fatal("HTTP error after start") }, event("error", "boom")) {
		t.Fatal("asHTTP after start")
	}
	if !strings.HasSuffix(rec.Body.String(), "event: error\ndata: boom\n\n") {
		t.Fatalf("got %q", rec.Body.String())
	}
	s.Close()
}

func TestKeepAliveUsesPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := httptest.NewRecorder()
		pings := 0
		s := New(rec, 15*time.Second, func(dst []byte) []byte {
			pings++
			return AppendEvent(dst, "ping", []byte(`{"type":"ping"}`))
		})
		time.Sleep(31 * time.Second)
		synctest.Wait()
		s.Close()
		if pings != 2 || strings.Count(rec.Body.String(), "event: ping\n") != 2 || s.FirstWrite().IsZero() {
			t.Fatalf("pings %d, body %q", pings, rec.Body.String())
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if pings != 2 {
			t.Fatal("keep-alive after Close")
		}
	})
}
