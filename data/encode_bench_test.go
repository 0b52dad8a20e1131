package data

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchInput writes a synthetic corpus of n reviews once per benchmark.
func benchInput(b *testing.B, n int64) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.txt")
	st, err := SynthFile(context.Background(), path, SynthOptions{N: n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return path, st.Bytes
}

// BenchmarkVocab measures counting words into a vocabulary: the encoding
// pass in provisional mode plus the merge, cut and remap.
func BenchmarkVocab(b *testing.B) {
	path, size := benchInput(b, 50_000)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Open(path, ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ps, err := encodePass(context.Background(), r, DefaultPreprocess(), nil, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		ps.vocabulary(DefaultVocabSize, DefaultMinCount, 0, nil)
		ps.store.release()
		r.Close()
	}
}

// BenchmarkEncode measures encoding with a fixed vocabulary (the test-set
// and evaluation path).
func BenchmarkEncode(b *testing.B) {
	path, size := benchInput(b, 50_000)
	p, err := Prepare(context.Background(), PrepOptions{Train: path, CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := EncodeFile(context.Background(), path, p.Vocab, DefaultPreprocess(), ReaderOptions{}, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTokens returns the cleaned tokens of a synthetic corpus, each a
// full slice expression as the tokenizer returns them.
func benchTokens(b *testing.B, n int64) [][]byte {
	var buf bytes.Buffer
	WriteSynth(context.Background(), &buf, SynthOptions{N: n, Seed: 1})
	tok := NewTokenizer(DefaultPreprocess())
	var arena []byte
	var ends []int
	for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		for _, t := range tok.Tokens(string(line)) {
			arena = append(arena, t...)
			ends = append(ends, len(arena))
		}
	}
	// Contiguous, as the tokenizer's output is.
	toks := make([][]byte, len(ends))
	start := 0
	for i, e := range ends {
		toks[i] = arena[start:e:e]
		start = e
	}
	return toks
}

// benchReviews is a synthetic corpus cleaned and cut into tokens, review
// by review, as the encoder's workers see it.
type benchReviews struct {
	buf    []byte // cleaned text of all reviews, 8 bytes of slack at the end
	spans  []span // tokens in buf
	ends   []int  // end of review i in spans
	tokens int
}

func newBenchReviews(b *testing.B, n int64) *benchReviews {
	b.Helper()
	var text bytes.Buffer
	WriteSynth(context.Background(), &text, SynthOptions{N: n, Seed: 1})
	tok := NewTokenizer(DefaultPreprocess())
	r := &benchReviews{}
	for _, line := range bytes.Split(text.Bytes(), []byte("\n")) {
		for _, t := range tok.Tokens(string(line)) {
			r.spans = append(r.spans, span{int32(len(r.buf)), int32(len(r.buf) + len(t))})
			r.buf = append(r.buf, t...)
		}
		r.ends = append(r.ends, len(r.spans))
	}
	r.buf = append(r.buf, make([]byte, 8)...)[:len(r.buf)]
	r.tokens = len(r.spans)
	return r
}

// BenchmarkDictLookup is the per-token cost of the provisional dictionary
// once it holds the corpus's words (the steady state of a long pass), in
// CPU nanoseconds per token (run with -cpu 1; wall time on a shared machine
// says little). The corpus is large enough that the table outgrows the
// first-level caches, as the 100k-word synthetic vocabulary does.
func BenchmarkDictLookup(b *testing.B) {
	for _, n := range []int64{2000, 40000} {
		b.Run(fmt.Sprintf("reviews=%d", n), func(b *testing.B) {
			r := newBenchReviews(b, n)
			d := newWordDict()
			var out []int32
			run := func() {
				lo := 0
				for _, hi := range r.ends {
					out = d.ids(r.buf, r.spans[lo:hi], out[:0])
					lo = hi
				}
			}
			run()
			defer lockThread()()
			b.ResetTimer()
			start := threadCPU(b)
			for i := 0; i < b.N; i++ {
				run()
			}
			b.ReportMetric(float64(threadCPU(b)-start)/float64(b.N*r.tokens), "cpu-ns/token")
			b.ReportMetric(float64(d.size()), "words")
		})
	}
}

// BenchmarkMapLookup is the same with a Go map, for comparison.
func BenchmarkMapLookup(b *testing.B) {
	toks := benchTokens(b, 20000)
	m := map[string]int32{}
	var counts []int64
	for _, t := range toks {
		if _, ok := m[string(t)]; !ok {
			m[string(t)] = int32(len(counts))
			counts = append(counts, 0)
		}
	}
	b.SetBytes(int64(len(toks)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range toks {
			counts[m[string(t)]]++
		}
	}
}

// BenchmarkPrepareEndToEnd measures a cold Prepare (build) and a warm one
// (cache hit) on a synthetic file.
func BenchmarkPrepareEndToEnd(b *testing.B) {
	path, size := benchInput(b, 50_000)
	for _, warm := range []bool{false, true} {
		name := "build"
		if warm {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if warm {
				p, err := Prepare(context.Background(), PrepOptions{Train: path, CacheDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !warm {
					os.RemoveAll(dir)
				}
				p, err := Prepare(context.Background(), PrepOptions{Train: path, CacheDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
	}
}
