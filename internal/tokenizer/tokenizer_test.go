package tokenizer

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

//go:embed testdata/corpus.txt
var corpus string

// TestVocabShape checks the hash table against the vocabulary's size;
// TestDataIsOpenAIs checks its contents.
func TestVocabShape(t *testing.T) {
	v := load()
	used := 0
	for _, e := range v.slots {
		if e != 0 {
			used++
		}
	}
	if v.ranks != 199998 || used != v.ranks || v.maxLen != 128 {
		t.Fatalf("%d ranks, %d in the table, longest %d; want 199998 and 128", v.ranks, used, v.maxLen)
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
// regexp engine, for every rune but the surrogates (classTab for planes 0
// and 1, classify above).
func TestClasses(t *testing.T) {
	ref := loadRef(t)
	load()
	classes := []struct {
		bit  uint8
		name string
		next int // the first range not wholly below the rune
	}{{cU, "U", 0}, {cW, "W", 0}, {cL, "L", 0}, {cN, "N", 0}, {cS, "S", 0}, {cNL, "NL", 0}, {cP, "P", 0}, {cO, "O", 0}}
	for _, c := range classes {
		if len(ref.classes[c.name]) == 0 {
			t.Fatalf("no class %s in the reference", c.name)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r < 0xe000 {
			continue
		}
		var k uint8
		if r < rune(len(classTab)) {
			k = classTab[r]
		} else {
			k = classify(r)
		}
		for i := range classes {
			c := &classes[i]
			ranges := ref.classes[c.name]
			for c.next < len(ranges) && ranges[c.next][1] < r {
				c.next++
			}
			in := c.next < len(ranges) && ranges[c.next][0] <= r
			if (k&c.bit != 0) != in {
				t.Fatalf("%U: class %s is %v, regexp2 says %v", r, c.name, k&c.bit != 0, in)
			}
		}
	}
	// classTab is filled from the same tables as classify, differently.
	for r := rune(0); r < rune(len(classTab)); r++ {
		if k := classify(r); classTab[r] != k {
			t.Fatalf("classTab[%U] = %08b, classify %08b", r, classTab[r], k)
		}
	}
}

// TestReference compares token ids with the reference's on the cases, the
// corpus whole and by lines and paragraphs, every byte value, and random
// strings over an alphabet chosen to hit every branch of the pattern.
func TestReference(t *testing.T) {
	ref := loadRef(t)
	tags := map[string]int{}
	for _, r := range ref.ids {
		tags[r.tag]++
		if got := encode(r.text); !slices.Equal(got, r.ids) {
			t.Errorf("encode(%q)\n got %v\nwant %v\n pieces %q", r.text, got, r.ids, split(r.text))
			continue
		}
		if n := Count(r.text); n != len(r.ids) {
			t.Errorf("Count(%q) = %d, want %d", r.text, n, len(r.ids))
		}
		if n := CountBytes([]byte(r.text)); n != len(r.ids) {
			t.Errorf("CountBytes(%q) = %d, want %d", r.text, n, len(r.ids))
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("inputs checked: %v; corpus %d bytes, %d tokens", tags, len(corpus), Count(corpus))
	for tag, want := range map[string]int{"case": len(cases), "corpus": 1, "line": 100, "para": 20, "byte": 512, "random": 10000} {
		if tags[tag] < want {
			t.Errorf("%d %q inputs in the reference, want %d", tags[tag], tag, want)
		}
	}
}

// TestSplit compares the pieces of each case with the reference pattern's.
func TestSplit(t *testing.T) {
	ref := loadRef(t)
	for _, s := range cases {
		want, ok := ref.splits[s]
		if !ok {
			t.Fatalf("%q: no pieces in the reference; regenerate it", s)
		}
		if got := split(s); !slices.Equal(got, want) {
			t.Errorf("split(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestLongPieces checks the counts of 1 MB single pieces (testdata/long.txt),
// where tiktoken's plain merge loop is quadratic.
func TestLongPieces(t *testing.T) {
	ref := loadRef(t)
	inputs := pathological(1 << 20)[1:]
	for _, in := range inputs {
		want, ok := ref.long[in.name]
		if !ok || want[0] != len(in.text) {
			t.Fatalf("%s: no count for %d bytes in the reference; regenerate it", in.name, len(in.text))
		}
		if got := Count(in.text); got != want[1] {
			t.Errorf("Count(%s, %d bytes) = %d, want %d", in.name, len(in.text), got, want[1])
		}
	}
	if len(inputs) != len(ref.long) {
		t.Errorf("%d long inputs, %d in the reference", len(inputs), len(ref.long))
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
