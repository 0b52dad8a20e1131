package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestScaleSumSq(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		s    float32
	}{
		{"empty", 0, 0.5},
		{"tail only", 15, 0.25},
		{"one block", 16, 1},
		{"blocks and tail", 1003, 1.0 / 128},
		{"large values", 64, 3e18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), 3))
			x := make([]float32, tc.n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			a, b := append([]float32(nil), x...), append([]float32(nil), x...)
			got, want := ScaleSumSq(a, tc.s), scaleSumSqRef(b, tc.s)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("kernel %v, reference %v", got, want)
			}
			exact := 0.0
			for i := range x {
				if a[i] != b[i] || a[i] != x[i]*tc.s {
					t.Fatalf("element %d scaled to %g (reference %g), want %g", i, a[i], b[i], x[i]*tc.s)
				}
				exact += float64(a[i]) * float64(a[i])
			}
			if math.Abs(want-exact) > 1e-12*exact {
				t.Fatalf("reference %v, sequential sum %v", want, exact)
			}
		})
	}
}

func BenchmarkScaleSumSq(b *testing.B) {
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(i%13) * 1e-3
	}
	b.SetBytes(4 << 20)
	for i := 0; i < b.N; i++ {
		ScaleSumSq(x, 1)
	}
}
