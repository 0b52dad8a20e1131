//go:build cgo

package emu

import "math"

// Go references for the kernels, in float64, written to read like the
// math rather than like the kernels.

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// refGemm is C = op(A) op(B) + beta C in float64 (row-major storage).
func refGemm(ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float32 {
	out := append([]float32(nil), c...)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var av, bv float32
				if ta {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tb {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = float32(s)
		}
	}
	return out
}

// cellState is one step of the reference LSTM cell for one batch row.
type cellOut struct {
	c, h float64
	acts [4]float64
}

// refCell is the LSTM cell on pre-activations pre (i, f, g, o).
func refCell(pre [4]float64, cPrev float64) cellOut {
	i, f, g, o := sigmoid(pre[0]), sigmoid(pre[1]), math.Tanh(pre[2]), sigmoid(pre[3])
	c := f*cPrev + i*g
	return cellOut{c: c, h: o * math.Tanh(c), acts: [4]float64{i, f, g, o}}
}

// refCellBackward returns the gradients of the pre-activations and of
// c_prev given the saved activations, the cell state and dh, dc at state t+1.
func refCellBackward(acts [4]float64, cPrev, c, dh, dc float64) (dpre [4]float64, dcPrev float64) {
	i, f, g, o := acts[0], acts[1], acts[2], acts[3]
	tc := math.Tanh(c)
	dct := dc + dh*o*(1-tc*tc)
	dpre = [4]float64{
		dct * g * i * (1 - i),
		dct * cPrev * f * (1 - f),
		dct * i * (1 - g*g),
		dh * tc * o * (1 - o),
	}
	return dpre, dct * f
}

// refBCE is the loss, prediction and gradient of one logit.
func refBCE(z, y float64) (loss float64, correct bool, dz float64) {
	loss = math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z)))
	return loss, (z > 0) == (y > 0.5), sigmoid(z) - y
}

// halfToFloat decodes fp16 bits.
func halfToFloat(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return float32(sign * math.Ldexp(m, -24))
	case 31:
		if m != 0 {
			return float32(math.NaN())
		}
		return float32(sign * math.Inf(1))
	}
	return float32(sign * math.Ldexp(1024+m, e-25))
}

// bf16ToFloat decodes bf16 bits.
func bf16ToFloat(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }
