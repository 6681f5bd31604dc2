package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The reference is github.com/tiktoken-go/tokenizer with its split pattern
// run by regexp2's interpreter instead of the code generated for it, which
// has two bugs (see the README and internal/gen). internal/gen, a module of
// its own, records its answers in testdata/reference.txt.gz:
//
//	go generate ./internal/tokenizer
//
// after editing testdata/cases.txt or testdata/long.txt.

//go:embed testdata/reference.txt.gz
var referenceGz []byte

//go:embed testdata/cases.txt
var casesFile string

// cases are inputs that probe the pattern's corners, besides the corpus.
var cases = func() []string {
	var out []string
	for _, line := range strings.Split(casesFile, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			panic("testdata/cases.txt: " + line + ": " + err.Error())
		}
		out = append(out, s)
	}
	return out
}()

type refIDs struct {
	tag, text string
	ids       []int
}

// reference holds testdata/reference.txt.gz, parsed.
type reference struct {
	ids     []refIDs
	byText  map[string][]int
	splits  map[string][]string
	long    map[string][2]int    // name: bytes, count
	classes map[string][][2]rune // name: ranges
}

var (
	refOnce sync.Once
	ref     reference
	refErr  error
)

func loadRef(t testing.TB) *reference {
	t.Helper()
	refOnce.Do(func() { refErr = ref.parse() })
	if refErr != nil {
		t.Fatalf("testdata/reference.txt.gz: %v", refErr)
	}
	return &ref
}

func (r *reference) parse() error {
	zr, err := gzip.NewReader(bytes.NewReader(referenceGz))
	if err != nil {
		return err
	}
	r.byText, r.splits = map[string][]int{}, map[string][]string{}
	r.long, r.classes = map[string][2]int{}, map[string][][2]rune{}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "ids":
			tag, rest, _ := strings.Cut(rest, " ")
			s, rest, err := unquotePrefix(rest)
			if err != nil {
				return err
			}
			var ids []int
			for _, f := range strings.Fields(rest) {
				id, err := strconv.Atoi(f)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			r.ids = append(r.ids, refIDs{tag, s, ids})
			r.byText[s] = ids
		case "split":
			s, rest, err := unquotePrefix(rest)
			if err != nil {
				return err
			}
			var pieces []string
			for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
				var p string
				if p, rest, err = unquotePrefix(rest); err != nil {
					return err
				}
				pieces = append(pieces, p)
			}
			r.splits[s] = pieces
		case "long":
			f := strings.Fields(rest)
			n, err1 := strconv.Atoi(f[1])
			c, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil {
				return err1
			}
			r.long[f[0]] = [2]int{n, c}
		case "class":
			f := strings.Fields(rest)
			var ranges [][2]rune
			for _, lh := range f[1:] {
				l, h, _ := strings.Cut(lh, "-")
				lo, err1 := strconv.ParseUint(l, 16, 32)
				hi, err2 := strconv.ParseUint(h, 16, 32)
				if err1 != nil || err2 != nil {
					return err1
				}
				ranges = append(ranges, [2]rune{rune(lo), rune(hi)})
			}
			r.classes[f[0]] = ranges
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return zr.Close()
}

func unquotePrefix(s string) (unquoted, rest string, err error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	u, err := strconv.Unquote(q)
	return u, s[len(q):], err
}

// encode returns this package's token ids for s.
func encode(s string) []int {
	v := load()
	sp := splitter{s: s}
	var ids []int
	for i := 0; i < len(s); {
		e := sp.next(i)
		v.tokens(s[i:e], &ids, nil)
		i = e
	}
	return ids
}

// split returns this package's pieces of s.
func split(s string) []string {
	load()
	sp := splitter{s: s}
	var out []string
	for i := 0; i < len(s); {
		e := sp.next(i)
		out = append(out, s[i:e])
		i = e
	}
	return out
}

// mergeModes merges p with each implementation: the quadratic scan (nil if
// p is too long for it), the heap, and chunk by chunk.
func mergeModes(p string) (small, heap, chunked []int) {
	v := load()
	if len(p) <= maxSmall {
		v.mergeSmall(p, &small)
	}
	m := new(mergeScratch)
	m.merge(v, p, nil)
	m.appendIDs(v, p, &heap)
	m.mergeChunked(v, p, &chunked)
	return small, heap, chunked
}
