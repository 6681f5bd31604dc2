package tokenizer

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

//go:embed testdata/corpus.txt
var corpus string

// cases are inputs that probe the pattern's corners, besides the corpus.
var cases = []string{
	"", "a", " ", "\n", "hello world", "Hello World", "HELLO WORLD", "HelloWorld", "hELLO",
	// contractions
	"DON'T", "don't", "we're", "WE'RE", "We'Re", "I'll", "I'LL", "they've", "THEY'VE", "she'd", "I'm",
	"it'ſ", "IT'ſ", "x'Ll", "'s", "''s", "a'", "a' ", "a'l", "a'll", "a'r", "a'RE", "a'v", "a'ſx", "'tis",
	"x ' y", "rock'n'roll", "l'homme", "DON'Tx", "don'tcha",
	// whitespace
	"  \n  \n  x", "a\n \nb", "a \n\n b", "\u00a0\u3000a", "x\u0085y", "\t\tfoo", "  ", "a  ", "a  b",
	"a\t\tb", "\r\n\r\n", " \r\n", "\r \r", "\n\n\n", "x\n\n\n  y", "x  \n  ", "\v\f", "a\u2028b",
	"\u3000\u3000", "x\u2003\u2003y", "x \u00a0y", "\t\n\t\n\tz", strings.Repeat(" ", 100) + "x",
	"    \n    \n", "x\n   ", "x   \n", "\n \n \n ", " \u0085\u0085x",
	// invalid and truncated UTF-8
	"\xff", "x\xffy", "\xe2\x82", "\xe2\x82\xac", "abc\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"caf\xc3", "\x80\x80\x80 hi", " \xff\xfe", "\xffabc", "a\xff\xff\xff", "'\xc5", "it'\xc5", "it'\xc5\xbf",
	"\x00\x01\x02", "\x7f",
	// numbers
	"1", "12", "123", "1234", "12345", "1234567890", "3.14", "١٢٣٤", "Ⅻ", "1a2b3c", "a1", " 1", "1 ", "½¾",
	"12,345,678.90", "0x7fffffff", "v1.2.3",
	// special tokens are ordinary text
	"<|endoftext|>", "<|endofprompt|>", "<|endoftext|>hello",
	// emoji
	"👨‍👩‍👧‍👦", "👍🏽", "🇺🇸", "1️⃣", "x😀y", " 😀", "😀😀😀",
	// letters, marks and cases
	"ǅemal", "ǅǅǅ", "Aʰ", "ʰA", "AʰB", "ABʰCD", "aʰB", "e\u0301", "\u0301abc", "!\u0301", "\u0301\u0301",
	"1\u0301", "ꞴꞵꞶ", "ⅰⅱ", "𝔘𝔫𝔦", "中文abc", "abc中文", "Ab中", " \u0301A", "\u0301A", "A\u0301b",
	"ΑΒΓαβγ", "İstanbul", "ﬁ", "𐐀𐐨", "\U000E0041", "\U00020000\U00020001", "a\U0001D400b",
	// punctuation
	"...", " ...", " ...\n\n", "//", " //\n/", "a/b//c", "!!\r\n", "?!/\n/x", " (x)", "(hello", "\"quoted\"",
	"--------", " --\n", "#include <stdio.h>", "a.b.c", "x = y + z;",
}

func TestVocabMatchesReference(t *testing.T) {
	stock, _ := refs()
	v := load()
	n := 0
	for id := 0; ; id++ {
		tok, err := stock.Decode([]uint{uint(id)})
		if err != nil {
			break
		}
		n++
		if r := v.rank(tok); r != uint32(id) {
			t.Fatalf("rank(%q) = %d, want %d", tok, r, id)
		}
	}
	used := 0
	for _, e := range v.slots {
		if e != 0 {
			used++
		}
	}
	if n != 199998 || used != n {
		t.Fatalf("reference has %d tokens, table %d", n, used)
	}
	for _, s := range []string{"", "xyzzyxyzzy", strings.Repeat("a", 300)} {
		if r := v.rank(s); r != noRank {
			t.Errorf("rank(%q) = %d, want none", s, r)
		}
	}
}

// TestDataIsOpenAIs checks the embedded vocabulary against OpenAI's
// published o200k_base.tiktoken, without the reference library: written out
// in that format, it must have the SHA-256 that tiktoken expects.
func TestDataIsOpenAIs(t *testing.T) {
	v := load()
	toks := make([]string, v.ranks)
	for _, e := range v.slots {
		if e != 0 {
			off := e >> rankBits & (1<<offBits - 1)
			l := e >> (rankBits + offBits) & (1<<lenBits - 1)
			toks[e&(1<<rankBits-1)-1] = string(v.data[off : off+l])
		}
	}
	h := sha256.New()
	for rank, tok := range toks {
		fmt.Fprintf(h, "%s %d\n", base64.StdEncoding.EncodeToString([]byte(tok)), rank)
	}
	const want = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Errorf("vocabulary hashes to %s as a .tiktoken file, want %s", got, want)
	}
}

