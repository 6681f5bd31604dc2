package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// This file is a hand-written matcher for o200k_base's pre-tokenizer pattern
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}
//	| ?[^\s\p{L}\p{N}]+[\r\n/]*
//	|\s*[\r\n]+
//	|\s+(?!\S)
//	|\s+
//
// with backtracking semantics (the first alternative that matches wins), as
// in tiktoken. Each alternative is solved directly instead of by trial and
// error, so a piece costs time linear in the text it looks at.
//
// Like the regexp2 engine of the reference Go port, it works on runes and
// reads each invalid UTF-8 byte as U+FFFD (a symbol), while pieces keep the
// original bytes. \s is unicode.IsSpace, which is Unicode's White_Space, the
// same set Rust's regex (used by tiktoken) and regexp2 use.

// Rune classes, as bits of classTab.
const (
	cU  uint8 = 1 << iota // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cW                    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
	cL                    // \p{L}
	cN                    // \p{N}
	cS                    // \s
	cNL                   // \r or \n
	cP                    // [^\r\n\p{L}\p{N}]: the optional prefix of a word
	cO                    // [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls
)

// classTab holds the class of every rune in Unicode planes 0 and 1, which
// covers all scripts in common use and emoji; buildClasses fills it on load.
var classTab [0x20000]uint8

func buildClasses() {
	set := func(t *unicode.RangeTable, bits uint8) {
		for _, r := range t.R16 {
			for c := int(r.Lo); c <= int(r.Hi); c += int(r.Stride) {
				classTab[c] |= bits
			}
		}
		for _, r := range t.R32 {
			for c := int(r.Lo); c <= int(r.Hi) && c < len(classTab); c += int(r.Stride) {
				classTab[c] |= bits
			}
		}
	}
	set(unicode.Lu, cU|cL)
	set(unicode.Lt, cU|cL)
	set(unicode.Lm, cU|cW|cL)
	set(unicode.Lo, cU|cW|cL)
	set(unicode.Ll, cW|cL)
	set(unicode.M, cU|cW)
	set(unicode.N, cN)
	set(unicode.White_Space, cS) // what unicode.IsSpace tests
	classTab['\r'] |= cNL
	classTab['\n'] |= cNL
	for c, k := range classTab {
		classTab[c] = k | derived(k)
	}
}

// derived returns the prefix and punctuation bits implied by the others.
func derived(k uint8) uint8 {
	var d uint8
	if k&(cL|cN|cNL) == 0 {
		d |= cP
	}
	if k&(cL|cN|cS) == 0 {
		d |= cO
	}
	return d
}

// classify returns the class of any rune; it backs classTab above plane 1.
func classify(r rune) uint8 {
	var k uint8
	if unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M) {
		k |= cU
	}
	if unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M) {
		k |= cW
	}
	if unicode.IsLetter(r) {
		k |= cL
	}
	if unicode.IsNumber(r) {
		k |= cN
	}
	if unicode.IsSpace(r) {
		k |= cS
	}
	if r == '\r' || r == '\n' {
		k |= cNL
	}
	return k | derived(k)
}

// splitter finds the pieces of s.
type splitter struct {
	s string
	// eof is set when a decision depended on where s ends: reading past
	// the end, or a UTF-8 sequence cut short by it. A piece found without
	// setting eof is the same whatever text is appended later (the
	// pattern never looks behind), which is what Counter relies on.
	eof bool
}

// at returns the class and width of the rune at s[i:], or (0, 0) at the end.
func (sp *splitter) at(i int) (uint8, int) {
	if i < len(sp.s) && sp.s[i] < utf8.RuneSelf {
		return classTab[sp.s[i]], 1
	}
	return sp.atSlow(i)
}

func (sp *splitter) atSlow(i int) (uint8, int) {
	if i >= len(sp.s) {
		sp.eof = true
		return 0, 0
	}
	r, w := utf8.DecodeRuneInString(sp.s[i:])
	if r == utf8.RuneError && w == 1 && !utf8.FullRuneInString(sp.s[i:]) {
		sp.eof = true // the rest of this rune may be in text not yet seen
	}
	if r < rune(len(classTab)) {
		return classTab[r], w
	}
	return classify(r), w
}

