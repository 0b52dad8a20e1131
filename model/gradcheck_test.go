package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradientFiniteDifferences compares every parameter's analytic
// gradient with central differences of the summed loss, on small shapes
// with ragged lengths, for every layer count, direction and pooling, and
// with the wide n-gram path.
func TestGradientFiniteDifferences(t *testing.T) {
	for _, c := range append(smallConfigs(), ngramConfigs()...) {
		t.Run(configName(c), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 1))
			b := randomBatch(rng, c.VocabSize, []int{5, 1, 3, 5, 2}, 6, 9)
			params := initSmall(c, 3)
			ws := NewWorkspace(c)
			grad := make([]float32, len(params))
			loss, _ := ws.LossGrad(params, b, grad)
			if math.IsNaN(loss) || loss <= 0 {
				t.Fatalf("loss %v", loss)
			}
			lossAt := func() float64 {
				l, _ := ws.LossGrad(params, b, make([]float32, len(params)))
				return l
			}
			eps := 1e-2
			if c.pool() == PoolMax {
				eps = 1e-3
			}
			worst := 0.0
			lay := NewLayout(c)
			for _, v := range lay.Views() {
				for i := v.Offset; i < v.Offset+v.Len; i++ {
					orig := params[i]
					params[i] = orig + float32(eps)
					lp := lossAt()
					params[i] = orig - float32(eps)
					lm := lossAt()
					params[i] = orig
					num := (lp - lm) / (2 * eps)
					ana := float64(grad[i])
					diff := math.Abs(num - ana)
					scale := math.Max(math.Abs(num), math.Abs(ana))
					if diff > 2e-3+1e-2*scale {
						t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", v.Name, i-v.Offset, ana, num)
					}
					worst = math.Max(worst, diff/(1e-3+scale))
				}
			}
			t.Logf("worst normalised difference %.3g over %d parameters", worst, lay.Size())
		})
	}
}
