package vecmath

import (
	"math"
	"testing"
)

// relErr is |got - want| / max(|want|, tiny), in float64.
func relErr(got float32, want float64) float64 {
	d := math.Abs(float64(got) - want)
	if want == 0 {
		return d
	}
	return d / math.Abs(want)
}

func TestFastMathAccuracy(t *testing.T) {
	tests := []struct {
		name   string
		f      func(float32) float32
		ref    func(float64) float64
		lo, hi float64
	}{
		{"Exp32", Exp32, math.Exp, -87, 88},
		{"Sigmoid32", Sigmoid32, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, -80, 80},
		{"Tanh32", Tanh32, math.Tanh, -20, 20},
	}
	const maxRel = 1e-6
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			worst, at := 0.0, 0.0
			check := func(x float32) {
				e := relErr(tc.f(x), tc.ref(float64(x)))
				if e > worst || math.IsNaN(e) {
					worst, at = e, float64(x)
				}
			}
			const n = 400000
			for i := 0; i <= n; i++ {
				check(float32(tc.lo + (tc.hi-tc.lo)*float64(i)/n))
			}
			// Tiny arguments, where cancellation would show.
			for x := float32(1e-8); x < 1; x *= 1.01 {
				check(x)
				check(-x)
			}
			check(0)
			if !(worst <= maxRel) {
				t.Fatalf("%s: worst relative error %.3g at x=%g, want <= %g", tc.name, worst, at, maxRel)
			}
			t.Logf("%s: worst relative error %.3g at x=%g", tc.name, worst, at)
		})
	}
}

func TestFastMathSaturates(t *testing.T) {
	for _, x := range []float32{-1e30, -1000, -100, 100, 1000, 1e30, float32(math.Inf(1)), float32(math.Inf(-1))} {
		s, th := Sigmoid32(x), Tanh32(x)
		if math.IsNaN(float64(s)) || s < 0 || s > 1 {
			t.Errorf("Sigmoid32(%g) = %g, want in [0, 1]", x, s)
		}
		if math.IsNaN(float64(th)) || th < -1 || th > 1 {
			t.Errorf("Tanh32(%g) = %g, want in [-1, 1]", x, th)
		}
	}
}

func BenchmarkSigmoid32(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i-512) / 100
	}
	var sink float32
	for b.Loop() {
		for _, x := range xs {
			sink += Sigmoid32(x)
		}
	}
	_ = sink
}

func BenchmarkTanh32(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i-512) / 100
	}
	var sink float32
	for b.Loop() {
		for _, x := range xs {
			sink += Tanh32(x)
		}
	}
	_ = sink
}

// TestSliceMatchesScalar checks the slice functions (the vector kernels
// where present) against package math over many lengths, so that tails
// shorter than a vector are covered too.
func TestSliceMatchesScalar(t *testing.T) {
	t.Logf("vector kernels: %v", Vector)
	tests := []struct {
		name string
		f    func([]float32)
		one  func(float32) float32
		ref  func(float64) float64
	}{
		{"Sigmoid", Sigmoid, Sigmoid32, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{"Tanh", Tanh, Tanh32, math.Tanh},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 1000, 100003} {
				x := make([]float32, n)
				for i := range x {
					// Dense near zero, sparse far out, both signs, and extremes.
					u := float64(i)/float64(max(n-1, 1))*2 - 1
					x[i] = float32(u * u * u * 30)
				}
				if n > 8 {
					x[0], x[1], x[2], x[3] = -1e30, 1e30, 0, 1e-30
				}
				y := append([]float32(nil), x...)
				tc.f(y)
				for i := range x {
					want := tc.ref(float64(x[i]))
					if e := relErr(y[i], want); !(e <= 1e-6) {
						t.Fatalf("n=%d: %s(%g) = %g, want %g (relative error %.3g)", n, tc.name, x[i], y[i], want, e)
					}
					if s := tc.one(x[i]); math.Abs(float64(s-y[i])) > 2e-7*math.Abs(float64(s))+1e-37 {
						t.Fatalf("n=%d: slice %s(%g) = %g, scalar %g", n, tc.name, x[i], y[i], s)
					}
				}
			}
		})
	}
}

func BenchmarkSigmoidSlice(b *testing.B) {
	xs := make([]float32, 1024)
	for b.Loop() {
		for i := range xs {
			xs[i] = float32(i-512) / 100
		}
		Sigmoid(xs)
	}
}

func BenchmarkTanhSlice(b *testing.B) {
	xs := make([]float32, 1024)
	for b.Loop() {
		for i := range xs {
			xs[i] = float32(i-512) / 100
		}
		Tanh(xs)
	}
}
