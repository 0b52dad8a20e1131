package data

import (
	"bytes"
	"context"
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

// benchTokens returns the cleaned tokens of a synthetic corpus.
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

// BenchmarkDictLookup is the per-token cost of the provisional dictionary
// once it holds the corpus's words (the steady state of a long pass).
func BenchmarkDictLookup(b *testing.B) {
	toks := benchTokens(b, 20000)
	d := newWordDict()
	for _, t := range toks {
		d.id(t)
	}
	b.ReportMetric(float64(d.size()), "words")
	b.SetBytes(int64(len(toks)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range toks {
			d.id(t)
		}
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
