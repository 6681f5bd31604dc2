package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file checks answers. The fast path scans each line for the few
// fields it needs without allocating, since the load generator shares two
// cores with what it measures; a sample of answers is also decoded in full
// with encoding/json ("strict") to check the whole shape.

// lineReader returns lines without their "\n" or "\r\n", reusing its
// buffer: a returned line is valid until the next call. (The fake and Caddy
// never frame with a bare "\r".)
type lineReader struct {
	br   *bufio.Reader
	long []byte // a line longer than br's buffer
}

func (l *lineReader) reset(r io.Reader) {
	if l.br == nil {
		l.br = bufio.NewReaderSize(r, 4096)
	} else {
		l.br.Reset(r)
	}
}

func (l *lineReader) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		l.long = append(l.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// findValue returns the raw JSON value after the first `"key":` in data
// (blanks allowed around the colon), or nil. In valid JSON a quote inside a
// string is escaped, so a match is always a real key; the callers look up
// keys that occur once in the answers they check.
func findValue(data []byte, key string) []byte {
	for from := 0; ; {
		i := bytes.Index(data[from:], []byte(key))
		if i < 0 {
			return nil
		}
		i += from
		from = i + 1
		if i == 0 || data[i-1] != '"' || i+len(key) >= len(data) || data[i+len(key)] != '"' {
			continue
		}
		j := skipBlanks(data, i+len(key)+1)
		if j >= len(data) || data[j] != ':' {
			continue
		}
		return rawValue(data[skipBlanks(data, j+1):])
	}
}

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// rawValue cuts the string or literal (null, true, number) at the start of b.
func rawValue(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if b[0] == '"' {
		for i := 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return b[:i+1]
			}
		}
		return nil // unterminated
	}
	i := 0
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' {
		i++
	}
	return b[:i]
}

var errNotString = errors.New("not a JSON string")

// unquote decodes the JSON string raw; it does not use the module's
// internal/jsonstr on purpose, as the checker must not share code with
// what it checks. Without escapes it returns the bytes
// inside the quotes (no copy); otherwise it decodes into (*scratch)[:0].
func unquote(raw []byte, scratch *[]byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, errNotString
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	out := (*scratch)[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i >= len(s) {
			return nil, errNotString
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return nil, errNotString
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+3); ok && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, errNotString
		}
	}
	*scratch = out
	return out, nil
}

func hex4(s []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// answerCheck compares one answer, piece by piece, with the expected text.
type answerCheck struct {
	want     []byte
	off      int       // bytes of want matched so far
	pieces   int       // non-empty content pieces received
	firstAt  time.Time // when the first content piece was read
	onFirst  func()    // called once, at the first content piece
	finished bool      // finish_reason "stop" (OpenAI) or event done (Poe)
	done     bool      // data: [DONE] (OpenAI) or event done (Poe)
	scratch  []byte
	strict   *strictState // non-nil: also decode every event with encoding/json
}

func (c *answerCheck) reset(want []byte, onFirst func(), strict bool) {
	*c = answerCheck{want: want, onFirst: onFirst, scratch: c.scratch[:0]}
	if strict {
		c.strict = &strictState{}
	}
}

func (c *answerCheck) content(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if c.finished {
		return fmt.Errorf("content %q after the end of the answer", clip(p))
	}
	if c.off+len(p) > len(c.want) || !bytes.Equal(c.want[c.off:c.off+len(p)], p) {
		return fmt.Errorf("content at byte %d is %q, want %q", c.off, clip(p), clip(c.want[c.off:min(len(c.want), c.off+len(p))]))
	}
	if c.pieces == 0 {
		c.firstAt = time.Now()
		if c.onFirst != nil {
			c.onFirst()
		}
	}
	c.off += len(p)
	c.pieces++
	return nil
}

// complete is called at the end of the body.
func (c *answerCheck) complete() error {
	switch {
	case c.off != len(c.want):
		return fmt.Errorf("answer ended after %d of %d bytes", c.off, len(c.want))
	case !c.finished:
		return errors.New("no finish (finish_reason stop / event done)")
	case !c.done:
		return errors.New("no data: [DONE]")
	}
	return nil
}

// openAILine checks one line of a chat.completion.chunk stream.
func (c *answerCheck) openAILine(line []byte) error {
	if len(line) == 0 || line[0] == ':' { // event end, keep-alive comment
		return nil
	}
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return fmt.Errorf("unexpected line %q", clip(line))
	}
	data = bytes.TrimPrefix(data, []byte(" "))
	if c.done {
		return fmt.Errorf("%q after [DONE]", clip(line))
	}
	if string(data) == "[DONE]" {
		if !c.finished {
			return errors.New("[DONE] before a finish_reason")
		}
		c.done = true
		return nil
	}
	if obj := findValue(data, "object"); string(obj) != `"chat.completion.chunk"` {
		return fmt.Errorf("not a chat.completion.chunk: %q", clip(data))
	}
	var content, finish []byte
	if raw := findValue(data, "content"); raw != nil && string(raw) != "null" {
		var err error
		if content, err = unquote(raw, &c.scratch); err != nil {
			return fmt.Errorf("content %q: %v", clip(raw), err)
		}
	}
	if raw := findValue(data, "finish_reason"); raw != nil && string(raw) != "null" {
		if string(raw) != `"stop"` {
			return fmt.Errorf("finish_reason %s, want \"stop\"", raw)
		}
		finish = raw
	}
	if c.strict != nil {
		if err := c.strict.chunk(data, content, finish != nil); err != nil {
			return err
		}
	}
	if err := c.content(content); err != nil {
		return err
	}
	if finish != nil {
		c.finished = true
	}
	return nil
}

