// Package jsontree reads request bodies: one validating pass (RFC 8259,
// exactly what encoding/json accepts) with a fixed stack, then lazy reads
// by offset. The front ends validate field by field from it.
package jsontree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// Tree is a request body, validated once and then read lazily: a value is
// named by the offset of its first byte, an object's members are indexed
// only when the validator asks for one of its fields, and arrays are read
// by scanning, never indexed. So what nobody reads costs one validating
// scan and no memory, whatever its shape (a 32 MB array of numbers used to
// cost 2 GB of nodes), and what is read costs 8 bytes per object Member,
// at least 4 bytes of body each. Validation keeps a fixed stack of
// MaxDepth bytes, so a deep body costs no heap and no Go stack.
type Tree struct {
	body []byte
	root int32 // offset of the top-level value
	// Expanded objects: the root's members stay; others live in a small
	// cache, because the validator reads an object's fields together.
	rootMembers []Member
	rootDone    bool
	cache       [8]cachedObject
	next        int
}

// Member is an object Member: the offsets inside its key's quotes and of
// its value's first byte. keyEscaped marks a key with escapes in key.
type Member struct {
	key, val int32
}

const keyEscaped = -1 << 31

// Value is the member's value.
func (m Member) Value() int32 { return m.val }

type cachedObject struct {
	off     int32 // 0 = empty slot (no object starts at 0 and is cached: the root is pinned)
	members []Member
}

const MaxDepth = 256

var (
	ErrSyntax = errors.New("invalid JSON")
	ErrDeep   = errors.New("JSON nested too deeply")
)

// Parse validates body as one JSON value (RFC 8259), without indexing it.
func Parse(body []byte) (*Tree, error) {
	if len(body) > 1<<31-1 {
		return nil, errors.New("body too large")
	}
	if err := validate(body); err != nil {
		return nil, err
	}
	return &Tree{body: body, root: int32(ws(body, 0))}, nil
}

func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// validate checks that b is exactly one JSON value. It keeps no more than
// a stack of open containers, so its cost is one pass over b.
func validate(b []byte) error {
	var stack [MaxDepth]byte // '{' or '[' for each open container
	depth := 0
	i := ws(b, 0)
	for {
		// A value at i.
		if i >= len(b) {
			return ErrSyntax
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth >= MaxDepth {
				return ErrDeep
			}
			stack[depth] = c
			depth++
			i = ws(b, i+1)
			if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				i++
				depth--
				break
			}
			if c == '{' {
				var ok bool
				if i, ok = memberKey(b, i); !ok {
					return ErrSyntax
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, _, ok = scanString(b, i); !ok {
				return ErrSyntax
			}
		case c == '-' || c >= '0' && c <= '9':
			var ok bool
			if i, ok = scanNumber(b, i); !ok {
				return ErrSyntax
			}
		case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")),
			c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
			i += 4
		case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
			i += 5
		default:
			return ErrSyntax
		}
		// After a value: close containers, then a comma or the end.
		for {
			i = ws(b, i)
			if depth == 0 {
				if i != len(b) {
					return ErrSyntax
				}
				return nil
			}
			if i >= len(b) {
				return ErrSyntax
			}
			open := stack[depth-1]
			if b[i] == ',' {
				i = ws(b, i+1)
				if open == '{' {
					var ok bool
					if i, ok = memberKey(b, i); !ok {
						return ErrSyntax
					}
				}
				break
			}
			if open == '{' && b[i] == '}' || open == '[' && b[i] == ']' {
				i++
				depth--
				continue
			}
			return ErrSyntax
		}
	}
}

// memberKey reads `"key" :` and the space after it.
func memberKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, _, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	i = ws(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return ws(b, i+1), true
}

// plainByte marks the bytes a string holds as they are.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string starting at b[i] == '"' and returns the
// offset after its closing quote, and whether it has escapes.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	i++
	for {
		// Eight plain bytes at a time: long strings are most of an agent's
		// body (BenchmarkParse in internal/frontend/messages).
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, esc, false
		}
		switch b[i] {
		case '"':
			return i + 1, esc, true
		case '\\':
			esc = true
			if i+1 >= len(b) {
				return i, esc, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := jsonstr.Hex4(b, i+2); !ok {
					return i, esc, false
				}
				i += 6
			default:
				return i, esc, false
			}
		default: // a control character
			return i, esc, false
		}
	}
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

// scanNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	return i, true
}

// After validation, reading trusts the body: these skip without checking.

// strEnd returns the offset after the closing quote of the string at i.
func (t *Tree) strEnd(i int) int {
	b := t.body
	j := i + 1
	for {
		q := j + bytes.IndexByte(b[j:], '"')
		n := 0 // backslashes right before the quote
		for q-1-n > i && b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skip returns the offset after the value at i.
func (t *Tree) skip(i int) int {
	b := t.body
	switch b[i] {
	case '"':
		return t.strEnd(i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = t.strEnd(i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// afterValue moves past the value at i and the comma after it; ok is false
// at the container's end.
func (t *Tree) afterValue(i int) (int, bool) {
	i = ws(t.body, t.skip(i))
	if t.body[i] == ',' {
		return ws(t.body, i+1), true
	}
	return i, false
}

// ErrNotObject is ParseObject's answer to a body that is valid JSON, or
// not, but does not start with '{'.
var ErrNotObject = errors.New("the body is not an object")

// ParseObject is Parse for a request body, which must be an object:
// anything else is refused at its first byte, unread.
func ParseObject(body []byte) (*Tree, error) {
	if i := ws(body, 0); i < len(body) && body[i] != '{' {
		return nil, ErrNotObject
	}
	t, err := Parse(body)
	if err == nil && t.Kind(t.root) != '{' {
		err = ErrNotObject // an empty or blank body
	}
	return t, err
}

// Root is the top-level value.
func (t *Tree) Root() int32 { return t.root }

// Accessors. A value is the offset of its first byte; -1 means absent.

func (t *Tree) Kind(i int32) byte {
	if i < 0 {
		return 0
	}
	switch c := t.body[i]; c {
	case '{', '[', '"', 'n', 't', 'f':
		return c
	}
	return '0'
}

// Present reports a value that is there and not null.
func (t *Tree) Present(i int32) bool { k := t.Kind(i); return k != 0 && k != 'n' }

// Members returns object o's members, indexing them on first use.
func (t *Tree) Members(o int32) []Member {
	if o == t.root {
		if !t.rootDone {
			t.rootMembers, t.rootDone = t.index(o), true
		}
		return t.rootMembers
	}
	for _, c := range t.cache {
		if c.off == o {
			return c.members
		}
	}
	ms := t.index(o)
	t.cache[t.next] = cachedObject{o, ms}
	t.next = (t.next + 1) % len(t.cache)
	return ms
}

// index lists object o's members in a slice of exactly their number: the
// first few go through a buffer on the stack, and a big object is counted
// before it is copied, so no growth leaves garbage behind.
func (t *Tree) index(o int32) []Member {
	var buf [16]Member
	n := 0
	var big []Member
	i := ws(t.body, int(o)+1)
	if t.body[i] == '}' {
		return nil
	}
	for more := true; more; {
		if n == len(buf) && big == nil {
			total := n
			for j, again := i, true; again; total++ {
				val, _, _ := scanKey(t, j)
				j, again = t.afterValue(val)
			}
			big = append(make([]Member, 0, total), buf[:]...)
		}
		var m Member
		i, m = scanMember(t, i)
		if big != nil {
			big = append(big, m)
		} else {
			buf[n] = m
			n++
		}
		i, more = t.afterValue(i)
	}
	if big != nil {
		return big
	}
	return append([]Member(nil), buf[:n]...)
}

// scanKey reads the key at i; it returns the offset of its value.
func scanKey(t *Tree, i int) (val, keyEnd int, esc bool) {
	keyEnd = t.strEnd(i)
	esc = bytes.IndexByte(t.body[i+1:keyEnd-1], '\\') >= 0
	val = ws(t.body, keyEnd) // at ':'
	val = ws(t.body, val+1)  // at the value
	return val, keyEnd, esc
}

func scanMember(t *Tree, i int) (int, Member) {
	val, _, esc := scanKey(t, i)
	m := Member{key: int32(i + 1), val: int32(val)}
	if esc {
		m.key |= keyEscaped
	}
	return val, m
}

// Field returns the Member of object o named key (the last, if repeated,
// as encoding/json does), or -1.
func (t *Tree) Field(o int32, key string) int32 {
	found := int32(-1)
	if t.Kind(o) != '{' {
		return found
	}
	// Plain ASCII keys (all the validator asks for) are compared as bytes
	// with keys without escapes; anything else is decoded first, as
	// encoding/json does (invalid UTF-8 becomes U+FFFD).
	fast := true
	for i := 0; i < len(key); i++ {
		if c := key[i]; c >= utf8.RuneSelf || c == '"' || c == '\\' {
			fast = false
			break
		}
	}
	for _, m := range t.Members(o) {
		if k := int(m.key); fast && m.key&keyEscaped == 0 {
			if k+len(key) < len(t.body) && t.body[k+len(key)] == '"' && string(t.body[k:k+len(key)]) == key {
				found = m.val
			}
		} else if t.Key(m) == key {
			found = m.val
		}
	}
	return found
}

// Key returns a Member's name.
func (t *Tree) Key(m Member) string {
	k := int(m.key &^ keyEscaped)
	return t.decode(t.body[k : t.strEnd(k-1)-1])
}

// Children iterates an array's elements, scanning it.
func (t *Tree) Children(i int32, f func(int, int32) bool) {
	j := ws(t.body, int(i)+1)
	if t.body[j] == ']' {
		return
	}
	for n, more := 0, true; more; n++ {
		if !f(n, int32(j)) {
			return
		}
		j, more = t.afterValue(j)
	}
}

// Len returns an array's length.
func (t *Tree) Len(i int32) int { n, _ := t.Count(i); return n }

// Count returns an array's length and its size in bytes.
func (t *Tree) Count(i int32) (n, size int) {
	t.Children(i, func(int, int32) bool { n++; return true })
	return n, t.skip(int(i)) - int(i)
}

// Str decodes a string value.
func (t *Tree) Str(i int32) (string, bool) {
	if t.Kind(i) != '"' {
		return "", false
	}
	return t.decode(t.body[i+1 : t.strEnd(int(i))-1]), true
}

// RawStr returns the bytes inside string i's quotes (aliasing the body,
// so a big string is not copied) and whether they hold escapes.
func (t *Tree) RawStr(i int32) (raw []byte, escaped bool) {
	if t.Kind(i) != '"' {
		return nil, false
	}
	raw = t.body[i+1 : t.strEnd(int(i))-1]
	return raw, bytes.IndexByte(raw, '\\') >= 0
}

// decode returns a JSON string body (validated) as text.
func (t *Tree) decode(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw)
	}
	return unescape(raw)
}

func (t *Tree) Float(i int32) (float64, bool) {
	if t.Kind(i) != '0' {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(t.body[i:t.skip(int(i))]), 64)
	return f, err == nil
}

func (t *Tree) Bool(i int32) (bool, bool) {
	switch t.Kind(i) {
	case 't':
		return true, true
	case 'f':
		return false, true
	}
	return false, false
}

// Raw returns a value's JSON text, copied out of the body.
func (t *Tree) Raw(i int32) []byte {
	return append([]byte(nil), t.body[i:t.skip(int(i))]...)
}

// unescape decodes a JSON string body whose escapes were validated by
// the parser.
func unescape(raw []byte) string {
	out, _ := jsonstr.Append(make([]byte, 0, len(raw)), raw)
	return string(out)
}
