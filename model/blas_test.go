package model

import (
	"math/rand/v2"
	"testing"
)

func TestBLASThreads(t *testing.T) {
	// The package sets one thread when it loads.
	if n := BLASThreads(); n != 1 {
		t.Fatalf("%s uses %d threads per call at start, want 1", BLASName, n)
	}
	SetBLASThreads(2)
	got := BLASThreads()
	SetBLASThreads(1)
	if BLASName == "openblas" && got != 2 {
		t.Errorf("SetBLASThreads(2): BLASThreads() = %d", got)
	}
	if n := BLASThreads(); n != 1 {
		t.Errorf("SetBLASThreads(1): BLASThreads() = %d", n)
	}
}

// TestSgemm checks the row-major wrapper against a naive product for
// every transpose combination and a strided C.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	m, n, k := 5, 7, 3
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			a := make([]float32, m*k)
			b := make([]float32, k*n)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			at := func(i, p int) float32 {
				if tA {
					return a[p*m+i]
				}
				return a[i*k+p]
			}
			bt := func(p, j int) float32 {
				if tB {
					return b[j*k+p]
				}
				return b[p*n+j]
			}
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			ldc := n + 2
			c := make([]float32, m*ldc)
			for i := range c {
				c[i] = 1
			}
			sgemm(tA, tB, m, n, k, 2, a, lda, b, ldb, 0.5, c, ldc)
			for i := 0; i < m; i++ {
				for j := 0; j < ldc; j++ {
					want := float32(1)
					if j < n {
						var s float32
						for p := 0; p < k; p++ {
							s += at(i, p) * bt(p, j)
						}
						want = 2*s + 0.5
					}
					if d := c[i*ldc+j] - want; d > 1e-5 || d < -1e-5 {
						t.Fatalf("tA=%v tB=%v: C[%d][%d] = %g, want %g", tA, tB, i, j, c[i*ldc+j], want)
					}
				}
			}
		}
	}
}
