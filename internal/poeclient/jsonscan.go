package poeclient

import "github.com/poe-openai/caddy-poe-openai/internal/jsonstr"

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
		if !first && (!s.eat(',') || !s.wsThen()) {
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
			if out, ok = jsonstr.Append(dst, raw); !ok {
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
			if !first && (!s.eat(',') || !s.wsThen()) {
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