// TestClasses checks each rune class against regexp2, the reference's
// regexp engine: every rune of planes 0 and 1 (classTab) and a sample above.
func TestClasses(t *testing.T) {
	load()
	var runes []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r < 0xe000 || r >= rune(len(classTab)) && r%13 != 0 {
			continue // surrogates cannot be in UTF-8 text
		}
		runes = append(runes, r)
		if r < rune(len(classTab)) && classTab[r] != classify(r) {
			t.Fatalf("classTab[%U] = %08b, classify %08b", r, classTab[r], classify(r))
		}
	}
	for _, c := range []struct {
		bit   uint8
		class string
	}{
		{cU, `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`},
		{cW, `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`},
		{cL, `\p{L}`},
		{cN, `\p{N}`},
		{cS, `\s`},
		{cNL, `[\r\n]`},
		{cP, `[^\r\n\p{L}\p{N}]`},
		{cO, `[^\s\p{L}\p{N}]`},
	} {
		re := regexp2.MustCompile(c.class, regexp2.None)
		in := make([]bool, len(runes))
		m, err := re.FindRunesMatch(runes)
		for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
			in[m.RuneIndex] = true
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range runes {
			k := classify(r)
			if r < rune(len(classTab)) {
				k = classTab[r]
			}
			if (k&c.bit != 0) != in[i] {
				t.Fatalf("%U: class %s is %v, regexp2 says %v", r, c.class, k&c.bit != 0, in[i])
			}
		}
	}
}

// check compares this package with the reference on s.
func check(t *testing.T, s string) {
	t.Helper()
	stock, fixed := refs()
	got, want := encode(s), refEncode(t, fixed, s)
	if !slices.Equal(got, want) {
		t.Errorf("encode(%q)\n got %v\nwant %v\n pieces %q\nwant pieces %q", s, got, want, split(s), refSplit(t, s))
		return
	}
	if n := Count(s); n != len(want) {
		t.Errorf("Count(%q) = %d, want %d", s, n, len(want))
	}
	if n := CountBytes([]byte(s)); n != len(want) {
		t.Errorf("CountBytes(%q) = %d, want %d", s, n, len(want))
	}
	if stockSafe(s) {
		if stockIDs := refEncode(t, stock, s); !slices.Equal(got, stockIDs) {
			t.Errorf("encode(%q) = %v, stock reference %v", s, got, stockIDs)
		}
	}
}

func TestCases(t *testing.T) {
	for _, s := range cases {
		check(t, s)
		if !slices.Equal(split(s), refSplit(t, s)) {
			t.Errorf("split(%q) = %q, want %q", s, split(s), refSplit(t, s))
		}
	}
}

func TestCorpus(t *testing.T) {
	check(t, corpus)
	for _, line := range strings.SplitAfter(corpus, "\n") {
		check(t, line)
	}
	for _, para := range strings.SplitAfter(corpus, "\n\n") {
		check(t, para)
	}
	t.Logf("corpus: %d bytes, %d tokens", len(corpus), Count(corpus))
}

// TestStockDivergence documents where the unpatched reference differs (see
// ref_test.go): on whitespace runs with more than one group of newlines.
func TestStockDivergence(t *testing.T) {
	stock, _ := refs()
	diffs := 0
	for _, s := range append([]string{corpus, "a\n \nb", "    x = 1\n    \n    y = 2\n", "a\x7fb"}, cases...) {
		if got, st := Count(s), len(refEncode(t, stock, s)); got != st {
			diffs++
			if stockSafe(s) {
				t.Errorf("Count(%q) = %d, stock reference %d", s, got, st)
			}
			if len(s) < 40 {
				t.Logf("%q: %d tokens %q; stock reference says %d", s, got, split(s), st)
			}
		}
	}
	if diffs == 0 {
		t.Error("the stock reference agrees everywhere; is its regexp fixed? Then drop stockSafe.")
	}
}

