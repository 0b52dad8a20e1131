package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"trainer/data"
)

// TestRowsIndependentOfPadding checks that a row's logit, loss and
// gradient equal running that row alone, whatever the padding holds and
// whichever other rows share the batch.
func TestRowsIndependentOfPadding(t *testing.T) {
	for _, c := range smallConfigs() {
		t.Run(configName(c), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 2))
			lengths := []int{3, 7, 1, 7, 4, 2}
			b := randomBatch(rng, c.VocabSize, lengths, 9, 5) // padding holds token 5
			params := initSmall(c, 5)
			ws := NewWorkspace(c)
			logits := make([]float32, b.Size)
			ws.Forward(params, b, logits)
			grad := make([]float32, len(params))
			loss, correct := ws.LossGrad(params, b, grad)

			sumGrad := make([]float64, len(params))
			var sumLoss float64
			sumCorrect := 0
			for r := 0; r < b.Size; r++ {
				row := append([]int32(nil), b.Row(r)...)
				one := data.MakeBatch([][]int32{row}, []uint8{uint8(b.Labels[r])}, 0)
				var l1 [1]float32
				ws.Forward(params, one, l1[:])
				if d := math.Abs(float64(l1[0] - logits[r])); d > 1e-5 {
					t.Errorf("row %d: logit %g in batch, %g alone", r, logits[r], l1[0])
				}
				g := make([]float32, len(params))
				lr, cr := ws.LossGrad(params, one, g)
				sumLoss += lr
				sumCorrect += cr
				for i, v := range g {
					sumGrad[i] += float64(v)
				}
			}
			if math.Abs(sumLoss-loss) > 1e-5*math.Abs(loss) {
				t.Errorf("loss %g in batch, %g summed over rows alone", loss, sumLoss)
			}
			if sumCorrect != correct {
				t.Errorf("correct %d in batch, %d over rows alone", correct, sumCorrect)
			}
			for i, v := range grad {
				if d := math.Abs(float64(v) - sumGrad[i]); d > 1e-5+1e-4*math.Abs(sumGrad[i]) {
					t.Fatalf("grad[%d] %g in batch, %g summed over rows alone", i, v, sumGrad[i])
				}
			}

			// Padding content must not matter at all: same bits with PadID.
			for i := range b.Tokens {
				if i%b.MaxLen >= int(b.Lengths[i/b.MaxLen]) {
					b.Tokens[i] = data.PadID
				}
			}
			logits2 := make([]float32, b.Size)
			ws.Forward(params, b, logits2)
			for r := range logits {
				if logits[r] != logits2[r] {
					t.Errorf("row %d: logit changed with padding content: %g vs %g", r, logits[r], logits2[r])
				}
			}
		})
	}
}

// TestLossGradAddsAndEmptyBatch checks the replica contract: LossGrad adds
// to grad rather than overwriting, and an empty batch changes nothing.
func TestLossGradAddsAndEmptyBatch(t *testing.T) {
	c := Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 1}
	rng := rand.New(rand.NewPCG(1, 1))
	b := randomBatch(rng, c.VocabSize, []int{4, 2}, 4, 0)
	params := initSmall(c, 1)
	ws := NewWorkspace(c)
	g1 := make([]float32, len(params))
	ws.LossGrad(params, b, g1)
	g2 := make([]float32, len(params))
	ws.LossGrad(params, b, g2)
	ws.LossGrad(params, b, g2)
	for i := range g1 {
		if d := math.Abs(float64(2*g1[i] - g2[i])); d > 1e-6 {
			t.Fatalf("grad[%d]: two calls give %g, want twice %g", i, g2[i], g1[i])
		}
	}
	before := append([]float32(nil), g2...)
	l, n := ws.LossGrad(params, b.Rows(0, 0), g2)
	if l != 0 || n != 0 {
		t.Errorf("empty batch: loss %g correct %d, want 0 0", l, n)
	}
	for i := range g2 {
		if g2[i] != before[i] {
			t.Fatalf("empty batch changed grad[%d]", i)
		}
	}
}

// TestPackedRecurrentMatchesBLAS runs a model whose hidden size the packed
// recurrent kernels support with and without them: the results must agree.
func TestPackedRecurrentMatchesBLAS(t *testing.T) {
	c := Config{VocabSize: 30, EmbedDim: 8, Hidden: 32, Layers: 2, Bidirectional: true}
	rng := rand.New(rand.NewPCG(3, 1))
	b := randomBatch(rng, c.VocabSize, []int{9, 3, 14, 1, 14, 7, 2, 11}, 15, 0)
	params := initSmall(c, 4)
	run := func(blasOnly bool) ([]float32, float64) {
		ws := NewWorkspace(c)
		for l := range ws.layers {
			for d := range ws.layers[l].acts {
				ws.layers[l].acts[d].blasOnly = blasOnly
			}
		}
		g := make([]float32, len(params))
		loss, _ := ws.LossGrad(params, b, g)
		return g, loss
	}
	g1, l1 := run(false)
	g2, l2 := run(true)
	if math.Abs(l1-l2) > 1e-5*math.Abs(l2) {
		t.Errorf("loss %g packed, %g BLAS", l1, l2)
	}
	for i := range g1 {
		if d := math.Abs(float64(g1[i] - g2[i])); d > 1e-5+1e-4*math.Abs(float64(g2[i])) {
			t.Fatalf("grad[%d] %g packed, %g BLAS", i, g1[i], g2[i])
		}
	}
}
