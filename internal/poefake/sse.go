package poefake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Framing is the line separator used on the wire. Poe's own bot server
// (sse-starlette) uses CRLF; clients must cope with all three.
type Framing int

const (
	CRLF Framing = iota // "\r\n", sse-starlette's default
	LF                  // "\n"
	CR                  // "\r"
)

func (f Framing) sep() string {
	switch f {
	case LF:
		return "\n"
	case CR:
		return "\r"
	}
	return "\r\n"
}

func (f Framing) String() string {
	switch f {
	case LF:
		return "lf"
	case CR:
		return "cr"
	}
	return "crlf"
}

// ParseFraming reads "crlf", "lf" or "cr" (case-insensitive).
func ParseFraming(s string) (Framing, error) {
	switch strings.ToLower(s) {
	case "crlf", "":
		return CRLF, nil
	case "lf":
		return LF, nil
	case "cr":
		return CR, nil
	}
	return CRLF, fmt.Errorf("poefake: unknown framing %q (want crlf, lf or cr)", s)
}

// appendEvent encodes one event the way sse-starlette does: data is split on
// any line break into several "data:" lines.
func appendEvent(dst []byte, sep, name, data string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, sep...)
	for {
		i := strings.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, sep...)
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	dst = append(dst, sep...)
	return append(dst, sep...)
}

// pingLayout is Python's str(datetime.now(timezone.utc)).
const pingLayout = "2006-01-02 15:04:05.000000-07:00"

// appendPing encodes sse-starlette's keep-alive comment.
func appendPing(dst []byte, sep string, t time.Time) []byte {
	dst = append(dst, ": ping - "...)
	dst = t.UTC().AppendFormat(dst, pingLayout)
	dst = append(dst, sep...)
	return append(dst, sep...)
}

// pyKV is one key of a JSON object written like Python's json.dumps.
// val is a string, bool, int or nil.
type pyKV struct {
	key string
	val any
}

// pyDumps writes an object the way json.dumps does by default: ", " and
// ": " separators, keys in the given order, non-ASCII as \uXXXX.
func pyDumps(kvs ...pyKV) string {
	b := make([]byte, 0, 64)
	b = append(b, '{')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPyString(b, kv.key)
		b = append(b, ": "...)
		switch v := kv.val.(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendPyString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			panic(fmt.Sprintf("poefake: pyDumps: unsupported %T", v))
		}
	}
	return string(append(b, '}'))
}

const hexDigits = "0123456789abcdef"

// appendPyString quotes s like json.dumps with ensure_ascii=True: everything
// outside ' '..'~' is escaped, astral runes as surrogate pairs, lowercase hex.
// Invalid UTF-8 cannot occur in Python strings; it becomes \ufffd.
func appendPyString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				dst = append(dst, `\"`...)
			case '\\':
				dst = append(dst, `\\`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			case '\b':
				dst = append(dst, `\b`...)
			case '\f':
				dst = append(dst, `\f`...)
			default:
				dst = appendU(dst, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU(appendU(dst, r1), r2)
		} else {
			dst = appendU(dst, r)
		}
		i += size
	}
	return append(dst, '"')
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
