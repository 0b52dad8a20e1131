package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// adamWConsts is the AdamW of step t for the given hyper-parameters.
func adamWConsts(lr, b1, b2, eps, wd float64, t int) AdamW {
	return AdamW{
		B1: float32(b1), B2: float32(b2), OB1: float32(1 - b1), OB2: float32(1 - b2),
		StepSize: float32(lr / (1 - math.Pow(b1, float64(t)))),
		C2:       float32(math.Sqrt(1 - math.Pow(b2, float64(t)))),
		Eps:      float32(eps), Decay: float32(1 - lr*wd),
	}
}

func TestAdamWUpdate(t *testing.T) {
	tests := []struct {
		name string
		n    int
		k    AdamW
	}{
		{"empty", 0, adamWConsts(1e-3, 0.9, 0.999, 1e-8, 0.01, 1)},
		{"tail only", 7, adamWConsts(1e-3, 0.9, 0.999, 1e-8, 0.01, 1)},
		{"one block", 8, adamWConsts(1e-3, 0.9, 0.999, 1e-8, 0, 3)},
		{"blocks and tail", 1003, adamWConsts(3e-4, 0.9, 0.98, 1e-6, 0.1, 50)},
		{"large eps", 64, adamWConsts(1e-2, 0.5, 0.9, 1, 0, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), 7))
			fill := func(scale float32, abs bool) []float32 {
				x := make([]float32, tc.n)
				for i := range x {
					x[i] = float32(rng.NormFloat64()) * scale
					if abs && x[i] < 0 {
						x[i] = -x[i]
					}
				}
				return x
			}
			p, g, m, v := fill(1, false), fill(1e-2, false), fill(1e-3, false), fill(1e-5, true)
			if tc.n > 0 {
				g[tc.n/2] = 0 // a zero gradient somewhere
			}
			p1, m1, v1 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			AdamWUpdate(&tc.k, p1, g, m1, v1)
			adamWRef(&tc.k, p2, g, m2, v2)
			for i := range p {
				if p1[i] != p2[i] || m1[i] != m2[i] || v1[i] != v2[i] {
					t.Fatalf("element %d: kernel (p %g m %g v %g), reference (p %g m %g v %g)", i, p1[i], m1[i], v1[i], p2[i], m2[i], v2[i])
				}
				// The reference against the formula in float64, within a few
				// float32 roundings of the terms' magnitudes (the sums can cancel).
				k := tc.k
				bm, bg := float64(k.B1)*float64(m[i]), float64(k.OB1)*float64(g[i])
				bv, bgg := float64(k.B2)*float64(v[i]), float64(k.OB2)*float64(g[i])*float64(g[i])
				mw, vw := bm+bg, bv+bgg
				pd := float64(p[i]) * float64(k.Decay)
				st := float64(k.StepSize) * mw / (math.Sqrt(vw)/float64(k.C2) + float64(k.Eps))
				const ulps = 4.0 / (1 << 23)
				if math.Abs(float64(m2[i])-mw) > ulps*(math.Abs(bm)+math.Abs(bg)) ||
					math.Abs(float64(v2[i])-vw) > ulps*(bv+bgg) ||
					math.Abs(float64(p2[i])-(pd-st)) > ulps*(math.Abs(pd)+2*math.Abs(st)) {
					t.Fatalf("element %d: reference p %g m %g v %g, float64 formula p %g m %g v %g", i, p2[i], m2[i], v2[i], pd-st, mw, vw)
				}
			}
		})
	}
}

func BenchmarkAdamWUpdate(b *testing.B) {
	const n = 1 << 20
	k := adamWConsts(1e-3, 0.9, 0.999, 1e-8, 0.01, 10)
	p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%7) * 1e-3
	}
	b.SetBytes(4 * n)
	for i := 0; i < b.N; i++ {
		AdamWUpdate(&k, p, g, m, v)
	}
}
