package poeclient

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type sseEvent struct{ name, data string }

func decodeAll(t *testing.T, r io.Reader, max int) ([]sseEvent, error) {
	t.Helper()
	d := NewDecoder(r, max)
	var out []sseEvent
	for {
		name, data, err := d.Next()
		if err != nil {
			return out, err
		}
		out = append(out, sseEvent{string(name), string(data)})
	}
}

// v1Body is vector V1's exact bytes (sse-starlette, CRLF, ping comment).
const v1Body = "event: text\r\ndata: {\"text\": \"Hello\"}\r\n\r\nevent: text\r\ndata: {\"text\": \" caf\\u00e9!\"}\r\n\r\n: ping - 2025-01-01 00:00:00.000000+00:00\r\n\r\nevent: done\r\ndata: {}\r\n\r\n"

func TestDecoderLineEndings(t *testing.T) {
	want := []sseEvent{
		{"text", `{"text": "Hello"}`},
		{"text", `{"text": " caf\u00e9!"}`},
		{"done", `{}`},
	}
	for _, sep := range []string{"\r\n", "\n", "\r"} {
		body := strings.ReplaceAll(v1Body, "\r\n", sep)
		// Every split point: a CR at the end of one read and its LF at the
		// start of the next must still be one line ending.
		for cut := 0; cut <= len(body); cut++ {
			r := io.MultiReader(strings.NewReader(body[:cut]), strings.NewReader(body[cut:]))
			got, err := decodeAll(t, r, 0)
			if err != io.EOF {
				t.Fatalf("sep %q cut %d: err %v", sep, cut, err)
			}
			if !equalEvents(got, want) {
				t.Fatalf("sep %q cut %d: got %q", sep, cut, got)
			}
		}
		got, err := decodeAll(t, iotest.OneByteReader(strings.NewReader(body)), 0)
		if err != io.EOF || !equalEvents(got, want) {
			t.Fatalf("sep %q one byte at a time: %q %v", sep, got, err)
		}
	}
}

