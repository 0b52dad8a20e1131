package vecmath

import "math"

// An 8-bit matrix product for prediction's recurrent step, C = A*B, with B
// (the recurrent weights) quantized once per model and A (the previous
// hidden state, which an LSTM keeps in [-1, 1]) quantized at every step
// with the fixed scale 127. The products are exact integer dot products
// (AVX-512 VNNI: 64 multiply-adds per instruction, four times the float32
// rate); only the two roundings to 8 bits differ from float32, the same
// trade as PyTorch's dynamic quantization of LSTMs.

const (
	int8Cols   = 64 // columns per packed block: four 16-lane vectors
	int8Rows   = 6  // rows of A per kernel call
	int8KGroup = 4  // k values per 32-bit lane
)

// PackedB8 is a k x n matrix quantized for GemmInt8Set: column j has the
// scale s_j = max_k |B[k][j]| / 127 and values round(B[k][j] / s_j) + 128
// as unsigned bytes, packed in blocks of 64 columns by 4 k values. It is
// read-only once packed, so workers may share one.
type PackedB8 struct {
	K, N  int
	data  []uint8
	scale []float32 // s_j / 127: also undoes the activations' scale
}

// Int8Supported reports whether GemmInt8Set can run here on a k x n B.
func Int8Supported(k, n int) bool {
	return VNNI && k > 0 && n > 0 && k%16 == 0 && n%int8Cols == 0
}

// Int8RowsPadded is m rounded up to the kernel's row block: GemmInt8Set
// reads and writes that many rows of its operands.
func Int8RowsPadded(m int) int { return (m + int8Rows - 1) / int8Rows * int8Rows }

// Pack quantizes op(W) (k x n) into p. W is row-major with stride ldw;
// op(W) is W, or W transposed when trans is set (W then being n x k).
func (p *PackedB8) Pack(w []float32, ldw, k, n int, trans bool) {
	at := func(kk, j int) float32 {
		if trans {
			return w[j*ldw+kk]
		}
		return w[kk*ldw+j]
	}
	p.K, p.N = k, n
	p.data = make([]uint8, k*n)
	p.scale = make([]float32, n)
	inv := make([]float32, n)
	for j := 0; j < n; j++ {
		m := float32(0)
		for kk := 0; kk < k; kk++ {
			m = max(m, float32(math.Abs(float64(at(kk, j)))))
		}
		s := m / 127
		if s == 0 {
			s = 1
		}
		p.scale[j] = s / 127
		inv[j] = 1 / s
	}
	i := 0
	for j0 := 0; j0 < n; j0 += int8Cols {
		for k0 := 0; k0 < k; k0 += int8KGroup {
			for j := j0; j < j0+int8Cols; j++ {
				for kk := k0; kk < k0+int8KGroup; kk++ {
					q := int32(math.RoundToEven(float64(at(kk, j) * inv[j])))
					p.data[i] = uint8(max(-127, min(127, q)) + 128)
					i++
				}
			}
		}
	}
}

// QuantizeRows sets q ([rows, k], int8) to round(127 * x) for x ([rows,
// k], values in [-1, 1]) and init[r] to -128 times the sum of row r of q:
// the correction GemmInt8Set starts row r from, because its weights carry
// an offset of 128.
func QuantizeRows(x []float32, rows, k int, q []int8, init []int32) {
	for r := 0; r < rows; r++ {
		init[r] = -128 * quantizeRow(x[r*k:(r+1)*k], q[r*k:(r+1)*k])
	}
}

func quantizeRowRef(x []float32, q []int8) int32 {
	var s int32
	for i, v := range x {
		t := int32(math.RoundToEven(float64(v * 127)))
		t = max(-127, min(127, t))
		q[i] = int8(t)
		s += t
	}
	return s
}

// GemmInt8Set sets C (m x p.N floats, row-major, stride ldc) to A*B for A
// quantized by QuantizeRows (m x p.K, stride lda bytes, with its init) and
// the packed B. It works on Int8RowsPadded(m) rows: aq, init and c must
// hold that many, and the extra rows of c receive values to ignore.
// Int8Supported(p.K, p.N) must hold.
func GemmInt8Set(m int, aq []int8, lda int, init []int32, p *PackedB8, c []float32, ldc int) {
	if m == 0 {
		return
	}
	if !Int8Supported(p.K, p.N) {
		panic("vecmath: GemmInt8Set on an unsupported shape or CPU")
	}
	mp := Int8RowsPadded(m)
	_ = aq[(mp-1)*lda+p.K-1]
	_ = init[mp-1]
	_ = c[(mp-1)*ldc+p.N-1]
	block := p.K * int8Cols
	for j0, off := 0, 0; j0 < p.N; j0, off = j0+int8Cols, off+block {
		b := p.data[off : off+block]
		for r := 0; r < mp; r += int8Rows {
			gemm8x6x64(p.K/int8KGroup, aq[r*lda:], lda, init[r:r+int8Rows], b, p.scale[j0:j0+int8Cols], c[r*ldc+j0:], ldc)
		}
	}
}

// gemm8x6x64Ref is the kernel's definition in plain Go: C[6 x 64] =
// (init[r] + sum_k A[r][k] * B[k][j]) * scale[j], B as packed.
func gemm8x6x64Ref(kq int, a []int8, lda int, init []int32, b []uint8, scale []float32, c []float32, ldc int) {
	for r := 0; r < int8Rows; r++ {
		for j := 0; j < int8Cols; j++ {
			acc := init[r]
			for q := 0; q < kq; q++ {
				for t := 0; t < int8KGroup; t++ {
					acc += int32(a[r*lda+q*int8KGroup+t]) * int32(b[q*int8Cols*int8KGroup+j*int8KGroup+t])
				}
			}
			c[r*ldc+j] = float32(acc) * scale[j]
		}
	}
}
