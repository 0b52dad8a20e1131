package alias

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDrawsByWeight checks the frequencies of draws against the weights,
// ids of weight 0 never drawn.
func TestDrawsByWeight(t *testing.T) {
	for _, w := range [][]float64{
		{0, 1, 3, 0, 4},
		{5},
		{0, 0, 2},
		{1, 1, 1, 1, 1, 1, 1, 0.001},
		{0.1, 0.2, 0.3, 0.4, 0, 0, 0.7},
	} {
		tab := New(w)
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 400000
		counts := make([]int, len(w))
		for range n {
			counts[tab.Draw(rng.Uint64())]++
		}
		var sum float64
		for _, x := range w {
			sum += x
		}
		for i, x := range w {
			got, want := float64(counts[i])/n, x/sum
			if x == 0 && counts[i] > 0 || math.Abs(got-want) > 0.005 {
				t.Errorf("weights %v: id %d drawn %.4f of the time, want %.4f", w, i, got, want)
			}
		}
	}
}