func equalEvents(a, b []sseEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecoderFields(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []sseEvent
	}{
		{"multi-line data joined with LF", "event: x\ndata: a\ndata: b\ndata:\n\n", []sseEvent{{"x", "a\nb\n"}}},
		{"no space after colon", "event:x\ndata:{}\n\n", []sseEvent{{"x", "{}"}}},
		{"only one leading space stripped", "data:  two\n\n", []sseEvent{{"message", " two"}}},
		{"comments and id/retry ignored", ": hi\nid: 7\nretry: 10\nevent: t\n: mid\ndata: 1\n\n", []sseEvent{{"t", "1"}}},
		{"unnamed event is message", "data: {}\n\n", []sseEvent{{"message", "{}"}}},
		{"event without data dispatches", "event: done\n\n", []sseEvent{{"done", ""}}},
		{"blank lines between events", "\n\n\nevent: a\ndata: 1\n\n\n\nevent: b\ndata: 2\n\n", []sseEvent{{"a", "1"}, {"b", "2"}}},
		{"field without colon", "data\n\n", []sseEvent{{"message", ""}}},
		{"incomplete event at EOF dropped", "event: a\ndata: 1\n\nevent: b\ndata: 2\n", []sseEvent{{"a", "1"}}},
		{"colon in value kept", "data: {\"a\": \"b:c\"}\n\n", []sseEvent{{"message", `{"a": "b:c"}`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll(t, strings.NewReader(tt.body), 0)
			if err != io.EOF {
				t.Fatalf("err = %v", err)
			}
			if !equalEvents(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecoderLargeEvents(t *testing.T) {
	big := strings.Repeat("x", 3<<20) // 3 MB: far beyond the read buffer
	got, err := decodeAll(t, strings.NewReader("event: text\r\ndata: "+big+"\r\n\r\n"), 0)
	if err != io.EOF || len(got) != 1 || got[0].data != big {
		t.Fatalf("3 MB event: err %v, %d events", err, len(got))
	}

	// Over the limit: an error, and memory stays near the limit rather
	// than growing with the hostile stream.
	_, err = decodeAll(t, io.LimitReader(endless('y'), 64<<20), 1<<20)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized line: err = %v", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("z", 1000)+"\n", 2000) + "\n"
	_, err = decodeAll(t, strings.NewReader(many), 1<<20)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized multi-line event: err = %v", err)
	}
}

func TestDecoderDefaultLimitIs16MB(t *testing.T) {
	d := NewDecoder(strings.NewReader(""), 0)
	if d.max != 16<<20 {
		t.Fatalf("default limit %d", d.max)
	}
	_, _, err := NewDecoder(io.LimitReader(endless('q'), 17<<20), 0).Next()
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("17 MB line: %v", err)
	}
}

type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

func TestDecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("event: text\ndata: 1\n\nevent: te"), iotest.ErrReader(boom))
	got, err := decodeAll(t, r, 0)
	if !errors.Is(err, boom) || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func BenchmarkDecoder(b *testing.B) {
	var body bytes.Buffer
	for range 1000 {
		body.WriteString("event: text\r\ndata: {\"text\": \"0123456789abcdef\"}\r\n\r\n")
	}
	b.ReportAllocs()
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(body.Bytes()), 0)
		for {
			if _, _, err := d.Next(); err != nil {
				break
			}
		}
	}
}

// pieces returns its chunks one Read at a time, and counts the Reads.
type pieces struct {
	chunks []string
	reads  int
}

func (p *pieces) Read(b []byte) (int, error) {
	p.reads++
	if len(p.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.chunks[0])
	p.chunks = p.chunks[1:]
	return n, nil
}

func TestDecoderOnWaitBeforeEachBlockingRead(t *testing.T) {
	ev := "event: text\r\ndata: {\"text\": \"x\"}\r\n\r\n"
	// Three events in one read, then one event split over two reads.
	src := &pieces{chunks: []string{ev + ev + ev, ev[:10], ev[10:]}}
	d := NewDecoder(src, 0)
	waits := 0
	d.OnWait = func() { waits++ }
	var at []int // waits seen when each event came out
	for {
		if _, _, err := d.Next(); err != nil {
			break
		}
		at = append(at, waits)
	}
	// One wait before the first read, none between the three buffered
	// events, one before each of the two later reads, one before EOF.
	if len(at) != 4 || at[0] != 1 || at[1] != 1 || at[2] != 1 || at[3] != 3 || waits != 4 || src.reads != 4 {
		t.Fatalf("waits at events %v, total %d, reads %d", at, waits, src.reads)
	}
}

// chunks returns one chunk per Read.
type chunked struct{ parts []string }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	if n < len(c.parts[0]) {
		c.parts[0] = c.parts[0][n:]
	} else {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func TestDecoderBorrowsABurstBufferWhileReadsComeFull(t *testing.T) {
	ev := "event: text\ndata: {\"text\": \"0123456789abcdef\"}\n\n"
	burst := strings.Repeat(ev, 200) // ~10 KB arriving at once
	d := NewDecoder(&chunked{parts: []string{burst, ev, ev}}, 0)
	var sizes []int
	for {
		if _, _, err := d.Next(); err != nil {
			break
		}
		sizes = append(sizes, len(d.buf))
	}
	if len(sizes) != 202 {
		t.Fatalf("%d events", len(sizes))
	}
	// The first read fills 1 KB; the rest of the burst comes through the
	// borrowed 16 KB buffer; the quiet reads after it use 1 KB again.
	if sizes[0] != readBufferSize || sizes[199] != burstBufferSize || sizes[201] != readBufferSize || d.burst != nil {
		t.Fatalf("buffer sizes: first %d, in burst %d, after %d (borrowed %v)", sizes[0], sizes[199], sizes[201], d.burst != nil)
	}
	d2 := NewDecoder(&chunked{parts: []string{burst}}, 0)
	for range 30 {
		d2.Next()
	}
	if d2.burst == nil {
		t.Fatal("no burst buffer in the middle of a burst")
	}
	d2.Close()
	if d2.burst != nil || len(d2.buf) != readBufferSize {
		t.Fatal("Close kept the borrowed buffer")
	}
}
