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

// reduceRange is one worker's share of the all-reduce: it sums bufs[1:] into
// bufs[0] over [lo, hi) in replica order (so the result does not depend on
// timing), multiplies by scale and returns the sum of squares of the result,
// which the engine combines into the global gradient norm.
func reduceRange(bufs [][]float32, lo, hi int, scale float32) float64 {
	dst := bufs[0][lo:hi]
	for _, src := range bufs[1:] {
		vecmath.Add(dst, src[lo:hi])
	}
	return scaleSumSq(dst, scale)
}

// scaleSumSq multiplies x by s in place and returns the float64 sum of the
// squared results. Four partial sums break the add dependency chain.
func scaleSumSq(x []float32, s float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		v[0] *= s
		v[1] *= s
		v[2] *= s
		v[3] *= s
		a0 += float64(v[0] * v[0])
		a1 += float64(v[1] * v[1])
		a2 += float64(v[2] * v[2])
		a3 += float64(v[3] * v[3])
	}
	for ; i < len(x); i++ {
		x[i] *= s
		a0 += float64(x[i] * x[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// scaleRange multiplies x by s in place.
func scaleRange(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
