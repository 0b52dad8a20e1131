//go:build cgo

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"trainer/cuda"
	"trainer/model"
)

// ngramBatch is a batch laid out as the kernels see it: tokens [B][ldt]
// with lengths, the padding past each length holding ids too, so that a
// kernel that reads padding gives itself away.
type ngramBatch struct {
	B, T, ldt int
	tokens    []int32
	lengths   []int32
}

// row is row b's real tokens.
func (nb ngramBatch) row(b int) []int32 {
	return nb.tokens[b*nb.ldt : b*nb.ldt+int(nb.lengths[b])]
}

// newNgramBatch draws a batch whose rows are as long as lengths, with ids
// below v; T is the longest row and ldt wider still. Real tokens are never
// id 0, as for the encoder's padding id, so that the tests can make row 0
// of the wide table a trap for reads of entries past a row's features.
func newNgramBatch(rng *rand.Rand, v int, lengths []int32) ngramBatch {
	nb := ngramBatch{B: len(lengths), lengths: lengths}
	for _, l := range lengths {
		nb.T = max(nb.T, int(l))
	}
	nb.ldt = nb.T + 2
	nb.tokens = make([]int32, nb.B*nb.ldt)
	for i := range nb.tokens {
		nb.tokens[i] = int32(rng.IntN(v))
		if i%nb.ldt < int(lengths[i/nb.ldt]) {
			nb.tokens[i] = int32(1 + rng.IntN(v-1))
		}
	}
	return nb
}

// refFeatures is the features of every row by model.NgramFeatures: flat,
// with row b's at flat[offs[b]:offs[b+1]] (model.WideForward's layout),
// and in the kernels' layout [B][stride], where every entry past a row's
// features holds fill.
func refFeatures(nb ngramBatch, c model.Config, stride int, fill int32) (flat, offs, strided []int32) {
	offs = []int32{0}
	strided = make([]int32, nb.B*stride)
	for i := range strided {
		strided[i] = fill
	}
	for b := 0; b < nb.B; b++ {
		f := model.NgramFeatures(nb.row(b), c, nil)
		copy(strided[b*stride:], f)
		flat = append(flat, f...)
		offs = append(offs, int32(len(flat)))
	}
	return flat, offs, strided
}

// ngramCases cover unigrams alone, bigrams into few buckets (collisions)
// and into 2^20, and trigrams into a prime count; rows shorter than n, of
// one token, and as long as the batch.
var ngramCases = []struct {
	cfg     model.Config
	lengths []int32
}{
	{model.Config{VocabSize: 50, Ngrams: 1}, []int32{5, 1, 3}},
	{model.Config{VocabSize: 40, Ngrams: 2, Buckets: 7}, []int32{6, 1, 2, 4}},
	{model.Config{VocabSize: 20000, Ngrams: 2, Buckets: 1 << 20}, []int32{40, 17, 1, 33, 2}},
	{model.Config{VocabSize: 1 << 24, Ngrams: 3, Buckets: 1000003}, []int32{9, 2, 3, 1, 12}},
	{model.Config{VocabSize: 30, Ngrams: 3, Buckets: 5}, []int32{70, 4}},
}

