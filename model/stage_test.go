package model

import (
	"math/rand/v2"
	"testing"
)

// TestStagesEqualWholeModel splits the layers into two pipeline stages at
// every boundary, each stage on its own workspace, and checks that logits,
// loss and every gradient equal the unsplit model's bit for bit.
func TestStagesEqualWholeModel(t *testing.T) {
	for _, c := range []Config{
		{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 3, Pool: PoolLast},
		{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 3, Bidirectional: true, Pool: PoolMax},
		{VocabSize: 11, EmbedDim: 5, Hidden: 4, Layers: 2, Bidirectional: true, Pool: PoolMean},
	} {
		rng := rand.New(rand.NewPCG(2, 9))
		b := randomBatch(rng, c.VocabSize, []int{4, 6, 1, 3, 6}, 7, 0)
		params := initSmall(c, 21)
		whole := make([]float32, len(params))
		wl, wc := NewWorkspace(c).LossGrad(params, b, whole)
		wantLogits := make([]float32, b.Size)
		NewWorkspace(c).Forward(params, b, wantLogits)
		for cut := 1; cut < c.Layers; cut++ {
			first, second := NewWorkspace(c), NewWorkspace(c)
			grad := make([]float32, len(params))
			mid := first.StageForward(params, b, 0, cut, nil)
			if mid == nil {
				t.Fatal("first stage returned no output")
			}
			if second.StageForward(params, b, cut, c.Layers, mid) != nil {
				t.Fatal("last stage returned an output")
			}
			logits := make([]float32, b.Size)
			second.Logits(logits)
			dMid, l, n := second.StageBackward(params, b, cut, c.Layers, nil, grad)
			if len(dMid) != len(mid) {
				t.Fatalf("cut %d: input gradient has %d values, output %d", cut, len(dMid), len(mid))
			}
			if dIn, _, _ := first.StageBackward(params, b, 0, cut, dMid, grad); dIn != nil {
				t.Fatal("first stage returned an input gradient")
			}
			if l != wl || n != wc {
				t.Errorf("%s cut %d: loss %v correct %d, whole model %v %d", configName(c), cut, l, n, wl, wc)
			}
			for i := range logits {
				if logits[i] != wantLogits[i] {
					t.Errorf("%s cut %d: logit %d = %g, whole model %g", configName(c), cut, i, logits[i], wantLogits[i])
				}
			}
			for i := range grad {
				if grad[i] != whole[i] {
					t.Fatalf("%s cut %d: grad[%d] = %g, whole model %g", configName(c), cut, i, grad[i], whole[i])
				}
			}
		}
	}
}
