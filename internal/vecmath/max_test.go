package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxMatchesScalar checks Max against its definition, bit for bit, on
// lengths around the vector kernel's block of 16, with NaNs, infinities
// and zeros of both signs among ordinary values, and that src's elements
// beyond len(dst) are not read into dst.
func TestMaxMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	draw := func() float32 {
		if rng.IntN(8) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64())
	}
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 128, 257} {
		dst := make([]float32, n)
		src := make([]float32, n+5)
		for i := range dst {
			dst[i] = draw()
		}
		for i := range src {
			src[i] = draw()
		}
		orig := append([]float32(nil), dst...)
		want := append([]float32(nil), dst...)
		for i := range want {
			if src[i] > want[i] {
				want[i] = src[i]
			}
		}
		Max(dst, src)
		for i := range dst {
			if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d i=%d: Max(%v, %v) = %v, want %v", n, i, orig[i], src[i], dst[i], want[i])
			}
		}
	}
}
