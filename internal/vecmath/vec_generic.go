//go:build !amd64 || purego

package vecmath

// Vector is false: this build has no vector kernels.
const Vector = false

// Sigmoid sets x[i] = Sigmoid32(x[i]).
func Sigmoid(x []float32) {
	for i, v := range x {
		x[i] = Sigmoid32(v)
	}
}

// Tanh sets x[i] = Tanh32(x[i]).
func Tanh(x []float32) {
	for i, v := range x {
		x[i] = Tanh32(v)
	}
}

// cellBackwardVec does nothing in this build: CellBackward's scalar loop
// covers every element.
func cellBackwardVec(act, tanhC, dh, dc, cPrev []float32, hid int) int { return 0 }

// cellForwardVec does nothing in this build: CellForward's scalar loop
// covers every element.
func cellForwardVec(row, bias, cPrev, c, tanhC, h []float32, hid int) int { return 0 }

// gemm6x16 is C[6x16] += A[6xk] * B (one packed panel), or = when set.
// GemmSupported is false in this build, so nothing reaches it.
func gemm6x16(k int, a []float32, lda int, b []float32, c []float32, ldc int, set bool) {
	gemmFewx16(6, k, a, lda, b, c, ldc, set)
}

// gemmFewx16 is gemm6x16 for the first rows rows.
func gemmFewx16(rows, k int, a []float32, lda int, b []float32, c []float32, ldc int, set bool) {
	for r := 0; r < rows; r++ {
		for t := 0; t < 16; t++ {
			var s float32
			for kk := 0; kk < k; kk++ {
				s += a[r*lda+kk] * b[kk*16+t]
			}
			if set {
				c[r*ldc+t] = s
			} else {
				c[r*ldc+t] += s
			}
		}
	}
}

// addVec does nothing in this build: Add's scalar loop covers every
// element.
func addVec(dst, src []float32) int { return 0 }

// VNNI is false: this build has no 8-bit kernels.
const VNNI = false

// gemm8x6x64 is the reference kernel; Int8Supported is false in this
// build, so only tests reach it.
func gemm8x6x64(kq int, a []int8, lda int, init []int32, b []uint8, scale []float32, c []float32, ldc int) {
	gemm8x6x64Ref(kq, a, lda, init, b, scale, c, ldc)
}

func quantizeRow(x []float32, q []int8) int32 { return quantizeRowRef(x, q) }

// PrefetchRows does nothing in this build.
func PrefetchRows(tab []float32, ids []int32, width int) {}

// adamWVec does nothing in this build: AdamWUpdate's scalar loop covers
// every element.
func adamWVec(k *AdamW, p, g, m, v []float32) int { return 0 }

// scaleSumSqVec does nothing in this build: ScaleSumSq's Go loop covers
// every element.
func scaleSumSqVec(x []float32, s float32, lanes *[16]float64) int { return 0 }

// maxVec does nothing in this build: Max's scalar loop covers every element.
func maxVec(dst, src []float32) int { return 0 }

// dotVec does nothing in this build: Dot's scalar loop covers every
// element.
func dotVec(x, y []float32) (int, float32) { return 0, 0 }

// axpyVec does nothing in this build: Axpy's scalar loop covers every
// element.
func axpyVec(a float32, x, y []float32) int { return 0 }