// completion checks a non-streaming chat.completion body.
func (c *answerCheck) completion(body []byte) error {
	if obj := findValue(body, "object"); string(obj) != `"chat.completion"` {
		return fmt.Errorf("not a chat.completion: %q", clip(body))
	}
	raw := findValue(body, "content")
	content, err := unquote(raw, &c.scratch)
	if err != nil {
		return fmt.Errorf("content %q: %v", clip(raw), err)
	}
	if fr := findValue(body, "finish_reason"); string(fr) != `"stop"` {
		return fmt.Errorf("finish_reason %s, want \"stop\"", fr)
	}
	if c.strict != nil {
		if err := strictCompletion(body, content); err != nil {
			return err
		}
	}
	if err := c.content(content); err != nil {
		return err
	}
	c.finished, c.done = true, true
	return nil
}

// poeStream decodes Poe's SSE (event:/data: lines, blank line ends an
// event) and checks the text events.
type poeStream struct {
	event [32]byte
	nameN int
	data  []byte
	lines int  // data: lines in the current event
	any   bool // a field was seen since the last dispatch
}

func (p *poeStream) reset() { p.nameN, p.data, p.lines, p.any = 0, p.data[:0], 0, false }

func (p *poeStream) line(c *answerCheck, line []byte) error {
	switch {
	case len(line) == 0:
		if !p.any {
			return nil
		}
		err := p.dispatch(c)
		p.reset()
		return err
	case line[0] == ':':
		return nil
	}
	field, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(field) {
	case "event":
		p.nameN = copy(p.event[:], value)
	case "data":
		if p.lines > 0 {
			p.data = append(p.data, '\n')
		}
		p.data = append(p.data, value...)
		p.lines++
	default:
		return nil // id:, retry:
	}
	p.any = true
	return nil
}

func (p *poeStream) dispatch(c *answerCheck) error {
	name := p.event[:p.nameN]
	if c.done {
		return fmt.Errorf("event %q after done", name)
	}
	switch string(name) {
	case "text":
		raw := findValue(p.data, "text")
		text, err := unquote(raw, &c.scratch)
		if err != nil {
			return fmt.Errorf("text event %q: %v", clip(p.data), err)
		}
		if c.strict != nil {
			var v struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(p.data, &v); err != nil || v.Text == nil || *v.Text != string(text) {
				return fmt.Errorf("strict: text event %q: %v", clip(p.data), err)
			}
		}
		return c.content(text)
	case "done":
		c.finished, c.done = true, true
		return nil
	case "meta", "ping", "":
		return nil
	}
	return fmt.Errorf("unexpected event %q: %q", name, clip(p.data))
}

// clip shortens b for an error message.
func clip(b []byte) string {
	const n = 120
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
