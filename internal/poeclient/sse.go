package poeclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxEventBytes bounds one event's data. Poe caps answers at 100,000
// characters; 16 MB leaves room for data-URL images while keeping a hostile
// or broken upstream from growing memory without limit.
const DefaultMaxEventBytes = 16 << 20

// A stream's own read buffer is small because thousands of streams may be
// open at once; a longer line simply spans several reads. When a read
// fills it, more data is probably waiting, so the next read borrows a
// large buffer from a shared pool and gives it back once consumed: a busy
// stream drains its connection in few reads (and a caller that flushes in
// OnWait writes once per burst), an idle one holds 256 bytes, and no request
// leaves a grown buffer behind as garbage.
const (
	readBufferSize  = 256
	burstBufferSize = 16 << 10
)

var burstBuffers = sync.Pool{New: func() any { b := make([]byte, burstBufferSize); return &b }}

// ErrEventTooLarge is returned when one event exceeds the decoder's limit.
var ErrEventTooLarge = errors.New("poe: SSE event exceeds size limit")

// Decoder reads Server-Sent Events as the WHATWG spec defines them: lines
// end in CRLF, LF or CR; lines starting with ':' are comments; several data
// lines are joined with '\n'; a blank line dispatches the event.
//
// The slices Next returns stay valid only until the next call, so that a
// long stream decodes without allocating per event.
type Decoder struct {
	r      io.Reader
	buf    []byte  // the buffer in use: small, or *burst
	small  []byte  // this stream's own
	burst  *[]byte // borrowed from burstBuffers while reads come in full
	full   bool    // the last read filled buf
	start  int     // unread bytes are buf[start:end]
	end    int
	line   []byte // a line that spans reads
	name   []byte
	data   []byte
	seen   bool // a field was set since the last dispatch
	inData bool // a data line was seen since the last dispatch
	skipLF bool // the last line ended in CR: an LF that follows belongs to it
	max    int
	err    error
	// OnWait, if set, runs right before the decoder blocks on a read: the
	// moment a caller holding output back must flush it.
	OnWait func()
}

// NewDecoder returns a decoder that refuses events over maxEvent bytes
// (DefaultMaxEventBytes when maxEvent <= 0).
func NewDecoder(r io.Reader, maxEvent int) *Decoder {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEventBytes
	}
	small := make([]byte, readBufferSize)
	return &Decoder{r: r, buf: small, small: small, max: maxEvent}
}

// Next returns the next event's name ("message" when unnamed) and data.
// At the end of the stream it returns io.EOF; an incomplete trailing event
// is discarded, as the spec says.
func (d *Decoder) Next() (name, data []byte, err error) {
	d.name, d.data, d.seen, d.inData = d.name[:0], d.data[:0], false, false
	for {
		line, err := d.readLine()
		if err != nil {
			return nil, nil, err
		}
		if len(line) == 0 {
			if !d.seen {
				continue
			}
			if len(d.name) == 0 {
				return messageName, d.data, nil
			}
			return d.name, d.data, nil
		}
		if err := d.field(line); err != nil {
			return nil, nil, err
		}
	}
}

var messageName = []byte("message")

func (d *Decoder) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment, e.g. Poe's ": ping"
	}
	key, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		key, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(key) {
	case "event":
		d.name = append(d.name[:0], value...)
		d.seen = true
	case "data":
		if d.inData {
			d.data = append(d.data, '\n')
		}
		if len(d.data)+len(value) > d.max {
			return d.tooLarge()
		}
		d.data = append(d.data, value...)
		d.seen, d.inData = true, true
	}
	return nil
}

// lineSlack is how much longer than an event's data a line may be: room
// for its field name.
const lineSlack = 64

func (d *Decoder) tooLarge() error { return fmt.Errorf("%w (%d bytes)", ErrEventTooLarge, d.max) }

// readLine returns the next line without its terminator.
func (d *Decoder) readLine() ([]byte, error) {
	d.line = d.line[:0]
	spanning := false
	for {
		if d.start == d.end {
			if err := d.fill(); err != nil {
				if err == io.EOF && spanning {
					return nil, io.EOF // a line without terminator at EOF is incomplete
				}
				return nil, err
			}
		}
		if d.skipLF {
			d.skipLF = false
			if d.buf[d.start] == '\n' {
				d.start++
				continue
			}
		}
		b := d.buf[d.start:d.end]
		i := bytes.IndexByte(b, '\n')
		lim := b
		if i >= 0 {
			lim = b[:i]
		}
		if j := bytes.IndexByte(lim, '\r'); j >= 0 {
			i = j
			d.skipLF = true
		}
		// The limit applies to every line, whether it came in one read or
		// several: where reads end must not change what is accepted.
		if i < 0 {
			if len(d.line)+len(b) > d.max+lineSlack {
				return nil, d.tooLarge()
			}
			d.line = append(d.line, b...)
			d.start = d.end
			spanning = true
			continue
		}
		if len(d.line)+i > d.max+lineSlack {
			return nil, d.tooLarge()
		}
		d.start += i + 1
		if !spanning {
			return b[:i], nil
		}
		d.line = append(d.line, b[:i]...)
		return d.line, nil
	}
}

func (d *Decoder) fill() error {
	if d.err != nil {
		return d.err
	}
	d.start, d.end = 0, 0
	// buf is consumed: swap buffers as the last read suggests.
	switch {
	case d.full && d.burst == nil:
		d.burst = burstBuffers.Get().(*[]byte)
		d.buf = *d.burst
	case !d.full && d.burst != nil:
		d.release()
	}
	if d.OnWait != nil {
		d.OnWait()
	}
	for d.end == 0 {
		n, err := d.r.Read(d.buf)
		d.end = n
		d.full = n == len(d.buf)
		if err != nil {
			d.err = err
			if n == 0 {
				return err
			}
		}
	}
	return nil
}

// release gives a borrowed burst buffer back.
func (d *Decoder) release() {
	if d.burst != nil {
		burstBuffers.Put(d.burst)
		d.burst, d.buf = nil, d.small
	}
}

// Close gives back a borrowed buffer; the decoder must not be used after.
func (d *Decoder) Close() { d.release() }
