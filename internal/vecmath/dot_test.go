package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotAxpyMatchScalar checks Dot and Axpy against their definitions on
// lengths around the vector kernels' block of 32. Axpy's FMA rounds once
// where the scalar loop rounds twice, and Dot sums in another order, so
// the bounds are relative to the magnitudes involved, a few float32 ulps.
func TestDotAxpyMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	for _, n := range []int{0, 1, 31, 32, 33, 63, 64, 100, 128, 512, 1000} {
		x := make([]float32, n)
		y := make([]float32, n+3)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range y {
			y[i] = float32(rng.NormFloat64())
		}
		var want, mag float64
		for i := range x {
			want += float64(x[i]) * float64(y[i])
			mag += math.Abs(float64(x[i]) * float64(y[i]))
		}
		if got := Dot(x, y); math.Abs(float64(got)-want) > 1e-6*mag+1e-30 {
			t.Errorf("n=%d: Dot = %v, want %v", n, got, want)
		}
		if a, b := Dot(x, y), Dot(x, y); math.Float32bits(a) != math.Float32bits(b) {
			t.Errorf("n=%d: Dot gave %v, then %v", n, a, b)
		}

		const a = 0.37
		dst := append([]float32(nil), y[:n]...)
		Axpy(a, x, dst)
		for i := range dst {
			want := float64(y[i]) + a*float64(x[i])
			if math.Abs(float64(dst[i])-want) > 2e-7*(math.Abs(float64(y[i]))+math.Abs(a*float64(x[i]))) {
				t.Fatalf("n=%d i=%d: Axpy gave %v, want %v", n, i, dst[i], want)
			}
		}
	}
}

// TestAxpyLeavesTail checks that Axpy writes no element of y beyond its
// length, which the vector kernel's blocks of 32 could overrun.
func TestAxpyLeavesTail(t *testing.T) {
	buf := make([]float32, 80)
	x := make([]float32, 80)
	for i := range x {
		x[i] = 1
	}
	Axpy(2, x, buf[:64:64])
	for i, v := range buf {
		want := float32(0)
		if i < 64 {
			want = 2
		}
		if v != want {
			t.Fatalf("buf[%d] = %v, want %v", i, v, want)
		}
	}
}
