package chat

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// tree is a request body, validated once and then read lazily: a value is
// named by the offset of its first byte, an object's members are indexed
// only when the validator asks for one of its fields, and arrays are read
// by scanning, never indexed. So what nobody reads costs one validating
// scan and no memory, whatever its shape (a 32 MB array of numbers used to
// cost 2 GB of nodes), and what is read costs 8 bytes per object member,
// at least 4 bytes of body each. Validation keeps a fixed stack of
// maxDepth bytes, so a deep body costs no heap and no Go stack.
type tree struct {
	body []byte
	root int32 // offset of the top-level value
	// Expanded objects: the root's members stay; others live in a small
	// cache, because the validator reads an object's fields together.
	rootMembers []member
	rootDone    bool
	cache       [8]cachedObject
	next        int
}

// member is an object member: the offsets inside its key's quotes and of
// its value's first byte. keyEscaped marks a key with escapes in key.
type member struct {
	key, val int32
}

const keyEscaped = -1 << 31

type cachedObject struct {
	off     int32 // 0 = empty slot (no object starts at 0 and is cached: the root is pinned)
	members []member
}

const maxDepth = 256

var (
	errSyntax = errors.New("invalid JSON")
	errDeep   = errors.New("JSON nested too deeply")
)

// parseTree validates body as one JSON value (RFC 8259), without indexing it.
func parseTree(body []byte) (*tree, error) {
	if len(body) > 1<<31-1 {
		return nil, errors.New("body too large")
	}
	if err := validate(body); err != nil {
		return nil, err
	}
	return &tree{body: body, root: int32(ws(body, 0))}, nil
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
	var stack [maxDepth]byte // '{' or '[' for each open container
	depth := 0
	i := ws(b, 0)
	for {
		// A value at i.
		if i >= len(b) {
			return errSyntax
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth >= maxDepth {
				return errDeep
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
					return errSyntax
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, _, ok = scanString(b, i); !ok {
				return errSyntax
			}
		case c == '-' || c >= '0' && c <= '9':
			var ok bool
			if i, ok = scanNumber(b, i); !ok {
				return errSyntax
			}
		case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")),
			c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
			i += 4
		case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
			i += 5
		default:
			return errSyntax
		}
		// After a value: close containers, then a comma or the end.
		for {
			i = ws(b, i)
			if depth == 0 {
				if i != len(b) {
					return errSyntax
				}
				return nil
			}
			if i >= len(b) {
				return errSyntax
			}
			open := stack[depth-1]
			if b[i] == ',' {
				i = ws(b, i+1)
				if open == '{' {
					var ok bool
					if i, ok = memberKey(b, i); !ok {
						return errSyntax
					}
				}
				break
			}
			if open == '{' && b[i] == '}' || open == '[' && b[i] == ']' {
				i++
				depth--
				continue
			}
			return errSyntax
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
func (t *tree) strEnd(i int) int {
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
func (t *tree) skip(i int) int {
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
func (t *tree) afterValue(i int) (int, bool) {
	i = ws(t.body, t.skip(i))
	if t.body[i] == ',' {
		return ws(t.body, i+1), true
	}
	return i, false
}

// Accessors. A value is the offset of its first byte; -1 means absent.

func (t *tree) kind(i int32) byte {
	if i < 0 {
		return 0
	}
	switch c := t.body[i]; c {
	case '{', '[', '"', 'n', 't', 'f':
		return c
	}
	return '0'
}

// present reports a value that is there and not null.
func (t *tree) present(i int32) bool { k := t.kind(i); return k != 0 && k != 'n' }

// members returns object o's members, indexing them on first use.
func (t *tree) members(o int32) []member {
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
func (t *tree) index(o int32) []member {
	var buf [16]member
	n := 0
	var big []member
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
			big = append(make([]member, 0, total), buf[:]...)
		}
		var m member
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
	return append([]member(nil), buf[:n]...)
}

// scanKey reads the key at i; it returns the offset of its value.
func scanKey(t *tree, i int) (val, keyEnd int, esc bool) {
	keyEnd = t.strEnd(i)
	esc = bytes.IndexByte(t.body[i+1:keyEnd-1], '\\') >= 0
	val = ws(t.body, keyEnd) // at ':'
	val = ws(t.body, val+1)  // at the value
	return val, keyEnd, esc
}

func scanMember(t *tree, i int) (int, member) {
	val, _, esc := scanKey(t, i)
	m := member{key: int32(i + 1), val: int32(val)}
	if esc {
		m.key |= keyEscaped
	}
	return val, m
}

// field returns the member of object o named key (the last, if repeated,
// as encoding/json does), or -1.
func (t *tree) field(o int32, key string) int32 {
	found := int32(-1)
	if t.kind(o) != '{' {
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
	for _, m := range t.members(o) {
		if k := int(m.key); fast && m.key&keyEscaped == 0 {
			if k+len(key) < len(t.body) && t.body[k+len(key)] == '"' && string(t.body[k:k+len(key)]) == key {
				found = m.val
			}
		} else if t.key(m) == key {
			found = m.val
		}
	}
	return found
}

// key returns a member's name.
func (t *tree) key(m member) string {
	k := int(m.key &^ keyEscaped)
	return t.decode(t.body[k : t.strEnd(k-1)-1])
}

// children iterates an array's elements, scanning it.
func (t *tree) children(i int32, f func(int, int32) bool) {
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

// count returns an array's length and its size in bytes.
func (t *tree) count(i int32) (n, size int) {
	t.children(i, func(int, int32) bool { n++; return true })
	return n, t.skip(int(i)) - int(i)
}

// str decodes a string value.
func (t *tree) str(i int32) (string, bool) {
	if t.kind(i) != '"' {
		return "", false
	}
	return t.decode(t.body[i+1 : t.strEnd(int(i))-1]), true
}

// decode returns a JSON string body (validated) as text.
func (t *tree) decode(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw)
	}
	return unescape(raw)
}

func (t *tree) float(i int32) (float64, bool) {
	if t.kind(i) != '0' {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(t.body[i:t.skip(int(i))]), 64)
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
	return append([]byte(nil), t.body[i:t.skip(int(i))]...)
}

// unescape decodes a JSON string body whose escapes were validated by
// the parser.
func unescape(raw []byte) string {
	out, _ := jsonstr.Append(make([]byte, 0, len(raw)), raw)
	return string(out)
}
