package translate

import "bytes"

// Reasoning modes.
const (
	ReasoningSplit  = "split"  // thinking to reasoning_content, answer to content
	ReasoningInline = "inline" // everything to content, as Poe sends it
	ReasoningDrop   = "drop"   // thinking removed
)

// splitter separates a reasoning bot's thinking from its answer. Poe's
// reasoning bots open with a marker line ("*Thinking...*", "Thinking...
// (3s elapsed)") followed by "> " quoted lines, then the answer; some
// (DeepSeek-R1 style) wrap their thinking in <think>...</think> instead.
//
// It works line by line but never holds more than the start of a line, and
// only while that start may still be a marker: ordinary text passes
// through as it arrives.
type splitter struct {
	mode      string
	state     splitState
	line      []byte // the undecided start of the current line
	reasoned  bool   // some reasoning was emitted
	blank     bool   // a blank line since the last reasoning line
	tagMatch  int    // bytes of "</think>" matched at the end of the input so far
	content   func(p []byte) error
	reasoning func(p []byte) error
}

type splitState uint8

const (
	atStart        splitState = iota // nothing decided yet
	thinkLineStart                   // in thinking, at the start of a line
	thinkQuote                       // in a "> " line of thinking
	thinkQuoteOpen                   // just after ">", a space may follow
	thinkTag                         // inside <think>...</think>
	afterTag                         // skipping blank space after </think>
	lineStart                        // in the answer, at the start of a line
	inLine                           // in the answer, mid-line
)

const (
	openTag  = "<think>"
	closeTag = "</think>"
)

func (s *splitter) write(p []byte) error {
	if s.mode == ReasoningInline {
		return s.content(p)
	}
	for len(p) > 0 {
		var err error
		switch s.state {
		case inLine:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return s.content(p)
			}
			err = s.content(p[:i+1])
			p, s.state = p[i+1:], lineStart
		case thinkQuoteOpen:
			if p[0] == ' ' {
				p = p[1:]
			}
			s.state = thinkQuote
		case thinkQuote:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return s.think(p)
			}
			err = s.think(p[:i])
			p, s.state = p[i+1:], thinkLineStart
		case thinkTag:
			p, err = s.inTag(p)
		case afterTag:
			p = bytes.TrimLeft(p, " \t\r\n")
			if len(p) > 0 {
				s.state = lineStart
			}
		default: // atStart, thinkLineStart, lineStart: decide the line
			p, err = s.startOfLine(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startOfLine buffers the beginning of a line until it is clear whether it
// is a marker, a quote, a placeholder or ordinary text.
func (s *splitter) startOfLine(p []byte) ([]byte, error) {
	if s.state == thinkLineStart && len(s.line) == 0 {
		switch p[0] {
		case '>':
			s.state = thinkQuoteOpen
			if s.reasoned {
				nl := "\n"
				if s.blank {
					nl = "\n\n"
				}
				if err := s.think([]byte(nl)); err != nil {
					return nil, err
				}
			}
			s.blank = false
			return p[1:], nil
		case '\n':
			s.blank = s.reasoned
			return p[1:], nil
		}
	}
	if s.state == lineStart && len(s.line) == 0 && !mayStartPlaceholder(p[0]) {
		s.state = inLine
		return p, nil
	}
	i := bytes.IndexByte(p, '\n')
	rest := p
	if i >= 0 {
		rest = p[:i]
	}
	s.line = append(s.line, rest...)
	if i < 0 {
		if s.undecided(s.line) {
			return nil, nil
		}
		return nil, s.decide(false)
	}
	return p[i+1:], s.decide(true)
}

// mayStartPlaceholder is a cheap first-byte filter for lineStart.
func mayStartPlaceholder(c byte) bool {
	return c == '*' || c == '_' || c == '(' || c == ' ' || c >= 'A' && c <= 'Z'
}

// undecided reports whether an incomplete line must wait for more text.
func (s *splitter) undecided(line []byte) bool {
	if s.state == atStart {
		t := bytes.TrimLeft(line, " \t\r\n")
		if len(t) < len(openTag) && bytes.HasPrefix([]byte(openTag), t) {
			return true
		}
	}
	return len(line) <= maxPlaceholderLine && mayBePlaceholder(line)
}

// decide classifies the buffered line; complete says a newline ended it.
func (s *splitter) decide(complete bool) error {
	line := s.line
	s.line = s.line[:0]
	switch s.state {
	case atStart:
		t := bytes.TrimLeft(line, " \t\r\n")
		if len(t) == 0 && complete {
			return nil // leading blank lines before a possible marker
		}
		if bytes.HasPrefix(t, []byte(openTag)) {
			s.state = thinkTag
			rest := append([]byte(nil), t[len(openTag):]...)
			if complete {
				rest = append(rest, '\n')
			}
			return s.write(rest)
		}
		if complete && isPlaceholder(line) {
			s.state = thinkLineStart
			return nil
		}
	case thinkLineStart:
		if complete && isPlaceholder(line) {
			return nil // a progress update inside the thinking
		}
		if complete && len(bytes.TrimSpace(line)) == 0 {
			s.blank = s.reasoned
			return nil
		}
	case lineStart:
		if complete && isElapsedPlaceholder(line) {
			return nil // never let "Thinking... (5s elapsed)" into content
		}
	}
	// Ordinary answer text.
	s.state = inLine
	if complete {
		s.state = lineStart
		line = append(line, '\n')
	}
	return s.content(line)
}

// inTag emits reasoning until </think>, holding a possibly partial tag.
func (s *splitter) inTag(p []byte) ([]byte, error) {
	if s.tagMatch > 0 { // a tag prefix was held back at the end of the last chunk
		n := 0
		for n < len(p) && s.tagMatch+n < len(closeTag) && p[n] == closeTag[s.tagMatch+n] {
			n++
		}
		switch {
		case s.tagMatch+n == len(closeTag):
			s.tagMatch, s.state = 0, afterTag
			return p[n:], nil
		case n == len(p):
			s.tagMatch += n
			return nil, nil
		}
		held := closeTag[:s.tagMatch]
		s.tagMatch = 0
		if err := s.think([]byte(held)); err != nil {
			return nil, err
		}
	}
	if i := bytes.Index(p, []byte(closeTag)); i >= 0 {
		s.state = afterTag
		return p[i+len(closeTag):], s.think(p[:i])
	}
	keep := 0
	for k := min(len(closeTag)-1, len(p)); k > 0; k-- {
		if bytes.HasSuffix(p, []byte(closeTag[:k])) {
			keep = k
			break
		}
	}
	s.tagMatch = keep
	return nil, s.think(p[:len(p)-keep])
}

func (s *splitter) think(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	s.reasoned = true
	if s.mode == ReasoningDrop {
		return nil
	}
	return s.reasoning(p)
}

// flush resolves whatever is still buffered at the end of the answer.
func (s *splitter) flush() error {
	if s.tagMatch > 0 {
		held := closeTag[:s.tagMatch]
		s.tagMatch = 0
		if err := s.think([]byte(held)); err != nil {
			return err
		}
	}
	if len(s.line) == 0 {
		return nil
	}
	line := s.line
	if (s.state == atStart || s.state == thinkLineStart) && isPlaceholder(line) ||
		s.state == lineStart && isElapsedPlaceholder(line) {
		s.line = s.line[:0]
		return nil
	}
	if s.state == atStart && len(bytes.TrimSpace(line)) == 0 {
		s.line = s.line[:0]
		return nil
	}
	s.line = s.line[:0]
	s.state = inLine
	return s.content(line)
}
