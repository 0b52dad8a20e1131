package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestGemmPacked(t *testing.T) {
	if !GemmSupported(16) {
		t.Skip("no vector kernels in this build")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		m, k, n int
		trans   bool
	}{
		{1, 1, 16, false}, {5, 7, 32, true}, {6, 256, 1024, true}, {13, 300, 48, false},
		{128, 1024, 256, false}, {127, 256, 1024, true}, {7, 513, 16, false},
		{1000, 128, 64, true}, {401, 600, 32, false},
	} {
		for _, set := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dx%dx%d-trans%v-set%v", tc.m, tc.k, tc.n, tc.trans, set), func(t *testing.T) {
				lda, ldc := tc.k+3, tc.n+5
				a := make([]float32, tc.m*lda)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				rowsW, colsW := tc.k, tc.n
				if tc.trans {
					rowsW, colsW = tc.n, tc.k
				}
				ldw := colsW + 1
				w := make([]float32, rowsW*ldw)
				for i := range w {
					w[i] = float32(rng.NormFloat64())
				}
				c := make([]float32, tc.m*ldc)
				for i := range c {
					c[i] = float32(i % 3)
				}
				want := make([]float64, len(c))
				for i := 0; i < tc.m; i++ {
					for j := 0; j < ldc; j++ {
						want[i*ldc+j] = float64(c[i*ldc+j])
						if j >= tc.n {
							continue
						}
						if set {
							want[i*ldc+j] = 0
						}
						for kk := 0; kk < tc.k; kk++ {
							var bv float32
							if tc.trans {
								bv = w[j*ldw+kk]
							} else {
								bv = w[kk*ldw+j]
							}
							want[i*ldc+j] += float64(a[i*lda+kk]) * float64(bv)
						}
					}
				}
				var p PackedB
				p.Pack(w, ldw, tc.k, tc.n, tc.trans)
				if set {
					GemmPackedSet(tc.m, a, lda, &p, c, ldc)
				} else {
					GemmPacked(tc.m, a, lda, &p, c, ldc)
				}
				for i := range c {
					if d := math.Abs(float64(c[i]) - want[i]); d > 1e-4*(1+math.Abs(want[i]))*math.Sqrt(float64(tc.k)) {
						t.Fatalf("C[%d][%d] = %g, want %g", i/ldc, i%ldc, c[i], want[i])
					}
				}
			})
		}
	}
}

// TestGemmPackedRemainderBits checks that the kernels for the last m%6
// rows of a product accumulate in the 6-row kernel's order: every row of
// an m-row product has the bits it gets as a row of a whole 6-row block.
func TestGemmPackedRemainderBits(t *testing.T) {
	if !GemmSupported(16) {
		t.Skip("no vector kernels in this build")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const k, n = 300, 48 // two chunks of k, three panels
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	var p PackedB
	p.Pack(w, n, k, n, false)
	for m := 1; m <= 11; m++ {
		for _, set := range []bool{false, true} {
			a := make([]float32, m*k)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(rng.NormFloat64())
			}
			start := append([]float32(nil), c...)
			product := GemmPacked
			if set {
				product = GemmPackedSet
			}
			product(m, a, k, &p, c, n)
			for r := 0; r < m; r++ {
				// Six copies of row r: one call of the 6-row kernel per panel.
				a6 := slices.Repeat(a[r*k:(r+1)*k], 6)
				c6 := slices.Repeat(start[r*n:(r+1)*n], 6)
				product(6, a6, k, &p, c6, n)
				for j := 0; j < n; j++ {
					if math.Float32bits(c[r*n+j]) != math.Float32bits(c6[j]) {
						t.Fatalf("m=%d set=%v: C[%d][%d] = %g, the 6-row kernel gives %g", m, set, r, j, c[r*n+j], c6[j])
					}
				}
			}
		}
	}
}

// BenchmarkGemmPacked times the recurrent step's products for the batch
// of 128 rows and a two-worker shard of 64; 126 and 60 rows, multiples of
// the 6-row block, show what the last m%6 rows cost.
func BenchmarkGemmPacked(b *testing.B) {
	if !GemmSupported(16) {
		b.Skip("no vector kernels in this build")
	}
	for _, s := range []struct{ m, k, n int }{{128, 256, 1024}, {126, 256, 1024}, {66, 256, 1024}, {65, 256, 1024}, {64, 256, 1024}, {63, 256, 1024}, {62, 256, 1024}, {61, 256, 1024}, {60, 256, 1024}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			w := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = 0.01
			}
			var p PackedB
			p.Pack(w, s.n, s.k, s.n, false)
			for b.Loop() {
				GemmPackedSet(s.m, a, s.k, &p, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
