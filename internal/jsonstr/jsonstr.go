// Package jsonstr reads and writes JSON strings exactly as encoding/json
// does, without allocating beyond the caller's buffer: Append decodes the
// body of a string, AppendQuoted encodes one. The request parser and SSE
// writer (openai) and the Poe protocol code (poeclient) both need them
// and must not import each other.
package jsonstr

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Append appends the decoded raw to dst. Invalid UTF-8 and lone surrogates
// become U+FFFD, as in encoding/json. It reports false, with dst as it was,
// for a bad escape, a control character or an unescaped quote, which
// encoding/json rejects.
func Append(dst, raw []byte) ([]byte, bool) {
	start := len(dst)
	for i := 0; i < len(raw); {
		if c := raw[i]; c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			var ok bool
			if dst, ok = appendRun(dst, raw[i:j]); !ok {
				return dst[:start], false
			}
			i = j
			continue
		}
		if i+1 >= len(raw) {
			return dst[:start], false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			dst = append(dst, raw[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := Hex4(raw, i+2)
			if !ok {
				return dst[:start], false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2, ok := Hex4(raw, i+2); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst[:start], false
		}
		i += 2
	}
	return dst, true
}

// appendRun appends a run without escapes, replacing invalid UTF-8.
func appendRun(dst, run []byte) ([]byte, bool) {
	for _, c := range run {
		if c < 0x20 || c == '"' {
			return dst, false
		}
	}
	if utf8.Valid(run) {
		return append(dst, run...), true
	}
	for len(run) > 0 {
		r, size := utf8.DecodeRune(run)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, run[:size]...)
		}
		run = run[size:]
	}
	return dst, true
}

// Hex4 reads the four hex digits of a \u escape at b[at:].
func Hex4(b []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
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
