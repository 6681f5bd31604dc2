package messages

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// This file is a copy of internal/frontend/chat/jsontree.go (unexported
// there), with two changes for big bodies: plain8 in treeParser.str skips
// plain string bytes eight at a time, and unescape does not copy its
// result twice.

// tree is a request body parsed once into a flat list of nodes: the
// validator reads fields by walking it, and only the strings it needs are
// decoded. It replaces encoding/json's approach of re-scanning and copying
// the body at every level (BenchmarkParseChatRequest: 22 µs and 144
// allocations for a short chat with encoding/json, under 5 µs and 41
// here), and it parses without recursion, so that a deep body costs no
// stack.
type tree struct {
	body  []byte
	nodes []node
}

type node struct {
	kind       byte  // '{', '[', '"', 'n', 't', 'f' or '0' (number)
	esc        bool  // a string with escapes
	start, end int32 // the value's bytes; a string's are inside its quotes
	keyStart   int32 // object members: the key, inside its quotes
	keyEnd     int32
	keyEsc     bool
	first      int32 // first child, -1 if none
	next       int32 // next sibling, -1 if none
}

const maxDepth = 256

var errSyntax = errors.New("invalid JSON")

// parseTree validates body as one JSON value (RFC 8259) and indexes it.
func parseTree(body []byte) (*tree, error) {
	if len(body) > 1<<31-1 {
		return nil, errors.New("body too large")
	}
	t := &tree{body: body, nodes: make([]node, 0, 64)}
	p := treeParser{t: t, b: body}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return t, nil
}

type treeParser struct {
	t *tree
	b []byte
	i int
	// open containers and, for each, its last child so far
	stack [][2]int32
}

func (p *treeParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *treeParser) parse() error {
	for {
		p.ws()
		if p.i >= len(p.b) {
			return errSyntax
		}
		// In a container: a member or element, or its end.
		if n := len(p.stack); n > 0 {
			top := p.stack[n-1]
			parent := &p.t.nodes[top[0]]
			closer := byte(']')
			if parent.kind == '{' {
				closer = '}'
			}
			if p.b[p.i] == closer {
				p.i++
				parent.end = int32(p.i)
				p.stack = p.stack[:n-1]
				if len(p.stack) == 0 {
					return p.finish()
				}
				continue
			}
			if top[1] >= 0 { // not the first child: a comma first
				if p.b[p.i] != ',' {
					return errSyntax
				}
				p.i++
				p.ws()
			}
		}
		var keyStart, keyEnd int32 = -1, -1
		keyEsc := false
		if n := len(p.stack); n > 0 && p.t.nodes[p.stack[n-1][0]].kind == '{' {
			s, e, esc, err := p.str()
			if err != nil {
				return err
			}
			keyStart, keyEnd, keyEsc = int32(s), int32(e), esc
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return errSyntax
			}
			p.i++
			p.ws()
		}
		idx, container, err := p.value()
		if err != nil {
			return err
		}
		nd := &p.t.nodes[idx]
		nd.keyStart, nd.keyEnd, nd.keyEsc = keyStart, keyEnd, keyEsc
		if n := len(p.stack); n > 0 {
			top := &p.stack[n-1]
			if top[1] < 0 {
				p.t.nodes[top[0]].first = idx
			} else {
				p.t.nodes[top[1]].next = idx
			}
			top[1] = idx
		}
		if container {
			if len(p.stack) >= maxDepth {
				return errors.New("JSON nested too deeply")
			}
			p.stack = append(p.stack, [2]int32{idx, -1})
			continue
		}
		if len(p.stack) == 0 {
			return p.finish()
		}
	}
}

func (p *treeParser) finish() error {
	p.ws()
	if p.i != len(p.b) {
		return errSyntax
	}
	return nil
}

// value reads a scalar, or opens a container; it returns the node's index.
func (p *treeParser) value() (int32, bool, error) {
	if p.i >= len(p.b) {
		return 0, false, errSyntax
	}
	idx := int32(len(p.t.nodes))
	nd := node{first: -1, next: -1, start: int32(p.i)}
	c := p.b[p.i]
	switch {
	case c == '{' || c == '[':
		nd.kind = c
		p.i++
		p.t.nodes = append(p.t.nodes, nd)
		return idx, true, nil
	case c == '"':
		s, e, esc, err := p.str()
		if err != nil {
			return 0, false, err
		}
		nd.kind, nd.start, nd.end, nd.esc = '"', int32(s), int32(e), esc
	case c == '-' || c >= '0' && c <= '9':
		if !p.number() {
			return 0, false, errSyntax
		}
		nd.kind, nd.end = '0', int32(p.i)
	default:
		for _, lit := range [...]string{"null", "true", "false"} {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				nd.kind, nd.end = lit[0], int32(p.i)
				p.t.nodes = append(p.t.nodes, nd)
				return idx, false, nil
			}
		}
		return 0, false, errSyntax
	}
	p.t.nodes = append(p.t.nodes, nd)
	return idx, false, nil
}

