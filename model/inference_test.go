package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPredictMatchesForward checks the tabulated prediction path against
// the training forward pass for every shape the gradient checks use and a
// larger one that takes the packed recurrent kernels.
func TestPredictMatchesForward(t *testing.T) {
	cs := append(smallConfigs(), Config{VocabSize: 40, EmbedDim: 16, Hidden: 32, Layers: 2, Bidirectional: true})
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
