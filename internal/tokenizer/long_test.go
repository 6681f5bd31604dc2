package tokenizer

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer/internal/recipe"
)

// workOf counts s as Count does, with a scratch of its own, and returns the
// count, the bytes it merged (each byte of a piece that is not one token,
// and again for every repair window and seam test) and how many pieces
// fell back to the heap on the whole piece.
func workOf(s string) (n, merged, wholes int) {
	v := load()
	m := new(mergeScratch)
	sp := splitter{s: s}
	for i := 0; i < len(s); {
		e := sp.next(i)
		switch p := s[i:e]; {
		case v.rank(p) != noRank:
			n++
		case len(p) <= maxSmall:
			n += v.mergeSmall(p, nil)
			merged += len(p)
		default:
			n += m.mergeLong(v, p, nil)
		}
		i = e
	}
	return n, merged + m.work, m.wholes
}

// TestPathologicalWork bounds the work of counting each pathological input
// without timing it: runs of one character and other periodic text merge
// only a few chunks and then compare bytes, and no input, however random,
// merges more than about three times its length or falls back to the heap
// on a whole piece. Before chunking, a run of one byte was merged byte by byte
// with a heap of the piece's size (some 50 bytes of memory per byte).
func TestPathologicalWork(t *testing.T) {
	periodic := map[string]bool{
		"a": true, "x": true, "dash": true, "equals": true, "dot": true, "space": true,
		"newline": true, "han": true, "0xff": true, "nul": true, "abc": true,
	}
	size := 1 << 20
	if raceEnabled || testing.Short() {
		size = 1 << 18
	}
	for _, in := range pathological(size) {
		n, merged, wholes := workOf(in.text)
		if want := Count(in.text); n != want {
			t.Fatalf("%s: workOf counts %d, Count %d", in.name, n, want)
		}
		perByte := float64(merged) / float64(len(in.text))
		t.Logf("%-8s %7d tokens, merged %.3f bytes per byte", in.name, n, perByte)
		limit := 3.0
		if periodic[in.name] {
			limit = 0.5
		}
		if perByte > limit || wholes > 0 {
			t.Errorf("%s: merged %.3f bytes per byte (want at most %.1f), %d whole-piece merges", in.name, perByte, limit, wholes)
		}
	}
}

// TestPathologicalSpeed compares the time per byte of each pathological
// input with English prose of the same size, counted in the same process.
// The bound is generous and each input gets several tries, so that a busy
// machine does not fail it; TestPathologicalWork is the exact check.
func TestPathologicalSpeed(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("timing")
	}
	Preload()
	const factor = 20 // random text without spaces is 4-9× here, and was 30-100×
	inputs := pathological(1 << 18)
	best := func(s string) time.Duration {
		d := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			Count(s)
			d = min(d, time.Since(start))
		}
		return d
	}
	for _, in := range inputs[1:] {
		var english, took time.Duration
		for try := 0; try < 5; try++ {
			english, took = best(inputs[0].text), best(in.text)
			if took <= factor*english {
				break
			}
		}
		t.Logf("%-8s %5.1f ns/byte, %4.1f× English", in.name, float64(took)/float64(len(in.text)), float64(took)/float64(english))
		if took > factor*english {
			t.Errorf("%s: %v, English of the same size %v: more than %d×", in.name, took, english, factor)
		}
	}
}

// TestCountLongAllocs checks that long pieces are merged in buffers of
// bounded size, reused: before chunking, a 1 MB piece took some 50 MB.
func TestCountLongAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	Preload()
	for _, in := range pathological(1 << 20) {
		Count(in.text)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const runs = 5
		for range runs {
			Count(in.text)
		}
		runtime.ReadMemStats(&after)
		// A garbage collection may empty the scratch pool meanwhile, so
		// allow for one scratch (a few hundred KB) being made again.
		if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 256<<10 {
			t.Errorf("%s: Count allocates %d bytes per 1 MB", in.name, perRun)
		}
	}
}