// TestNgramFeatures: the device computes exactly model.NgramFeatures, in
// its order, bit for bit, and writes nothing past a row's features.
func TestNgramFeatures(t *testing.T) {
	const fill = -7
	for i, c := range ngramCases {
		t.Run(fmt.Sprintf("n%d_V%d_buckets%d", c.cfg.Ngrams, c.cfg.VocabSize, c.cfg.Buckets), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 61))
			nb := newNgramBatch(rng, c.cfg.VocabSize, c.lengths)
			stride := c.cfg.Ngrams * nb.T
			_, _, want := refFeatures(nb, c.cfg, stride, fill)
			f := newFixture(t)
			feats := f.i32(slices.Repeat([]int32{fill}, len(want)))
			f.launch1D("ngram_features", nb.B*nb.T, f.i32(nb.tokens), f.i32(nb.lengths), nb.B, nb.T, nb.ldt,
				c.cfg.VocabSize, c.cfg.Ngrams, c.cfg.Buckets, stride, feats)
			got := f.readI32(feats, len(want))
			for b := 0; b < nb.B; b++ {
				if g, w := got[b*stride:(b+1)*stride], want[b*stride:(b+1)*stride]; !slices.Equal(g, w) {
					t.Fatalf("row %d (length %d): features %v, want %v", b, nb.lengths[b], g, w)
				}
			}
		})
	}

	// An id outside the vocabulary, which the host never sends, becomes
	// feature -1 rather than a row outside the table.
	c := model.Config{VocabSize: 10, Ngrams: 2, Buckets: 3}
	f := newFixture(t)
	feats := f.i32(make([]int32, 4))
	f.launch1D("ngram_features", 2, f.i32([]int32{4, 10}), f.i32([]int32{2}), 1, 2, 2, c.VocabSize, c.Ngrams, c.Buckets, 4, feats)
	if got, want := f.readI32(feats, 3), model.NgramFeatures([]int32{4, 10}, c, nil); got[0] != 4 || got[1] != -1 || got[2] != want[2] {
		t.Errorf("features of [4 10] in a vocabulary of 10: %v, want [4 -1 %d]", got, want[2])
	}
}

// wideSumBound is the bound on the difference between two fp32 sums of
// the same terms in different orders (a block reduction against the CPU's
// loop), times the row's weight: a few epsilons of the sum of magnitudes.
func wideSumBound(wide []float32, feats []int32) float64 {
	var mag float64
	for _, id := range feats {
		mag += math.Abs(float64(wide[id]))
	}
	return 4 * epsF32 * model.WideWeight(len(feats)) * mag
}

// TestNgramForward: each row's wide term equals model.WideForward's, to
// the rounding of the summation order; entries past a row's features (here
// a row of the table holding 1e30) are never read.
func TestNgramForward(t *testing.T) {
	for i, c := range ngramCases {
		t.Run(fmt.Sprintf("n%d_buckets%d", c.cfg.Ngrams, c.cfg.Buckets), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 62))
			nb := newNgramBatch(rng, min(c.cfg.VocabSize, 5000), c.lengths)
			cfg := c.cfg
			cfg.VocabSize = min(cfg.VocabSize, 5000) // the table is host memory too
			W := cfg.WideRows()
			wide := randSlice(rng, W, 1)
			wide[0] = 1e30 // the row the entries past the features name
			stride := cfg.Ngrams * nb.T
			flat, offs, strided := refFeatures(nb, cfg, stride, 0)
			want := make([]float32, nb.B)
			model.WideForward(wide, flat, offs, want)

			f := newFixture(t)
			out := f.garbage(nb.B)
			f.launch("ngram_forward", cuda.Dim3{X: nb.B}, cuda.Dim3{X: 64}, nb.B, nb.T, cfg.Ngrams, stride,
				f.i32(nb.lengths), f.i32(strided), f.f32(wide), W, out)
			got := f.read(out, nb.B)
			for b := range want {
				bound := wideSumBound(wide, flat[offs[b]:offs[b+1]])
				if d := math.Abs(float64(got[b]) - float64(want[b])); !(d <= bound) {
					t.Errorf("row %d: wide term %.9g, model %.9g (|diff| %.3g > %.3g)", b, got[b], want[b], d, bound)
				}
			}
		})
	}
}

