package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s as a JSON string, as encoding/json does with HTML
// escaping off: invalid UTF-8 becomes U+FFFD and U+2028/U+2029 are escaped,
// so that any client's JSON parser accepts it. It takes bytes or a string
// without converting, so the hot paths do not allocate.
func AppendQuoted[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s, i)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeRune is utf8.DecodeRune for either type, without converting (a
// conversion would allocate on the hot path).
func decodeRune[T ~string | ~[]byte](s T, i int) (rune, int) {
	const bad = utf8.RuneError
	n := len(s) - i
	c0 := s[i]
	cont := func(k int) bool { return k < n && s[i+k]&0xC0 == 0x80 }
	switch {
	case c0 < 0xC2:
		return bad, 1
	case c0 < 0xE0:
		if !cont(1) {
			return bad, 1
		}
		return rune(c0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
	case c0 < 0xF0:
		if !cont(1) || !cont(2) || c0 == 0xE0 && s[i+1] < 0xA0 || c0 == 0xED && s[i+1] >= 0xA0 {
			return bad, 1
		}
		return rune(c0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
	case c0 < 0xF5:
		if !cont(1) || !cont(2) || !cont(3) || c0 == 0xF0 && s[i+1] < 0x90 || c0 == 0xF4 && s[i+1] >= 0x90 {
			return bad, 1
		}
		return rune(c0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F), 4
	}
	return bad, 1
}
