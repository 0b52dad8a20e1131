package model

import (
	"math/rand/v2"
	"testing"
)

// TestForwardMatchesStageForward checks that Forward, which keeps no
// activations for a backward pass, computes the logits of the forward pass
// training runs, on shapes that take the packed kernels and on ones that
// do not.
func TestForwardMatchesStageForward(t *testing.T) {
	cs := append(smallConfigs(),
		Config{VocabSize: 40, EmbedDim: 16, Hidden: 32, Layers: 2, Bidirectional: true},
		Config{VocabSize: 40, EmbedDim: 8, Hidden: 16, Layers: 1})
	for _, c := range cs {
		rng := rand.New(rand.NewPCG(5, 6))
		b := randomBatch(rng, c.VocabSize, []int{7, 1, 9, 3, 9, 2, 5}, 9, 4)
		params := initSmall(c, 23)
		ws := NewWorkspace(c)
		ws.StageForward(params, b, 0, c.Layers, nil)
		want := make([]float32, b.Size)
		ws.Logits(want)
		got := make([]float32, b.Size)
		NewWorkspace(c).Forward(params, b, got)
		for r := range got {
			if got[r] != want[r] {
				t.Errorf("%s row %d: Forward %g, StageForward %g", configName(c), r, got[r], want[r])
			}
		}
	}
}
