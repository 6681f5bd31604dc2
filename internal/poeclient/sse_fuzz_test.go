package poeclient

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeTrace runs a decoder to its end and prints what it saw, error
// included, so that two runs compare as strings.
func decodeTrace(r io.Reader, max int) string {
	d := NewDecoder(r, max)
	defer d.Close()
	var b strings.Builder
	for {
		name, data, err := d.Next()
		if err != nil {
			fmt.Fprintf(&b, "error %v", err)
			return b.String()
		}
		fmt.Fprintf(&b, "%q %q\n", name, data)
	}
}

// FuzzDecoderReadBoundaries checks that where reads end never changes what
// the decoder returns: a connection may split Poe's bytes anywhere.
func FuzzDecoderReadBoundaries(f *testing.F) {
	f.Add([]byte(v1Body), uint16(0))
	f.Add([]byte(v1Body), uint16(8))
	f.Add([]byte("event: x\ndata: a\ndata: b\r\n\r\ndata: c\r\r"), uint16(3))
	f.Add([]byte(": "+strings.Repeat("c", 100)+"\n\ndata: 1\n\n"), uint16(10))
	f.Add([]byte("event: "+strings.Repeat("n", 100)+"\ndata: 1\n\n"), uint16(1))
	f.Fuzz(func(t *testing.T, body []byte, max uint16) {
		limit := int(max) // 0 means the default
		whole := decodeTrace(bytes.NewReader(body), limit)
		bytewise := decodeTrace(iotest.OneByteReader(bytes.NewReader(body)), limit)
		halves := decodeTrace(io.MultiReader(bytes.NewReader(body[:len(body)/2]), bytes.NewReader(body[len(body)/2:])), limit)
		if whole != bytewise || whole != halves {
			t.Fatalf("limit %d\nwhole:\n%s\none byte per read:\n%s\nin halves:\n%s", limit, whole, bytewise, halves)
		}
	})
}

// Issue 12: a line longer than the limit passed when it came in one read
// and failed when it came in several.
func TestDecoderLineLimitIgnoresReadBoundaries(t *testing.T) {
	for _, body := range []string{
		": " + strings.Repeat("c", 200) + "\n\ndata: 1\n\n",    // a long comment
		"event: " + strings.Repeat("n", 200) + "\ndata: 1\n\n", // a long event name
		"id: " + strings.Repeat("7", 200) + "\r\ndata: 1\r\n\r\n",
	} {
		whole := decodeTrace(strings.NewReader(body), 10)
		bytewise := decodeTrace(iotest.OneByteReader(strings.NewReader(body)), 10)
		if whole != bytewise || !strings.Contains(whole, ErrEventTooLarge.Error()) {
			t.Errorf("%.20q…: whole %q, one byte per read %q", body, whole, bytewise)
		}
	}
}
