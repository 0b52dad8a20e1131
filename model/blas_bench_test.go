package model

import (
	"fmt"
	"testing"

	"trainer/internal/vecmath"
)

// BenchmarkSgemmShapes times the matrix products of one training step of
// the default model (E=128, H=256, batch 128 x ~80 tokens) one by one, in
// GFLOP/s, to show which shapes the BLAS handles well.
func BenchmarkSgemmShapes(b *testing.B) {
	const e, h, rows, n = 128, 256, 128, 10240
	shapes := []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"input-proj X*Wih^T", false, true, n, 4 * h, e},
		{"recurrent H*Whh^T", false, true, rows, 4 * h, h},
		{"recurrent-back dA*Whh", false, false, rows, h, 4 * h},
		{"dWih dA^T*X", true, false, 4 * h, e, n},
		{"dWhh dA^T*Hprev", true, false, 4 * h, h, n},
		{"dX dA*Wih", false, false, n, e, 4 * h},
	}
	for _, s := range shapes {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range bb {
				bb[i] = float32(i%5) * 0.1
			}
			lda, ldb := s.k, s.n
			if s.tA {
				lda = s.m
			}
			if s.tB {
				ldb = s.k
			}
			for b.Loop() {
				sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 1, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPackedShapes times the products LSTMForward and LSTMBackward
// give to the packed kernel instead of the BLAS (compare with
// BenchmarkSgemmShapes), packing included.
func BenchmarkPackedShapes(b *testing.B) {
	if !vecmath.GemmSupported(16) {
		b.Skip("no vector kernels in this build")
	}
	const e, h, n = 128, 256, 10240
	shapes := []struct {
		name    string
		trans   bool
		m, n, k int
	}{
		{"input-proj X*Wih^T", true, n, 4 * h, e},
		{"dX dA*Wih", false, n, e, 4 * h},
	}
	for _, s := range shapes {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			w := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range w {
				w[i] = float32(i%5) * 0.1
			}
			ldw := s.n
			if s.trans {
				ldw = s.k
			}
			var p vecmath.PackedB
			for b.Loop() {
				p.Pack(w, ldw, s.k, s.n, s.trans)
				vecmath.GemmPackedSet(s.m, a, s.k, &p, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
