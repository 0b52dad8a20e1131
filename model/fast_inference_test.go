package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"trainer/internal/vecmath"
)

// TestPredictMatchesForward checks the tabulated prediction path against
// the training forward pass for every shape the gradient checks use and a
// larger one that takes the packed recurrent kernels, with and without the
// wide n-gram path.
func TestPredictMatchesForward(t *testing.T) {
	cs := append(append(smallConfigs(), ngramConfigs()...), Config{VocabSize: 40, EmbedDim: 16, Hidden: 32, Layers: 2, Bidirectional: true})
	for _, c := range cs {
		rng := rand.New(rand.NewPCG(12, 3))
		b := randomBatch(rng, c.VocabSize, []int{5, 1, 8, 3, 8, 2}, 9, 4)
		params := initSmall(c, 17)
		want := make([]float32, b.Size)
		NewWorkspace(c).Forward(params, b, want)
		inf, err := NewInference(c, params)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, b.Size)
		ws := NewWorkspace(c)
		ws.Predict(inf, b, got)
		for r := range got {
			if d := math.Abs(float64(got[r] - want[r])); d > 1e-5*(1+math.Abs(float64(want[r]))) {
				t.Errorf("%s row %d: Predict %g, Forward %g", configName(c), r, got[r], want[r])
			}
		}
		// The same workspace then trains normally: prediction left no state behind.
		g := make([]float32, len(params))
		ws.LossGrad(params, b, g)
	}
	if _, err := NewInference(Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 1}, make([]float32, 3)); err == nil {
		t.Error("NewInference accepted a parameter buffer of the wrong size")
	}
}

// TestPredictInt8 compares 8-bit prediction with the float32 forward pass:
// the logits of models the 8-bit kernel supports stay within the
// quantization error, over long rows whose error builds up step by step,
// in every layer and direction.
func TestPredictInt8(t *testing.T) {
	if !vecmath.Int8Supported(16, 64) {
		t.Skip("no AVX-512 VNNI on this CPU: prediction stays in float32 here")
	}
	for _, c := range []Config{
		{VocabSize: 50, EmbedDim: 16, Hidden: 16, Layers: 1},
		{VocabSize: 50, EmbedDim: 16, Hidden: 32, Layers: 2, Bidirectional: true, Pool: PoolMean},
		{VocabSize: 300, EmbedDim: 32, Hidden: 128, Layers: 1, Pool: PoolMean},
		{VocabSize: 50, EmbedDim: 16, Hidden: 32, Layers: 1, Bidirectional: true, Pool: PoolMax, Ngrams: 3, Buckets: 97},
	} {
		rng := rand.New(rand.NewPCG(5, 8))
		b := randomBatch(rng, c.VocabSize, []int{60, 1, 33, 7, 60, 13, 2, 41}, 60, 0)
		params := make([]float32, NewLayout(c).Size())
		InitParams(c, params, 3)
		// A trained wide table is not zero: give it values whose term is
		// about one logit, so that it shows without saturating.
		for i, wide := 0, NewLayout(c).Wide(params); i < len(wide); i++ {
			wide[i] = float32(rng.NormFloat64() / WideScale)
		}
		want := make([]float32, b.Size)
		NewWorkspace(c).Forward(params, b, want)
		inf, err := NewInferenceWith(c, params, InferenceOptions{Int8: true})
		if err != nil {
			t.Fatal(err)
		}
		if !inf.Int8() {
			t.Fatalf("%s: not in 8 bits on a CPU with VNNI", configName(c))
		}
		if c.Layers > 1 && inf.input8(1, c.Dirs()-1) == nil {
			t.Fatalf("%s: the second layer's input product is not in 8 bits", configName(c))
		}
		got := make([]float32, b.Size)
		NewWorkspace(c).Predict(inf, b, got)
		worst := 0.0
		for r := range got {
			d := math.Abs(float64(got[r] - want[r]))
			if d > 0.02*(1+math.Abs(float64(want[r]))) {
				t.Errorf("%s row %d: int8 logit %g, float32 %g", configName(c), r, got[r], want[r])
			}
			worst = math.Max(worst, d)
		}
		t.Logf("%s: max |int8 - float32| logit = %.2g", configName(c), worst)
	}
}