// TestTokensMergeToThemselves checks what the merges rely on to skip work:
// every token of two bytes or more, merged on its own, is that one token.
func TestTokensMergeToThemselves(t *testing.T) {
	v := load()
	m := new(mergeScratch)
	for _, e := range v.slots {
		off := e >> rankBits & (1<<offBits - 1)
		l := e >> (rankBits + offBits) & (1<<lenBits - 1)
		if e == 0 || l < 2 {
			continue
		}
		if tok := string(v.data[off : off+l]); m.merge(v, tok, nil) != 1 {
			t.Fatalf("token %q merges into more than one part", tok)
		}
	}
}

// TestMergeModesAgree compares segment and chunk merging with the heap,
// itself checked against the reference, on long pieces made to strain the
// seams: random text over small alphabets, runs broken at random, lengths
// around the segment and chunk sizes.
func TestMergeModesAgree(t *testing.T) {
	v := load()
	alphabets := [][]string{
		{"a", "b"}, {"a", "a", "a", "b"}, {"-", "-", "-", "-", "=", " "}, {" ", " ", " ", "\n"},
		strings.Split("abcdefghijklmnopqrstuvwxyz", ""), strings.Split("etaoinshr", ""),
		{"中", "文", "の", "字"}, {"\xff", "\xe4", "\xb8", "\xad", "a"}, {"!", "!", ".", "..", "/"},
		{"ab", "ba", "abc", "cab"}, {"x", "xx", "xxxxxxxxxxxxxxxx", "y"},
		{"é", "e", "\u0301", "E"}, {"0", "1", "00", "7"},
	}
	lengths := []int{65, 100, 200, 1000, segLen * 3, chunkLen - 1, chunkLen + 7, minChunked - 1, minChunked, minChunked + 1, 3*chunkLen + 100, 40_000}
	if raceEnabled || testing.Short() {
		lengths = lengths[:10]
	}
	m := new(mergeScratch)
	seed := uint64(1)
	for _, alphabet := range alphabets {
		for _, n := range lengths {
			seed++
			p := recipe.RandomText(seed, n, alphabet...)
			var heap, long []int
			m.merge(v, p, nil)
			m.appendIDs(v, p, &heap)
			m.mergeLong(v, p, &long)
			if !slices.Equal(heap, long) {
				t.Fatalf("%d bytes of %q: heap gives %d tokens, mergeLong %d", n, alphabet, len(heap), len(long))
			}
			if len(p) < minChunked {
				var chunked []int
				m.mergeChunked(v, p, &chunked)
				if !slices.Equal(heap, chunked) {
					t.Fatalf("%d bytes of %q: heap gives %d tokens, mergeChunked %d", n, alphabet, len(heap), len(chunked))
				}
			}
		}
	}
	if m.wholes > 0 {
		t.Logf("%d whole-piece merges", m.wholes)
	}
}

func TestCountContext(t *testing.T) {
	s := corpus + strings.Repeat("x", 1<<20) + corpus
	want := Count(s)
	if n, err := CountContext(context.Background(), s); n != want || err != nil {
		t.Fatalf("CountContext = %d, %v; want %d", n, err, want)
	}
	if n, err := CountBytesContext(context.Background(), []byte(s)); n != want || err != nil {
		t.Fatalf("CountBytesContext = %d, %v; want %d", n, err, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := CountContext(ctx, s); n != 0 || err != context.Canceled {
		t.Fatalf("cancelled CountContext = %d, %v", n, err)
	}
	// A context that ends during the count: the long piece is given up
	// at its first chunk, the pieces before it stay counted.
	done := make(chan struct{})
	close(done)
	n, ok := count(s, done)
	if ok || n < Count(corpus[:checkEvery%len(corpus)]) || n > Count(corpus) {
		t.Fatalf("count with done closed = %d, %v; the corpus alone is %d tokens", n, ok, Count(corpus))
	}
	if n := load().tokens(strings.Repeat("ab", 1<<20), nil, done); n != -1 {
		t.Fatalf("tokens of a long piece with done closed = %d, want -1", n)
	}
}
