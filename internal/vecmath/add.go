package vecmath

// Add sets dst[i] += src[i] for every i < len(dst); src must be at least
// as long as dst. The gradient scatter-adds of the embedding and of the
// first layer's projections are this over rows of 128 to 1024 values.
func Add(dst, src []float32) {
	src = src[:len(dst)]
	n := addVec(dst, src)
	for i := n; i < len(dst); i++ {
		dst[i] += src[i]
	}
}
