package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWorkspaceMatchesReference holds the fast forward and backward passes
// to the plain reference of reference.go: the same logits, loss, correct
// count and gradient, up to float32 rounding, on every pooling, one and two
// layers, one and two directions, and shapes that take the packed kernels
// (hidden 16 and 32) as well as ones that do not, with and without the wide
// n-gram path. Rows of different lengths share each batch, so packing (the
// wide term must follow each row through Packing.Perm) and the
// distinct-token tables are exercised.
func TestWorkspaceMatchesReference(t *testing.T) {
	cs := append(append(smallConfigs(), ngramConfigs()...),
		Config{VocabSize: 40, EmbedDim: 16, Hidden: 32, Layers: 2, Bidirectional: true, Pool: PoolMax},
		Config{VocabSize: 40, EmbedDim: 8, Hidden: 16, Layers: 1, Pool: PoolMean})
	for _, c := range cs {
		t.Run(configName(c), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			b := randomBatch(rng, c.VocabSize, []int{7, 1, 9, 3, 9, 2, 5}, 9, 4)
			params := initSmall(c, 31)
			n := NewLayout(c).Size()

			wantLogits := make([]float32, b.Size)
			ReferenceLogits(c, params, b, wantLogits)
			gotLogits := make([]float32, b.Size)
			NewWorkspace(c).Forward(params, b, gotLogits)
			for r := range gotLogits {
				if !close32(gotLogits[r], wantLogits[r], 1e-5, 1e-4) {
					t.Errorf("row %d: logit %g, reference %g", r, gotLogits[r], wantLogits[r])
				}
			}

			want, got := make([]float32, n), make([]float32, n)
			wantLoss, wantCorrect := ReferenceLossGrad(c, params, b, want)
			gotLoss, gotCorrect := NewWorkspace(c).LossGrad(params, b, got)
			if math.Abs(gotLoss-wantLoss) > 1e-4*math.Abs(wantLoss) || gotCorrect != wantCorrect {
				t.Errorf("loss %g, correct %d; reference %g, %d", gotLoss, gotCorrect, wantLoss, wantCorrect)
			}
			bad := 0
			for _, v := range NewLayout(c).Views() {
				for i := range v.Len {
					j := v.Offset + i
					if !close32(got[j], want[j], 1e-5, 1e-3) && bad < 5 {
						bad++
						t.Errorf("%s[%d]: gradient %g, reference %g", v.Name, i, got[j], want[j])
					}
				}
			}
		})
	}
}

// TestReferenceGradientIsTheDerivative checks the reference itself against
// central finite differences of its loss, in float64 terms, on a few
// parameters of every view, the wide n-gram table's included.
func TestReferenceGradientIsTheDerivative(t *testing.T) {
	for _, c := range []Config{
		{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true, Pool: PoolMean},
		{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true, Pool: PoolMean, Ngrams: 3, Buckets: 5},
	} {
		t.Run(configName(c), func(t *testing.T) { checkReferenceGradient(t, c) })
	}
}

func checkReferenceGradient(t *testing.T, c Config) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := randomBatch(rng, c.VocabSize, []int{4, 2, 5}, 5, 0)
	params := initSmall(c, 17)
	grad := make([]float32, len(params))
	ReferenceLossGrad(c, params, b, grad)
	loss := func() float64 {
		l, _ := ReferenceLossGrad(c, params, b, make([]float32, len(params)))
		return l
	}
	const h = 1e-2
	for _, v := range NewLayout(c).Views() {
		for _, i := range []int{0, v.Len / 2, v.Len - 1} {
			j := v.Offset + i
			keep := params[j]
			hi, lo := keep+h, keep-h // float32 steps, whatever rounding made them
			params[j] = hi
			up := loss()
			params[j] = lo
			down := loss()
			params[j] = keep
			fd := (up - down) / (float64(hi) - float64(lo))
			if math.Abs(fd-float64(grad[j])) > 2e-3+2e-2*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %g, finite difference %g", v.Name, i, grad[j], fd)
			}
		}
	}
}

// close32 reports |got - want| <= abs + rel*|want|.
func close32(got, want float32, abs, rel float64) bool {
	return math.Abs(float64(got)-float64(want)) <= abs+rel*math.Abs(float64(want))
}