// str reads a string and returns the span inside its quotes.
func (p *treeParser) str() (start, end int, esc bool, err error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return 0, 0, false, errSyntax
	}
	p.i++
	start = p.i
	for p.i < len(p.b) {
		// Skip 8 plain bytes at a time (no quote, backslash or control
		// character): long strings are most of a Claude Code body.
		for p.i+8 <= len(p.b) && plain8(binary.LittleEndian.Uint64(p.b[p.i:])) {
			p.i += 8
		}
		if p.i >= len(p.b) {
			break
		}
		switch c := p.b[p.i]; {
		case c == '"':
			end = p.i
			p.i++
			return start, end, esc, nil
		case c == '\\':
			esc = true
			if p.i+1 >= len(p.b) {
				return 0, 0, false, errSyntax
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if _, ok := jsonstr.Hex4(p.b, p.i+2); !ok {
					return 0, 0, false, errSyntax
				}
				p.i += 6
			default:
				return 0, 0, false, errSyntax
			}
		case c < 0x20:
			return 0, 0, false, errSyntax
		default:
			p.i++
		}
	}
	return 0, 0, false, errSyntax
}

// plain8 reports that none of w's 8 bytes is '"', '\\' or below 0x20
// (the bit tricks of "Bit Twiddling Hacks": haszero and hasless).
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := w ^ (ones * '"')
	slash := w ^ (ones * '\\')
	special := (quote-ones)&^quote | (slash-ones)&^slash | (w-ones*0x20)&^w
	return special&highs == 0
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *treeParser) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// Accessors. A node index of -1 means absent.

func (t *tree) kind(i int32) byte {
	if i < 0 {
		return 0
	}
	return t.nodes[i].kind
}

// present reports a value that is there and not null.
func (t *tree) present(i int32) bool { k := t.kind(i); return k != 0 && k != 'n' }

// field returns the member of object o named key (the last, if repeated,
// as encoding/json does), or -1.
func (t *tree) field(o int32, key string) int32 {
	found := int32(-1)
	if t.kind(o) != '{' {
		return found
	}
	for c := t.nodes[o].first; c >= 0; c = t.nodes[c].next {
		nd := &t.nodes[c]
		raw := t.body[nd.keyStart:nd.keyEnd]
		if plain := !nd.keyEsc && utf8.Valid(raw); plain && string(raw) == key || !plain && unescape(raw) == key {
			found = c
		}
	}
	return found
}

// children iterates an array's elements or an object's members.
func (t *tree) children(i int32, f func(int, int32) bool) {
	n := 0
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		if !f(n, c) {
			return
		}
		n++
	}
}

func (t *tree) count(i int32) int {
	n := 0
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		n++
	}
	return n
}

// key returns an object member's name.
func (t *tree) key(i int32) string {
	nd := &t.nodes[i]
	raw := t.body[nd.keyStart:nd.keyEnd]
	if !nd.keyEsc && utf8.Valid(raw) {
		return string(raw)
	}
	return unescape(raw)
}

// str decodes a string node.
func (t *tree) str(i int32) (string, bool) {
	if t.kind(i) != '"' {
		return "", false
	}
	nd := &t.nodes[i]
	raw := t.body[nd.start:nd.end]
	if !nd.esc && utf8.Valid(raw) {
		return string(raw), true
	}
	return unescape(raw), true
}

func (t *tree) float(i int32) (float64, bool) {
	if t.kind(i) != '0' {
		return 0, false
	}
	nd := &t.nodes[i]
	f, err := strconv.ParseFloat(string(t.body[nd.start:nd.end]), 64)
	return f, err == nil
}

func (t *tree) boolean(i int32) (bool, bool) {
	switch t.kind(i) {
	case 't':
		return true, true
	case 'f':
		return false, true
	}
	return false, false
}

// raw returns a value's JSON text, copied out of the body.
func (t *tree) raw(i int32) []byte {
	nd := &t.nodes[i]
	start, end := nd.start, nd.end
	if nd.kind == '"' {
		start, end = start-1, end+1
	}
	return append([]byte(nil), t.body[start:end]...)
}

// unescape decodes a JSON string body whose escapes were validated by
// the parser.
func unescape(raw []byte) string {
	out, _ := jsonstr.Append(make([]byte, 0, len(raw)), raw)
	// out is new and never written again: it becomes the string as it
	// is, rather than copied once more.
	return unsafe.String(unsafe.SliceData(out), len(out))
}
