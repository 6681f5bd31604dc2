package translate

import "bytes"

// settler applies Poe's text semantics ("text" appends, "replace_response"
// replaces everything so far) and releases downstream only text that can
// no longer be replaced:
//   - after a replace_response nothing is released until a text event
//     confirms it (bots replace their own progress lines repeatedly);
//   - a trailing line that is, or may become, a progress placeholder
//     ("Thinking...", "Generating image...") waits for the next event.
//
// Once released, text cannot be retracted from a stream. If a later
// replace_response does not extend what was released, the stream gets a
// paragraph break and the new text (rewind is then called so that a
// non-streaming answer can start over and follow the replacement exactly).
type settler struct {
	full        []byte // the answer so far, by Poe's rules
	sent        int    // len of full already released
	lineStart   int    // start of the last line in full
	replaceHeld bool   // a replace_response waits for confirmation
	release     func(p []byte) error
	rewind      func() bool // true: downstream restarted, re-release from 0
}

func (s *settler) text(t []byte) error {
	if i := bytes.LastIndexByte(t, '\n'); i >= 0 {
		s.lineStart = len(s.full) + i + 1
	}
	s.full = append(s.full, t...)
	s.replaceHeld = false
	return s.releaseTo(s.stableEnd())
}

func (s *settler) replace(r []byte) error {
	switch {
	case bytes.HasPrefix(r, s.full[:s.sent]):
		s.full = append(s.full[:0], r...)
	case s.rewind != nil && s.rewind():
		s.full = append(s.full[:0], r...)
		s.sent = 0
	default:
		// The stream already showed text this replacement drops.
		s.full = append(append(s.full[:s.sent], "\n\n"...), r...)
	}
	s.lineStart = bytes.LastIndexByte(s.full, '\n') + 1
	s.replaceHeld = true
	return nil
}

// end releases everything: the answer is complete.
func (s *settler) end() error { return s.releaseTo(len(s.full)) }

func (s *settler) stableEnd() int {
	if s.replaceHeld {
		return s.sent
	}
	if s.lineStart < len(s.full) && s.lineStart >= s.sent && len(s.full)-s.lineStart <= maxPlaceholderLine &&
		mayBePlaceholder(s.full[s.lineStart:]) {
		return s.lineStart
	}
	return len(s.full)
}

func (s *settler) releaseTo(end int) error {
	if end <= s.sent {
		return nil
	}
	p := s.full[s.sent:end]
	s.sent = end
	return s.release(p)
}

// String returns the answer text by Poe's rules.
func (s *settler) String() string { return string(s.full) }
