package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeRows: the vector quantizer equals its definition, values
// and row sums.
func TestQuantizeRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, k := range []int{16, 48, 256} {
		rows := 5
		x := make([]float32, rows*k)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		x[0], x[1], x[2] = 1, -1, 0.5/127 // extremes and a tie
		q := make([]int8, rows*k)
		init := make([]int32, rows)
		QuantizeRows(x, rows, k, q, init)
		for r := 0; r < rows; r++ {
			want := make([]int8, k)
			sum := quantizeRowRef(x[r*k:(r+1)*k], want)
			if init[r] != -128*sum {
				t.Fatalf("k %d row %d: init %d, want %d", k, r, init[r], -128*sum)
			}
			for i, v := range want {
				if q[r*k+i] != v {
					t.Fatalf("k %d row %d: q[%d] = %d, want %d (x %g)", k, r, i, q[r*k+i], v, x[r*k+i])
				}
			}
		}
	}
}

// TestGemmInt8: the kernel equals its integer definition exactly, and the
// product is within the quantization error of the float32 one.
func TestGemmInt8(t *testing.T) {
	if !Int8Supported(16, 64) {
		t.Skip("no AVX-512 VNNI on this CPU: the 8-bit kernel is not used here")
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for _, s := range []struct{ m, k, n int }{{1, 16, 64}, {6, 32, 128}, {13, 128, 512}, {128, 256, 1024}} {
		w := make([]float32, s.n*s.k) // [n, k], used transposed as W_hh^T
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.2)
		}
		var p PackedB8
		p.Pack(w, s.k, s.k, s.n, true)
		mp := Int8RowsPadded(s.m)
		x := make([]float32, mp*s.k)
		for i := range x[:s.m*s.k] {
			x[i] = float32(math.Tanh(rng.NormFloat64()))
		}
		q := make([]int8, mp*s.k)
		init := make([]int32, mp)
		QuantizeRows(x, mp, s.k, q, init)
		c := make([]float32, mp*s.n)
		GemmInt8Set(s.m, q, s.k, init, &p, c, s.n)
		ref := make([]float32, len(c))
		for j0, off := 0, 0; j0 < s.n; j0, off = j0+int8Cols, off+s.k*int8Cols {
			for r := 0; r < mp; r += int8Rows {
				gemm8x6x64Ref(s.k/4, q[r*s.k:], s.k, init[r:], p.data[off:off+s.k*int8Cols], p.scale[j0:], ref[r*s.n+j0:], s.n)
			}
		}
		maxErr := 0.0
		for r := 0; r < s.m; r++ {
			for j := 0; j < s.n; j++ {
				if c[r*s.n+j] != ref[r*s.n+j] {
					t.Fatalf("%v: C[%d][%d] = %g, reference kernel %g", s, r, j, c[r*s.n+j], ref[r*s.n+j])
				}
				var exact float64
				for kk := 0; kk < s.k; kk++ {
					exact += float64(x[r*s.k+kk]) * float64(w[j*s.k+kk])
				}
				maxErr = math.Max(maxErr, math.Abs(float64(c[r*s.n+j])-exact))
			}
		}
		// Each factor is rounded to 8 bits: about 0.5/127 of its range.
		if bound := 0.02 * math.Sqrt(float64(s.k)); maxErr > bound {
			t.Fatalf("%v: max |int8 - exact| = %g, beyond %g", s, maxErr, bound)
		}
		t.Logf("%v: max |int8 - exact| = %.3g", s, maxErr)
	}
}

func BenchmarkGemmInt8(b *testing.B) {
	if !Int8Supported(16, 64) {
		b.Skip("no AVX-512 VNNI")
	}
	for _, s := range []struct{ m, k, n int }{{128, 128, 512}, {128, 256, 1024}} {
		b.Run("", func(b *testing.B) {
			w := make([]float32, s.n*s.k)
			for i := range w {
				w[i] = float32(i%7) * 0.01
			}
			var p PackedB8
			p.Pack(w, s.k, s.k, s.n, true)
			mp := Int8RowsPadded(s.m)
			q := make([]int8, mp*s.k)
			init := make([]int32, mp)
			c := make([]float32, mp*s.n)
			for b.Loop() {
				GemmInt8Set(s.m, q, s.k, init, &p, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
		})
	}
}
