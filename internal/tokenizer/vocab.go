package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"sync"
	"unsafe"
)

//go:generate go run -C internal/gen . -o ../../o200k_base.bin.gz -testdata ../../testdata

// vocabGz is o200k_base's rank table; see internal/gen for its format.
//
//go:embed o200k_base.bin.gz
var vocabGz []byte

// noRank marks a byte string that is not a token.
const noRank = ^uint32(0)

// A hash slot packs everything a lookup needs into one word, so a probe costs
// one load plus, on a tag hit, one comparison against the token bytes:
//
//	bits  0-17  rank+1 (0 means empty)
//	bits 18-38  offset of the token in vocab.data
//	bits 39-46  token length
//	bits 47-63  tag: the top 17 bits of the token's hash
const (
	rankBits = 18
	offBits  = 21
	lenBits  = 8
	tagShift = rankBits + offBits + lenBits
)

type vocab struct {
	data   []byte   // token bytes, concatenated in rank order
	slots  []uint64 // open-addressing hash table, see above
	mask   uint64   // len(slots)-1
	seed   [2]uint64
	maxLen int // longest token; longer strings are never looked up
	ranks  int // number of ranks
	// pairs holds the rank of every two-byte string, the first lookups of
	// every merge, so they skip hashing.
	pairs []uint32
	// filter has one bit per token, at bits 0-20 of its hash. It is 256 KB,
	// which stays in cache, so most lookups of strings that are not tokens
	// (most lookups while merging) never touch the 4 MB slot table.
	filter []uint64
}

const filterBits = 21

var (
	loadOnce sync.Once
	table    *vocab
)

// load returns the vocabulary, decoding it on first use.
func load() *vocab {
	loadOnce.Do(func() {
		buildClasses()
		v, err := decodeVocab(vocabGz)
		if err != nil {
			panic("tokenizer: embedded o200k_base data: " + err.Error())
		}
		table = v
	})
	return table
}

func decodeVocab(gz []byte) (*vocab, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(zr)
	magic := make([]byte, 7)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "o200k1\n" {
		return nil, errors.New("bad magic")
	}
	n, err1 := binary.ReadUvarint(br)
	total, err2 := binary.ReadUvarint(br)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if n >= 1<<rankBits-1 || total >= 1<<offBits {
		return nil, fmt.Errorf("%d ranks, %d bytes: too large for the hash slots", n, total)
	}
	lens := make([]uint8, n)
	var sum uint64
	for i := range lens {
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if l >= 1<<lenBits {
			return nil, fmt.Errorf("token %d is %d bytes long", i, l)
		}
		lens[i] = uint8(l)
		sum += l
	}
	if sum != total {
		return nil, errors.New("lengths do not add up")
	}
	v := &vocab{data: make([]byte, total), ranks: int(n)}
	v.seed[0], v.seed[1] = rand.Uint64()|1, rand.Uint64() //nolint:gosec // a hash seed against collisions, not a secret
	if _, err := io.ReadFull(br, v.data); err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing data")
	}

	// A load factor below one half keeps linear probe chains short.
	size := uint64(1)
	for size < 2*n {
		size <<= 1
	}
	v.slots = make([]uint64, size)
	v.filter = make([]uint64, 1<<filterBits/64)
	v.mask = size - 1
	v.pairs = make([]uint32, 1<<16)
	for i := range v.pairs {
		v.pairs[i] = noRank
	}
	off := uint64(0)
	for r, l := range lens {
		if l == 0 {
			continue
		}
		tok := v.data[off : off+uint64(l)]
		if l == 2 {
			v.pairs[uint16(tok[0])<<8|uint16(tok[1])] = uint32(r)
		}
		h := v.hash(unsafe.String(&tok[0], len(tok)))
		v.filter[h>>6&(1<<(filterBits-6)-1)] |= 1 << (h & 63)
		i := h & v.mask
		for v.slots[i] != 0 {
			i = (i + 1) & v.mask
		}
		v.slots[i] = h>>tagShift<<tagShift | uint64(l)<<(rankBits+offBits) | off<<rankBits | uint64(r+1)
		off += uint64(l)
		v.maxLen = max(v.maxLen, int(l))
	}
	return v, nil
}

// pair returns the rank of s[i:i+2].
func (v *vocab) pair(s string, i int) uint32 {
	return v.pairs[uint16(s[i])<<8|uint16(s[i+1])]
}

// rank returns the rank (token id) of s, or noRank if s is not a token.
func (v *vocab) rank(s string) uint32 {
	if len(s) > v.maxLen {
		return noRank
	}
	h := v.hash(s)
	if v.filter[h>>6&(1<<(filterBits-6)-1)]&(1<<(h&63)) == 0 {
		return noRank
	}
	tag := h >> tagShift
	for i := h & v.mask; ; i = (i + 1) & v.mask {
		e := v.slots[i]
		if e == 0 {
			return noRank
		}
		if e>>tagShift == tag {
			off := e >> rankBits & (1<<offBits - 1)
			l := e >> (rankBits + offBits) & (1<<lenBits - 1)
			if int(l) == len(s) && equal(unsafe.String(&v.data[off], l), s) {
				return uint32(e&(1<<rankBits-1)) - 1
			}
		}
	}
}

// hash is a small wyhash-like hash with a random seed, written out for
// strings of up to 16 bytes (almost all lookups), for which it costs a
// fraction of hash/maphash's chain of calls.
func (v *vocab) hash(s string) uint64 {
	n := len(s)
	var a, b uint64
	switch {
	case n > 16:
		return v.hashLong(s)
	case n >= 8:
		a, b = le64(s, 0), le64(s, n-8)
	case n >= 4:
		a, b = uint64(le32(s, 0)), uint64(le32(s, n-4))
	case n > 0:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return mix(a^v.seed[0], b^v.seed[1]^uint64(n))
}

func (v *vocab) hashLong(s string) uint64 {
	h := v.seed[1] ^ uint64(len(s))
	tail := s[len(s)-16:]
	for ; len(s) > 16; s = s[16:] {
		h = mix(le64(s, 0)^v.seed[0], le64(s, 8)^h)
	}
	return mix(le64(tail, 0)^v.seed[0], le64(tail, 8)^h)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// le64 and le32 load 8 and 4 bytes of s from i, which must be in range.
func le64(s string, i int) uint64 {
	_ = s[i+7]
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
}

func le32(s string, i int) uint32 {
	_ = s[i+3]
	return binary.LittleEndian.Uint32(unsafe.Slice(unsafe.StringData(s[i:]), 4))
}

// equal is s == t for len(s) == len(t), with inline loads for short strings.
func equal(s, t string) bool {
	switch n := len(s); {
	case n > 16:
		return s == t
	case n >= 8:
		return le64(s, 0) == le64(t, 0) && le64(s, n-8) == le64(t, n-8)
	case n >= 4:
		return le32(s, 0) == le32(t, 0) && le32(s, n-4) == le32(t, n-4)
	default:
		return n == 0 || s[0] == t[0] && s[n>>1] == t[n>>1] && s[n-1] == t[n-1]
	}
}