// TestNgramBackward: the scatter equals model.WideBackward (each
// occurrence of a feature gets its row's dlogit times the row's weight,
// added to what is there) to the rounding of the atomics' order, and the
// mask marks exactly the rows of the batch's features; without a mask
// only the gradient is written.
func TestNgramBackward(t *testing.T) {
	for i, c := range ngramCases {
		t.Run(fmt.Sprintf("n%d_buckets%d", c.cfg.Ngrams, c.cfg.Buckets), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 63))
			cfg := c.cfg
			cfg.VocabSize = min(cfg.VocabSize, 5000)
			nb := newNgramBatch(rng, cfg.VocabSize, c.lengths)
			W := cfg.WideRows()
			stride := cfg.Ngrams * nb.T
			// The entries past the features name row 0, which no feature
			// is: a kernel that read them would move it.
			flat, offs, strided := refFeatures(nb, cfg, stride, 0)
			dlogit := randSlice(rng, nb.B, 2)
			base := randSlice(rng, W, 1)
			want := append([]float32(nil), base...)
			model.WideBackward(flat, offs, dlogit, want)
			wantMask := make([]int32, W)
			for _, id := range flat {
				wantMask[id] = 1
			}

			f := newFixture(t)
			lengths, feats, dl := f.i32(nb.lengths), f.i32(strided), f.f32(dlogit)
			for _, withMask := range []bool{true, false} {
				dwide := f.f32(base)
				var mask any = cuda.Ptr(0)
				if withMask {
					mask = f.i32(make([]int32, W))
				}
				f.launch1D("ngram_backward", nb.B*stride, nb.B, nb.T, cfg.Ngrams, stride, lengths, feats, dl, W, dwide, mask)
				validate(t, "dwide", f.read(dwide, W), want, 1e-6*maxAbs(want), 8*epsF32)
				if withMask {
					if got := f.readI32(mask.(cuda.Ptr), W); !slices.Equal(got, wantMask) {
						t.Errorf("mask marks %d rows, want the %d of the features", countOnes(got), countOnes(wantMask))
					}
				}
			}
		})
	}
}

func countOnes(s []int32) int {
	n := 0
	for _, v := range s {
		if v == 1 {
			n++
		}
	}
	return n
}

// TestNgramPath runs the three kernels in the replica's order (features,
// forward, then the head's loss gradient stood in by dlogit, backward)
// against the model's wide path end to end.
func TestNgramPath(t *testing.T) {
	cfg := model.Config{VocabSize: 300, Ngrams: 3, Buckets: 97}
	rng := rand.New(rand.NewPCG(64, 64))
	nb := newNgramBatch(rng, cfg.VocabSize, []int32{12, 3, 1, 8, 2, 12})
	W, stride := cfg.WideRows(), cfg.Ngrams*nb.T
	wide := randSlice(rng, W, 0.1)
	flat, offs, _ := refFeatures(nb, cfg, stride, 0)
	wantZ := make([]float32, nb.B)
	model.WideForward(wide, flat, offs, wantZ)
	dlogit := randSlice(rng, nb.B, 1)
	wantG := make([]float32, W)
	model.WideBackward(flat, offs, dlogit, wantG)

	f := newFixture(t)
	lengths, feats := f.i32(nb.lengths), f.garbage(nb.B*stride)
	f.launch1D("ngram_features", nb.B*nb.T, f.i32(nb.tokens), lengths, nb.B, nb.T, nb.ldt, cfg.VocabSize, cfg.Ngrams,
		cfg.Buckets, stride, feats)
	z := f.garbage(nb.B)
	f.launch("ngram_forward", cuda.Dim3{X: nb.B}, cuda.Dim3{X: 32}, nb.B, nb.T, cfg.Ngrams, stride, lengths, feats, f.f32(wide), W, z)
	got := f.read(z, nb.B)
	for b := range wantZ {
		bound := wideSumBound(wide, flat[offs[b]:offs[b+1]])
		if d := math.Abs(float64(got[b]) - float64(wantZ[b])); !(d <= bound) {
			t.Errorf("row %d: wide term %.9g, model %.9g", b, got[b], wantZ[b])
		}
	}
	g := f.f32(make([]float32, W))
	f.launch1D("ngram_backward", nb.B*stride, nb.B, nb.T, cfg.Ngrams, stride, lengths, feats, f.f32(dlogit), W, g, cuda.Ptr(0))
	validate(t, "dwide", f.read(g, W), wantG, 1e-6*maxAbs(wantG), 8*epsF32)
}
