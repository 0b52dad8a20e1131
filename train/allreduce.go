package train

import (
	"trainer/data"
	"trainer/internal/vecmath"
)

// reduceAlign keeps every worker's slice of the gradient buffer on its own
// cache lines (16 float32 = 64 bytes), so that workers reducing neighbouring
// slices never write to the same line.
const reduceAlign = 16

// reduceSlice is the half-open range [lo, hi) of an n-element buffer that
// worker i of w reduces: contiguous, cache-line aligned, covering the buffer.
func reduceSlice(n, i, w int) (lo, hi int) {
	blocks := (n + reduceAlign - 1) / reduceAlign
	blo, bhi := data.ShardRange(blocks, i, w)
	return min(blo*reduceAlign, n), min(bhi*reduceAlign, n)
}

// reduceChunk is how many elements reduceRange sums before it scales them:
// small enough that the chunk is still in L1 when it is scaled, so that
// the sum and the scaling cost one pass over memory, not two.
const reduceChunk = 2048

// reduceRange is one worker's share of the all-reduce: it sums bufs[1:] into
// bufs[0] over [lo, hi) in replica order (so the result does not depend on
// timing), multiplies by scale and returns the sum of squares of the result,
// which the engine combines into the global gradient norm.
func reduceRange(bufs [][]float32, lo, hi int, scale float32) float64 {
	sq := 0.0
	for c := lo; c < hi; c += reduceChunk {
		end := min(c+reduceChunk, hi)
		dst := bufs[0][c:end]
		for _, src := range bufs[1:] {
			vecmath.Add(dst, src[c:end])
		}
		sq += vecmath.ScaleSumSq(dst, scale)
	}
	return sq
}

// scaleRange multiplies x by s in place.
func scaleRange(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
