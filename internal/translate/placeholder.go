package translate

// Poe's bots show progress as short lines such as "Thinking...",
// "*Thinking...*", "Generating image..." or "Thinking... (12s elapsed)",
// which they later replace. A line that is, or may still become, one of
// these is held back from a stream until the bot moves on.

const maxPlaceholderLine = 64

// progressVerbs start every placeholder Poe is known to show. Only lines
// that begin with one are held, so ordinary text streams without delay.
var progressVerbs = [...]string{"Thinking", "Generating", "Searching", "Reasoning", "Analyzing",
	"Analysing", "Processing", "Creating", "Drawing", "Loading", "Browsing", "Reading",
	"Uploading", "Rendering", "Working", "Planning", "Researching", "Waiting"}

// isPlaceholder reports whether line is a whole progress placeholder:
// optional emphasis, a progress verb and more words, "..." or "…", then an
// optional "(Ns elapsed)".
func isPlaceholder(line []byte) bool {
	ok, complete := scanPlaceholder(trimSpaceBytes(line))
	return ok && complete
}

// mayBePlaceholder reports whether line is a placeholder or a prefix of
// one, so that a stream waits for the rest of it.
func mayBePlaceholder(line []byte) bool {
	ok, _ := scanPlaceholder(trimLeftSpace(line))
	return ok
}

// isElapsedPlaceholder is the strict form used to drop placeholders from
// content outside the hold-back window: it must say "Thinking" or carry an
// "(Ns elapsed)" counter, which no ordinary answer line does.
func isElapsedPlaceholder(line []byte) bool {
	t := trimSpaceBytes(line)
	if !isPlaceholder(t) {
		return false
	}
	s := string(trimEmphasis(t))
	return hasPrefix(s, "Thinking") || containsElapsed(s)
}

// scanPlaceholder matches s against the placeholder grammar. ok is false
// as soon as s cannot be (a prefix of) a placeholder; complete says whether
// s is a full one.
func scanPlaceholder(s []byte) (ok, complete bool) {
	if len(s) == 0 {
		return true, false
	}
	if len(s) > maxPlaceholderLine {
		return false, false
	}
	i := 0
	// Leading emphasis: up to two of '*' or '_'.
	for i < len(s) && i < 2 && (s[i] == '*' || s[i] == '_') {
		i++
	}
	if i == len(s) {
		return true, false
	}
	if s[i] == '(' { // a bare "(Ns elapsed)"
		return scanElapsed(s[i:])
	}
	start := i
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	if !progressVerb(string(s[start:i]), i == len(s)) {
		return false, false
	}
	// More words: letters and single spaces.
	for i < len(s) && (isLetter(s[i]) || s[i] == ' ' && i+1 < len(s) && isLetter(s[i+1])) {
		i++
	}
	if i == len(s) || s[i] == ' ' && i+1 == len(s) {
		return true, false
	}
	// Ellipsis.
	switch {
	case s[i] == '.':
		n := 0
		for i < len(s) && s[i] == '.' && n < 3 {
			i, n = i+1, n+1
		}
		if n < 3 {
			return i == len(s), false
		}
		if i == len(s) {
			return true, true
		}
	case len(s)-i >= 3 && string(s[i:i+3]) == "…":
		i += 3
	case len(s)-i < 3 && string(s[i:]) == "…"[:len(s)-i]:
		return true, false
	default:
		return false, false
	}
	// Closing emphasis.
	for i < len(s) && (s[i] == '*' || s[i] == '_') {
		i++
	}
	if i == len(s) {
		return true, true
	}
	if s[i] != ' ' {
		return false, false
	}
	i++
	if i == len(s) {
		return true, true
	}
	ok, complete = scanElapsed(s[i:])
	if !ok {
		return false, false
	}
	return true, complete
}

// scanElapsed matches "(12s elapsed)" or "(1.5s elapsed)" and its prefixes,
// with optional trailing emphasis.
func scanElapsed(s []byte) (ok, complete bool) {
	if s[0] != '(' {
		return false, false
	}
	i := 1
	digits := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' && digits > 0) {
		i++
		digits++
	}
	const rest = "s elapsed)"
	j := 0
	for i < len(s) && j < len(rest) {
		if s[i] != rest[j] || digits == 0 {
			return false, false
		}
		i, j = i+1, j+1
	}
	if j < len(rest) {
		return true, false
	}
	for i < len(s) && (s[i] == '*' || s[i] == '_') {
		i++
	}
	return i == len(s), i == len(s)
}

// progressVerb reports whether word is a progress verb, or a prefix of one
// when the line may still grow.
func progressVerb(word string, partial bool) bool {
	for _, v := range progressVerbs {
		if word == v || partial && word != "" && hasPrefix(v, word) {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func trimLeftSpace(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func trimSpaceBytes(s []byte) []byte {
	s = trimLeftSpace(s)
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func trimEmphasis(s []byte) []byte {
	for len(s) > 0 && (s[0] == '*' || s[0] == '_') {
		s = s[1:]
	}
	return s
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func containsElapsed(s string) bool {
	for i := 0; i+len("s elapsed)") <= len(s); i++ {
		if s[i:i+len("s elapsed)")] == "s elapsed)" {
			return true
		}
	}
	return false
}
