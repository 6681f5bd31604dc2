// Command gen writes the o200k_base vocabulary used by package tokenizer.
//
// It reads the ranks from github.com/tiktoken-go/tokenizer (a Go copy of
// OpenAI's MIT-licensed tiktoken data) and writes them in a compact form:
//
//	gzip(
//	  "o200k1\n"                      magic
//	  uvarint n                       number of ranks
//	  uvarint total                   sum of token lengths
//	  n × uvarint len                 token length per rank (0: unused rank)
//	  total bytes                     token bytes, concatenated in rank order
//	)
//
// Lengths and bytes are kept apart because each compresses better alone.
//
// Before writing, it checks that the ranks are exactly OpenAI's published
// o200k_base.tiktoken: the file they would make has the SHA-256 that tiktoken
// itself expects of it.
//
// With -testdata, it also writes the reference's token ids and counts for
// the tokenizer's tests (see writeReference), so that they need neither
// tiktoken-go nor regexp2: this program is a module of its own, and the
// main module does not require either.
//
// Run it from the main module's root with
//
//	go generate ./internal/tokenizer
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/tiktoken-go/tokenizer"
)

// tiktokenSHA256 is the hash tiktoken checks o200k_base.tiktoken against
// (tiktoken_ext/openai_public.py).
const tiktokenSHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d" //nolint:gosec // a file hash, not a credential

func main() {
	out := flag.String("o", "o200k_base.bin.gz", "output file")
	testdata := flag.String("testdata", "", "if set, the tokenizer's testdata directory, to write reference.txt.gz into")
	flag.Parse()

	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		log.Fatal(err)
	}
	// The reference has no exported rank table, but decoding one id at a time
	// yields each token's bytes. Ranks are dense; stop after a long gap.
	var toks [][]byte
	for id, misses := 0, 0; misses < 4096; id++ {
		s, err := enc.Decode([]uint{uint(id)})
		if err != nil {
			misses++
			toks = append(toks, nil)
			continue
		}
		misses = 0
		toks = append(toks, []byte(s))
	}
	for len(toks) > 0 && toks[len(toks)-1] == nil {
		toks = toks[:len(toks)-1]
	}

	h := sha256.New()
	for rank, t := range toks {
		fmt.Fprintf(h, "%s %d\n", base64.StdEncoding.EncodeToString(t), rank)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != tiktokenSHA256 {
		log.Fatalf("ranks hash to %s as a .tiktoken file, want %s", got, tiktokenSHA256)
	}

	var lens, data bytes.Buffer
	maxLen, unused := 0, 0
	for _, t := range toks {
		lens.Write(binary.AppendUvarint(nil, uint64(len(t))))
		data.Write(t)
		maxLen = max(maxLen, len(t))
		if len(t) == 0 {
			unused++
		}
	}

	var raw bytes.Buffer
	raw.WriteString("o200k1\n")
	raw.Write(binary.AppendUvarint(nil, uint64(len(toks))))
	raw.Write(binary.AppendUvarint(nil, uint64(data.Len())))
	raw.Write(lens.Bytes())
	raw.Write(data.Bytes())

	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = zw.Write(raw.Bytes()) // to memory; Close reports any failure
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, gz.Bytes(), 0o644); err != nil { //nolint:gosec // a checked-in data file
		log.Fatal(err)
	}
	fmt.Printf("%s: %d ranks (%d unused), %d token bytes, longest %d, %d bytes raw, %d gzipped\n",
		*out, len(toks), unused, data.Len(), maxLen, raw.Len(), gz.Len())

	if *testdata != "" {
		if err := writeReference(*testdata); err != nil {
			log.Fatal(err)
		}
	}
}