// run returns the end of the run of runes in class k starting at i.
func (sp *splitter) run(i int, k uint8) int {
	for {
		for s := sp.s; i < len(s) && s[i] < utf8.RuneSelf && classTab[s[i]]&k != 0; {
			i++ // ASCII, the common case, without a call
		}
		c, w := sp.at(i)
		if c&k == 0 {
			return i
		}
		i += w
	}
}

// next returns the end of the piece that starts at p < len(s).
func (sp *splitter) next(p int) int {
	c0, w0 := sp.at(p)

	// Words: alternatives 1 and 2, each first with the one-rune prefix.
	if c0&cP != 0 {
		if e := sp.lower(p + w0); e >= 0 {
			return e
		}
	}
	if c0&(cU|cW) != 0 {
		if e := sp.lower(p); e >= 0 {
			return e
		}
	}
	if c0&cP != 0 {
		if e := sp.upper(p + w0); e >= 0 {
			return e
		}
	}
	if c0&cU != 0 {
		return sp.upper(p)
	}

	// \p{N}{1,3}
	if c0&cN != 0 {
		e := p + w0
		for range 2 {
			c, w := sp.at(e)
			if c&cN == 0 {
				break
			}
			e += w
		}
		return e
	}

	//  ?[^\s\p{L}\p{N}]+[\r\n/]*
	j := p
	if sp.s[p] == ' ' {
		j++
	}
	if e := sp.run(j, cO); e > j {
		for e < len(sp.s) && (sp.s[e] == '\r' || sp.s[e] == '\n' || sp.s[e] == '/') {
			e++
		}
		if e == len(sp.s) {
			sp.eof = true
		}
		return e
	}

	// Whitespace. \s*[\r\n]+ backtracks to the last newline of the run;
	// otherwise \s+(?!\S) leaves the run's last space to the next piece
	// (as the prefix of a word, say), unless the run is one rune or ends
	// the text, which \s+ and \s+(?!\S) take whole.
	e, nl, last := p, -1, p
	for {
		c, w := sp.at(e)
		if c&cS == 0 {
			break
		}
		if c&cNL != 0 {
			nl = e + w
		}
		last = e
		e += w
	}
	switch {
	case nl >= 0:
		return nl
	case e == len(sp.s) || last == p:
		// max only guards progress: a rune that is not a space matched
		// one of the alternatives above.
		return max(e, p+w0)
	default:
		return last
	}
}

// lower matches [U]*[W]+C? at i, returning its end or -1.
func (sp *splitter) lower(i int) int {
	lastW := -1 // end of the last W rune inside the U run
	for {
		c, w := sp.at(i)
		if c&cU == 0 {
			if c&cW != 0 { // a lower-case letter: [W]+ starts here
				return sp.contraction(sp.run(i, cW))
			}
			break
		}
		if c&cW != 0 {
			lastW = i + w
		}
		i += w
	}
	// Backtrack [U]* to the last rune that [W]+ accepts. The rune after it
	// is in U but not W, or ends the U run without being W, so [W]+ takes
	// exactly that one rune.
	if lastW < 0 {
		return -1
	}
	return sp.contraction(lastW)
}

// upper matches [U]+[W]*C? at i, returning its end or -1.
func (sp *splitter) upper(i int) int {
	e := sp.run(i, cU)
	if e == i {
		return -1
	}
	return sp.contraction(sp.run(e, cW))
}

// contraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d)? at e and returns the new
// end. Case folding makes s match ſ (U+017F) too, in tiktoken and here.
func (sp *splitter) contraction(e int) int {
	s := sp.s
	if e+1 >= len(s) {
		if e >= len(s) || s[e] == '\'' {
			sp.eof = true
		}
		return e
	}
	if s[e] != '\'' {
		return e
	}
	var want byte // required third byte, after the letter
	switch s[e+1] | 0x20 {
	case 's', 't', 'm', 'd':
		return e + 2
	case 'r', 'v':
		want = 'e'
	case 'l':
		want = 'l'
	default:
		if s[e+1] != 0xc5 { // first byte of ſ
			return e
		}
		want = 0xbf
	}
	if e+2 >= len(s) {
		sp.eof = true
		return e
	}
	if b := s[e+2]; b == want || want != 0xbf && b|0x20 == want {
		return e + 3
	}
	return e
}
