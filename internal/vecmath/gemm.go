package vecmath

// A small matrix product for the LSTM's recurrent step, C += A*B, where B
// (the recurrent weights) is the same for every step of a batch. A
// general BLAS packs B again on every call; here it is packed once per
// batch into 16-column panels, and each step streams its rows of A
// straight from memory through a 6x16 register-blocked kernel.

const (
	panelCols = 16  // columns per packed panel, two 8-lane vectors
	blockRows = 6   // rows of A per kernel call
	chunkK    = 256 // k values per panel chunk: 16 KiB, to stay in L1
)

// PackedB is a k x n matrix packed for GemmPacked: chunks of chunkK rows,
// each split into panels of 16 columns stored k-major. Once packed it may
// be read by concurrent products.
type PackedB struct {
	K, N  int
	data  []float32
	ready bool
}

// GemmSupported reports whether GemmPacked can take an n-column B here.
func GemmSupported(n int) bool { return Vector && n > 0 && n%panelCols == 0 }

// Pack packs op(W) (k x n) into p. W is row-major with stride ldw; op(W)
// is W, or W transposed when trans is set (W then being n x k).
func (p *PackedB) Pack(w []float32, ldw, k, n int, trans bool) {
	p.K, p.N = k, n
	if cap(p.data) < k*n {
		p.data = make([]float32, k*n)
	}
	p.data = p.data[:k*n]
	i := 0
	for k0 := 0; k0 < k; k0 += chunkK {
		k1 := min(k0+chunkK, k)
		for j0 := 0; j0 < n; j0 += panelCols {
			for kk := k0; kk < k1; kk++ {
				dst := p.data[i : i+panelCols]
				if trans {
					for t := range dst {
						dst[t] = w[(j0+t)*ldw+kk]
					}
				} else {
					copy(dst, w[kk*ldw+j0:kk*ldw+j0+panelCols])
				}
				i += panelCols
			}
		}
	}
	p.ready = true
}

// tileRows is how many rows of A one pass over B's panels covers: a
// multiple of blockRows, at least the batch of 128 rows, so that a
// recurrent step reads B once, and small enough that the tile's chunk of A
// (132 x 256 values, 132 KiB) stays in L2 for large products.
const tileRows = 132

// GemmPacked computes C += A*B for A m x p.K (row-major, stride lda) and
// the packed B, C being m x p.N (row-major, stride ldc). GemmSupported(p.N)
// must hold.
func GemmPacked(m int, a []float32, lda int, p *PackedB, c []float32, ldc int) {
	gemmPacked(m, a, lda, p, c, ldc, false)
}

// GemmPackedSet computes C = A*B like GemmPacked, ignoring C's contents.
func GemmPackedSet(m int, a []float32, lda int, p *PackedB, c []float32, ldc int) {
	gemmPacked(m, a, lda, p, c, ldc, true)
}

func gemmPacked(m int, a []float32, lda int, p *PackedB, c []float32, ldc int, set bool) {
	if m == 0 {
		return
	}
	if !p.ready || !GemmSupported(p.N) || p.K == 0 {
		panic("vecmath: GemmPacked on an unpacked or unsupported matrix")
	}
	_ = a[(m-1)*lda+p.K-1]
	_ = c[(m-1)*ldc+p.N-1]
	full := m - m%blockRows
	for m0 := 0; m0 < full; m0 += tileRows {
		m1 := min(m0+tileRows, full)
		off := 0
		for k0 := 0; k0 < p.K; k0 += chunkK {
			kc := min(chunkK, p.K-k0)
			first := set && k0 == 0
			for j0 := 0; j0 < p.N; j0 += panelCols {
				b := p.data[off : off+kc*panelCols]
				for r := m0; r < m1; r += blockRows {
					gemm6x16(kc, a[r*lda+k0:], lda, b, c[r*ldc+j0:], ldc, first)
				}
				off += kc * panelCols
			}
		}
	}
	if full == m {
		return
	}
	// The last m%6 rows. When C is only set, one more 6-row block ending at
	// row m costs least from three rows on: it recomputes the rows it
	// shares with the last full block, with the same operations in the same
	// order, so they end with the same bits. Otherwise the 4-, 2- and 1-row
	// kernels take them. Either way the rows are read and written in place.
	rest, r0 := m-full, full
	if set && full > 0 && rest >= 3 {
		rest, r0 = blockRows, m-blockRows
	}
	off := 0
	for k0 := 0; k0 < p.K; k0 += chunkK {
		kc := min(chunkK, p.K-k0)
		first := set && k0 == 0
		for j0 := 0; j0 < p.N; j0 += panelCols {
			b, cr := p.data[off:off+kc*panelCols], c[r0*ldc+j0:]
			if rest == blockRows {
				gemm6x16(kc, a[r0*lda+k0:], lda, b, cr, ldc, first)
			} else {
				gemmFewx16(rest, kc, a[r0*lda+k0:], lda, b, cr, ldc, first)
			}
			off += kc * panelCols
		}
	}
}
