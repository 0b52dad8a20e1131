//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

// Vector reports whether the AVX2 + FMA kernels can run here.
var Vector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func sigmoidAVX2(x *float32, n int)

//go:noescape
func tanhAVX2(x *float32, n int)

// Sigmoid sets x[i] = Sigmoid32(x[i]), eight lanes at a time.
func Sigmoid(x []float32) {
	n := 0
	if Vector && len(x) >= 8 {
		n = len(x) &^ 7
		sigmoidAVX2(&x[0], n)
	}
	for i := n; i < len(x); i++ {
		x[i] = Sigmoid32(x[i])
	}
}

// Tanh sets x[i] = Tanh32(x[i]), eight lanes at a time.
func Tanh(x []float32) {
	n := 0
	if Vector && len(x) >= 8 {
		n = len(x) &^ 7
		tanhAVX2(&x[0], n)
	}
	for i := n; i < len(x); i++ {
		x[i] = Tanh32(x[i])
	}
}

//go:noescape
func cellBackwardAVX2(act, tanhC, dh, dc, cPrev *float32, hid, n int)

// cellBackwardVec runs CellBackward's vector kernel on the first multiple
// of 8 elements of each gate and returns how many it did.
func cellBackwardVec(act, tanhC, dh, dc, cPrev []float32, hid int) int {
	n := hid &^ 7
	if !Vector || n == 0 {
		return 0
	}
	var cp *float32
	if cPrev != nil {
		cp = &cPrev[0]
	}
	cellBackwardAVX2(&act[0], &tanhC[0], &dh[0], &dc[0], cp, hid, n)
	return n
}

//go:noescape
func cellForwardAVX2(row, bias, cPrev, c, tanhC, h *float32, hid, n int)

// cellForwardVec runs CellForward's vector kernel on the first multiple of
// 8 elements of each gate and returns how many it did.
func cellForwardVec(row, bias, cPrev, c, tanhC, h []float32, hid int) int {
	n := hid &^ 7
	if !Vector || n == 0 {
		return 0
	}
	var cp *float32
	if cPrev != nil {
		cp = &cPrev[0]
	}
	cellForwardAVX2(&row[0], &bias[0], cp, &c[0], &tanhC[0], &h[0], hid, n)
	return n
}

//go:noescape
func gemm6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)

// gemm6x16 is C[6x16] += A[6xk] * B (one packed panel), or = when set.
func gemm6x16(k int, a []float32, lda int, b []float32, c []float32, ldc int, set bool) {
	gemm6x16AVX2(k, &a[0], lda, &b[0], &c[0], ldc, set)
}

//go:noescape
func gemm4x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)

//go:noescape
func gemm2x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)

//go:noescape
func gemm1x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)

// gemmFewx16 is C[rows x 16] += A[rows x k] * B (one packed panel), or =
// when set, for rows < 6: the 4-, 2- and 1-row kernels in turn.
func gemmFewx16(rows, k int, a []float32, lda int, b []float32, c []float32, ldc int, set bool) {
	r := 0
	for _, n := range [...]int{4, 2, 1} {
		if rows-r < n {
			continue
		}
		pa, pc := &a[r*lda], &c[r*ldc]
		switch n {
		case 4:
			gemm4x16AVX2(k, pa, lda, &b[0], pc, ldc, set)
		case 2:
			gemm2x16AVX2(k, pa, lda, &b[0], pc, ldc, set)
		default:
			gemm1x16AVX2(k, pa, lda, &b[0], pc, ldc, set)
		}
		r += n
	}
}

//go:noescape
func addAVX2(dst, src *float32, n int)

//go:noescape
func maxAVX2(dst, src *float32, n int)

// maxVec runs Max's vector kernel on the first multiple of 16 elements and
// returns how many it did.
func maxVec(dst, src []float32) int {
	n := len(dst) &^ 15
	if !Vector || n == 0 {
		return 0
	}
	maxAVX2(&dst[0], &src[0], n)
	return n
}

// addVec runs Add's vector kernel on the first multiple of 32 elements and
// returns how many it did.
func addVec(dst, src []float32) int {
	n := len(dst) &^ 31
	if !Vector || n == 0 {
		return 0
	}
	addAVX2(&dst[0], &src[0], n)
	return n
}

// VNNI reports whether the 8-bit kernels (AVX-512 VNNI) can run here.
var VNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI

//go:noescape
func gemm8x6x64VNNI(kq int, a *int8, lda int, init *int32, b *uint8, scale *float32, c *float32, ldc int)

//go:noescape
func quantizeAVX512(x *float32, q *int8, n int) int32

func gemm8x6x64(kq int, a []int8, lda int, init []int32, b []uint8, scale []float32, c []float32, ldc int) {
	gemm8x6x64VNNI(kq, &a[0], lda, &init[0], &b[0], &scale[0], &c[0], ldc)
}

// quantizeRow is one row of QuantizeRows; its length is a multiple of 16
// wherever Int8Supported holds.
func quantizeRow(x []float32, q []int8) int32 {
	if VNNI && len(x)%16 == 0 && len(x) > 0 {
		return quantizeAVX512(&x[0], &q[0], len(x))
	}
	return quantizeRowRef(x, q)
}

//go:noescape
func prefetchRowsAsm(base *float32, ids *int32, n int, rowBytes int)

// PrefetchRows asks the memory system for rows ids of tab (rows of width
// floats) ahead of their use: prediction's table rows are random reads
// from a table larger than the caches, and a step's recurrent product
// gives them time to arrive. It only hints; it reads nothing.
func PrefetchRows(tab []float32, ids []int32, width int) {
	if !Vector || len(ids) == 0 || width%16 != 0 || width == 0 {
		return
	}
	for _, id := range ids {
		_ = tab[(int(id)+1)*width-1] // every row must be inside tab
	}
	prefetchRowsAsm(&tab[0], &ids[0], len(ids), width*4)
}

//go:noescape
func adamWAVX(k *AdamW, p, grad, m, v *float32, n int)

// adamWVec runs AdamWUpdate's vector kernel on the first multiple of 8
// elements and returns how many it did.
func adamWVec(k *AdamW, p, g, m, v []float32) int {
	n := len(p) &^ 7
	if !Vector || n == 0 {
		return 0
	}
	adamWAVX(k, &p[0], &g[0], &m[0], &v[0], n)
	return n
}

//go:noescape
func scaleSumSqAVX2(x *float32, s float32, n int, lanes *[16]float64)

// scaleSumSqVec runs ScaleSumSq's vector kernel on the first multiple of
// 16 elements, adding into lanes, and returns how many it did.
func scaleSumSqVec(x []float32, s float32, lanes *[16]float64) int {
	n := len(x) &^ 15
	if !Vector || n == 0 {
		return 0
	}
	scaleSumSqAVX2(&x[0], s, n, lanes)
	return n
}

//go:noescape
func dotAVX2(x, y *float32, n int) float32

//go:noescape
func axpyAVX2(a float32, x, y *float32, n int)

// dotVec runs Dot's vector kernel on the first multiple of 32 elements and
// returns how many it did and their sum.
func dotVec(x, y []float32) (int, float32) {
	n := len(x) &^ 31
	if !Vector || n == 0 {
		return 0, 0
	}
	return n, dotAVX2(&x[0], &y[0], n)
}

// axpyVec runs Axpy's vector kernel on the first multiple of 32 elements
// and returns how many it did.
func axpyVec(a float32, x, y []float32) int {
	n := len(y) &^ 31
	if !Vector || n == 0 {
		return 0
	}
	axpyAVX2(a, &x[0], &y[0], n)
	return n
}