// TestLongPieces checks exactness and speed on 1 MB single pieces, where
// tiktoken's plain merge loop is quadratic.
func TestLongPieces(t *testing.T) {
	_, fixed := refs()
	mb := 1 << 20
	if raceEnabled || testing.Short() {
		mb = 1 << 17 // the reference takes a minute on 1 MB under -race
	}
	r := rand.New(rand.NewPCG(7, 8))
	randomLetters := make([]byte, mb)
	for i := range randomLetters {
		randomLetters[i] = byte('a' + r.IntN(26))
	}
	for _, s := range []string{
		string(randomLetters), // like a long identifier or base64 without digits
		strings.Repeat("a", mb),
		strings.Repeat("ab", mb/2),
		strings.Repeat("abcdefghijklmnopqrstuvwxyz", mb/26),
		strings.Repeat("中", mb/3),
		strings.Repeat("!", mb),
		strings.Repeat(" ", mb),
		strings.Repeat(" \n", mb/2),
		strings.Repeat("1", mb),
		strings.Repeat("A", mb) + "a",
	} {
		start := time.Now()
		got := Count(s)
		took := time.Since(start)
		want, _ := fixed.Count(s)
		if got != want {
			t.Errorf("Count(%.10q... %d bytes) = %d, want %d", s, len(s), got, want)
		}
		t.Logf("%.12q… %d bytes: %d tokens in %v", s, len(s), got, took)
		if !raceEnabled && took > time.Second { // typically 0.05-0.3 s
			t.Errorf("took %v", took)
		}
	}
}

func TestCountAllocs(t *testing.T) {
	Preload()
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if n := testing.AllocsPerRun(20, func() { Count(corpus) }); n != 0 {
		t.Errorf("Count allocates %v times", n)
	}
	long := strings.Repeat("abc", 1000)
	Count(long)
	if n := testing.AllocsPerRun(20, func() { Count(long) }); n != 0 {
		t.Errorf("Count of a long piece allocates %v times", n)
	}
}

func TestConcurrent(t *testing.T) {
	want := Count(corpus)
	done := make(chan int)
	for range 4 {
		go func() {
			var c Counter
			c.Add(corpus)
			done <- Count(corpus) + c.Total() - want
		}()
	}
	for range 4 {
		if got := <-done; got != want {
			t.Errorf("concurrent count %d, want %d", got, want)
		}
	}
}

// TestLoadStats measures Preload in a fresh process, where nothing has
// touched the vocabulary yet.
func TestLoadStats(t *testing.T) {
	if os.Getenv("TOKENIZER_LOADSTATS") == "1" {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		Preload()
		took := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		fmt.Printf("LOADSTATS load=%d heap=%d\n", took, int64(after.HeapAlloc)-int64(before.HeapAlloc))
		return
	}
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadStats$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOKENIZER_LOADSTATS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var took time.Duration
	var heap int64
	i := strings.Index(string(out), "LOADSTATS")
	if _, err := fmt.Sscanf(string(out[max(i, 0):]), "LOADSTATS load=%d heap=%d", &took, &heap); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("Preload: %v; resident heap %.2f MB (+%d KB class table in BSS); data file %d bytes",
		took, float64(heap)/(1<<20), len(classTab)>>10, len(vocabGz))
	if heap > 8<<20 {
		t.Errorf("vocabulary takes %d bytes, want at most 8 MB", heap)
	}
}

// TestRandomStrings compares with the reference on random strings over an
// alphabet chosen to hit every branch of the pattern; fuzzing mostly makes
// bytes, this makes structure.
func TestRandomStrings(t *testing.T) {
	alphabet := []string{
		" ", " ", "  ", "\n", "\r", "\t", "\r\n", "\u00a0", "\u3000", "\u0085", "\v",
		"a", "z", "B", "Q", "s", "t", "S", "T", "d", "m", "ll", "LL", "re", "VE", "ſ", "'", "'", "\"",
		"1", "23", "٣", "Ⅻ", "½", "!", "/", "//", "-", ".", "\x7f", "\x00",
		"\u0301", "\u0308", "ʰ", "ǅ", "中", "の", "한", "ـ", "é", "É", "ß", "İ",
		"😀", "👍🏽", "\u200d", "\ufe0f", "𝔘", "\xff", "\xe2\x82", "\xc5",
	}
	r := rand.New(rand.NewPCG(5, 6))
	iters := 20000
	if testing.Short() || raceEnabled {
		iters = 2000
	}
	var b strings.Builder
	for range iters {
		b.Reset()
		for n := 1 + r.IntN(12); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		check(t, b.String())
		if t.Failed() {
			return
		}
	}
}

func TestCountInvalidUTF8Bytes(t *testing.T) {
	// Every byte value, alone and after a letter, must count like the reference.
	for b := range 256 {
		check(t, string([]byte{byte(b)}))
		check(t, "x"+string([]byte{byte(b)})+"y ")
	}
	if utf8.ValidString("\xff") {
		t.Fatal("unreachable")
	}
}
