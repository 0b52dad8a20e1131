package cuda_test

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"trainer/data"
)

// Sizes of the benchmark: the default model (E=128, H=256, one layer,
// last-state pooling, vocabulary 20000), batches of 256 reviews with
// Amazon-like lengths (mean about 80 tokens, at most 256), bucketed by
// length as the fastest PyTorch configuration is.
const (
	benchVocab     = 20000
	benchEmbed     = 128
	benchHidden    = 256
	benchBatch     = 256
	benchMaxLen    = 256
	benchBatches   = 64 // distinct batches, cycled
	epochReviews   = 3_600_000
	benchWarmup    = benchBatches // one step on every batch shape: workspace growth stays out of the timing
	benchStepsDflt = 200
)

// benchBatchesFor generates the synthetic batches deterministically.
func benchBatchesFor() []data.Batch {
	rng := rand.New(rand.NewPCG(2024, 7))
	n := benchBatch * benchBatches
	reviews := make([][]int32, n)
	labels := make([]uint8, n)
	for i := range reviews {
		l := min(benchMaxLen, 8+int(rng.ExpFloat64()*72))
		r := make([]int32, l)
		for j := range r {
			r[j] = int32(2 + rng.IntN(benchVocab-2))
		}
		reviews[i] = r
		labels[i] = uint8(rng.IntN(2))
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return len(reviews[a]) - len(reviews[b]) })
	out := make([]data.Batch, benchBatches)
	for k := range out {
		var rs [][]int32
		var ls []uint8
		for _, i := range idx[k*benchBatch : (k+1)*benchBatch] {
			rs = append(rs, reviews[i])
			ls = append(ls, labels[i])
		}
		out[k] = data.MakeBatch(rs, ls, benchMaxLen)
	}
	// Shuffle the bucket order, as a length-bucketed sampler does.
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// writeBatches stores the batches for gpu_bench.py: little-endian int32
// header (magic 0x42415443, count, rows, vocab, embed, hidden), then per
// batch its width T, lengths [rows], tokens [rows*T] and labels [rows]
// (int32 0/1).
func writeBatches(path string, bs []data.Batch) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := func(v ...int32) {
		if err == nil {
			err = binary.Write(f, binary.LittleEndian, v)
		}
	}
	w(0x42415443, int32(len(bs)), benchBatch, benchVocab, benchEmbed, benchHidden)
	for _, b := range bs {
		w(int32(b.MaxLen))
		w(b.Lengths...)
		w(b.Tokens...)
		lab := make([]int32, b.Size)
		for i, l := range b.Labels {
			lab[i] = int32(l)
		}
		w(lab...)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readBatches is the reader gpu_bench.py implements, in Go, to pin the
// file format.
func readBatches(path string) ([]data.Batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hdr [6]int32
	if err := binary.Read(f, binary.LittleEndian, &hdr); err != nil {
		return nil, err
	}
	var out []data.Batch
	for k := 0; k < int(hdr[1]); k++ {
		var T int32
		if err := binary.Read(f, binary.LittleEndian, &T); err != nil {
			return nil, err
		}
		b := data.Batch{Size: int(hdr[2]), MaxLen: int(T), Lengths: make([]int32, hdr[2]), Tokens: make([]int32, hdr[2]*T)}
		lab := make([]int32, hdr[2])
		for _, v := range []any{b.Lengths, b.Tokens, lab} {
			if err := binary.Read(f, binary.LittleEndian, v); err != nil {
				return nil, err
			}
		}
		for _, l := range lab {
			b.Labels = append(b.Labels, float32(l))
		}
		out = append(out, b)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return nil, io.ErrUnexpectedEOF
	}
	return out, nil
}

func TestBenchBatchesRoundTrip(t *testing.T) {
	bs := benchBatchesFor()
	if len(bs) != benchBatches {
		t.Fatalf("%d batches, want %d", len(bs), benchBatches)
	}
	tokens := 0
	for _, b := range bs {
		if b.Size != benchBatch || b.MaxLen > benchMaxLen {
			t.Fatalf("batch of %d rows, width %d", b.Size, b.MaxLen)
		}
		tokens += b.RealTokens()
	}
	mean := float64(tokens) / float64(benchBatch*benchBatches)
	if mean < 60 || mean > 100 {
		t.Errorf("mean review length %.1f tokens, want Amazon-like 60..100", mean)
	}
	path := filepath.Join(t.TempDir(), "batches.bin")
	if err := writeBatches(path, bs); err != nil {
		t.Fatal(err)
	}
	got, err := readBatches(path)
	if err != nil {
		t.Fatal(err)
	}
	for k := range bs {
		if !slices.Equal(got[k].Tokens, bs[k].Tokens) || !slices.Equal(got[k].Lengths, bs[k].Lengths) || !slices.Equal(got[k].Labels, bs[k].Labels) {
			t.Fatalf("batch %d differs after the round trip", k)
		}
	}
	if dir := os.Getenv("TRAINER_GPU_BENCH_WRITE"); dir != "" {
		if err := writeBatches(filepath.Join(dir, "batches.bin"), bs); err != nil {
			t.Fatal(err)
		}
	}
}
