package vecmath

// Max sets dst[i] = src[i] where src[i] > dst[i], for every i < len(dst);
// src must be at least as long as dst. It is max pooling over time without
// the argmax a backward pass needs. The vector kernel (VMAXPS with src
// first) keeps dst where the comparison is false, NaNs and signed zeros
// included, so it gives the scalar loop's results bit for bit.
func Max(dst, src []float32) {
	src = src[:len(dst)]
	n := maxVec(dst, src)
	for i := n; i < len(dst); i++ {
		if src[i] > dst[i] {
			dst[i] = src[i]
		}
	}
}
