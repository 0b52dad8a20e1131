package model

import "gonum.org/v1/gonum/blas"

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// op(A) being m x k and op(B) k x n. Empty products are skipped, which
// netlib would reject for some leading dimensions.
func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if beta != 1 {
			for i := 0; i < m; i++ {
				row := c[i*ldc : i*ldc+n]
				for j := range row {
					row[j] *= beta
				}
			}
		}
		return
	}
	blasImpl{}.Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemvT computes y += A^T x for a row-major m x n matrix A: the column
// sums of A when x is all ones.
func sgemvT(m, n int, a []float32, lda int, x []float32, y []float32) {
	if m == 0 || n == 0 {
		return
	}
	blasImpl{}.Sgemv(blas.Trans, m, n, 1, a, lda, x, 1, 1, y, 1)
}
