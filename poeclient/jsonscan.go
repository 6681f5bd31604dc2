package poeclient

import (
	"unicode/utf16"
	"unicode/utf8"
)

// appendStringField is a fast path for payloads like {"text": "..."}: it
// finds a top-level string field and appends its unescaped value to dst
// without allocating. It reports false for anything it is not sure about
// (the caller then falls back to encoding/json), so it never accepts
// invalid JSON that encoding/json would reject for the field it returns.
func appendStringField(dst, data []byte, field string) ([]byte, bool) {
	s := jsonScanner{b: data}
	s.ws()
	if !s.eat('{') {
		return dst, false
	}
	found := false
	var out []byte
	for first := true; ; first = false {
		s.ws()
		if s.eat('}') {
			break
		}
		if !first && !(s.eat(',') && s.wsThen()) {
			return dst, false
		}
		key, ok := s.rawString()
		if !ok {
			return dst, false
		}
		s.ws()
		if !s.eat(':') {
			return dst, false
		}
		s.ws()
		if string(key) == field { // the last one wins, as in encoding/json
			raw, ok := s.rawString()
			if !ok {
				return dst, false // not a string (or escapes in a way we refuse): slow path decides
			}
			if out, ok = appendUnescaped(dst, raw); !ok {
				return dst, false
			}
			found = true
			continue
		}
		if !s.skipValue(0) {
			return dst, false
		}
	}
	s.ws()
	if !found || s.i != len(s.b) {
		return dst, false
	}
	return out, true
}

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) wsThen() bool { s.ws(); return true }

func (s *jsonScanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawString returns a string token's bytes between the quotes, escapes kept.
func (s *jsonScanner) rawString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\':
			s.i += 2
		case c < 0x20:
			return nil, false
		default:
			s.i++
		}
	}
	return nil, false
}

// skipValue skips one JSON value; depth bounds nesting.
func (s *jsonScanner) skipValue(depth int) bool {
	if depth > 64 || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.rawString()
		return ok
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		for first := true; ; first = false {
			s.ws()
			if s.eat(end) {
				return true
			}
			if !first && !(s.eat(',') && s.wsThen()) {
				return false
			}
			if c == '{' {
				if _, ok := s.rawString(); !ok {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.skipValue(depth + 1) {
				return false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.b) && (s.b[s.i] >= '0' && s.b[s.i] <= '9' || s.b[s.i] == '-' ||
			s.b[s.i] == '+' || s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
			s.i++
		}
		return s.i > start
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return true
			}
		}
		return false
	}
}

// appendUnescaped decodes a JSON string body (without quotes). Invalid
// escapes report false; lone surrogates become U+FFFD as encoding/json does.
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			if !utf8.Valid(raw[i:j]) {
				return dst, false // encoding/json replaces bad bytes; let it
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(raw) {
			return dst, false
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
			r, ok := hex4(raw, i+2)
			if !ok {
				return dst, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(raw, i+2); ok && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
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
