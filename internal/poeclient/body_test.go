package poeclient

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestPooledBodyIsGivenBackOnceReadToItsEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(b *pooledBody) (string, error)
	}{
		{"Read", func(b *pooledBody) (string, error) {
			var sb strings.Builder
			p := make([]byte, 3) // several reads, as a transport copies in frames
			for {
				n, err := b.Read(p)
				sb.Write(p[:n])
				if err == io.EOF {
					return sb.String(), nil
				}
				if err != nil {
					return sb.String(), err
				}
			}
		}},
		{"WriteTo", func(b *pooledBody) (string, error) {
			var sb strings.Builder
			_, err := b.WriteTo(&sb)
			return sb.String(), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var given []*bytes.Buffer
			defer func(orig func(*bytes.Buffer)) { putBody = orig }(putBody)
			putBody = func(buf *bytes.Buffer) { given = append(given, buf) }

			buf := bytes.NewBufferString(`{"query":[]}`)
			b := &pooledBody{Reader: bytes.NewReader(buf.Bytes()), buf: buf}
			if _, err := b.Read(make([]byte, 2)); err != nil || len(given) != 0 {
				t.Fatalf("given back after a partial read (err %v, %d given)", err, len(given))
			}
			got, err := tc.read(b)
			if err != nil || "{\""+got != `{"query":[]}` {
				t.Fatalf("read %q, %v", got, err)
			}
			if len(given) != 1 || given[0] != buf {
				t.Fatalf("given back %d times, want once, right after the last byte", len(given))
			}
			// The transport may read again or close it later: nothing more happens.
			if n, err := b.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("read after the end: %d, %v", n, err)
			}
			b.Close()
			if len(given) != 1 {
				t.Fatalf("given back %d times after Close", len(given))
			}
		})
	}
}

func TestPooledBodyClosedEarlyIsGivenBack(t *testing.T) {
	var given int
	defer func(orig func(*bytes.Buffer)) { putBody = orig }(putBody)
	putBody = func(*bytes.Buffer) { given++ }
	buf := bytes.NewBufferString("abc")
	b := &pooledBody{Reader: bytes.NewReader(buf.Bytes()), buf: buf}
	b.Close()
	b.Close()
	if given != 1 {
		t.Fatalf("given back %d times, want 1", given)
	}
}
