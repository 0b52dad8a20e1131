package model

import "trainer/internal/vecmath"

// Which kernel computes each matrix product of an LSTM layer: the
// register-blocked kernels on weights packed once per batch
// (internal/vecmath) where the shape suits them, the BLAS otherwise.

// vec reports whether the packed vector kernels take this layer's products.
func (a *LSTMActs) vec(w LSTMWeights) bool {
	return !a.blasOnly && vecmath.GemmSupported(4*w.Hidden)
}

// product computes C (rows x n) = A*op(W) for A (rows x k), op(W) being
// W^T for W (n x k), with the packed p when vec, the BLAS otherwise; with
// add it adds to C instead.
func (a *LSTMActs) product(vec bool, p *vecmath.PackedB, rows int, x []float32, k int, w, c []float32, n int, add bool) {
	switch {
	case rows == 0:
	case k == 0:
		if !add {
			clear(c[:rows*n])
		}
	case vec && add:
		vecmath.GemmPacked(rows, x, k, p, c, n)
	case vec:
		vecmath.GemmPackedSet(rows, x, k, p, c, n)
	default:
		beta := float32(0)
		if add {
			beta = 1
		}
		sgemm(false, true, rows, n, k, 1, x, k, w, k, beta, c, n)
	}
}

// inputGrad sets dx ([m, In]) to dGates ([m, 4H]) * W_ih.
func (a *LSTMActs) inputGrad(w LSTMWeights, m int, dGates, dx []float32) {
	g4 := 4 * w.Hidden
	if !a.blasOnly && vecmath.GemmSupported(w.In) && w.In > 0 {
		vecmath.GemmPackedSet(m, dGates, g4, &a.wih, dx, w.In)
	} else {
		sgemm(false, false, m, w.In, g4, 1, dGates, g4, w.Wih, w.In, 0, dx, w.In)
	}
}
