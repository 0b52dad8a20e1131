//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

// Vector reports whether the AVX2 + FMA kernels can run here.
// Vector reports whether the slice functions use the vector kernels.
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
func gemm6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int)

//go:noescape
func gemm6x16SetAVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int)

// gemm6x16 is C[6x16] += A[6xk] * B (one packed panel), or = when set.
func gemm6x16(k int, a []float32, lda int, b []float32, c []float32, ldc int, set bool) {
	if set {
		gemm6x16SetAVX2(k, &a[0], lda, &b[0], &c[0], ldc)
		return
	}
	gemm6x16AVX2(k, &a[0], lda, &b[0], &c[0], ldc)
}
