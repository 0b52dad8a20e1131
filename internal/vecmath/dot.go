package vecmath

// Dot is the sum of x[i]*y[i] over i < len(x); y must be at least as long
// as x. The vector kernel sums in four interleaved partial sums, so its
// result can differ from the scalar loop's in the last bits, but not from
// one call to the next: it depends only on the length and the values.
// Word vector training is this and Axpy over rows of 64 to 1024 values.
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	n, s := dotVec(x, y)
	for i := n; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

// Axpy sets y[i] += a*x[i] for every i < len(y); x must be at least as
// long as y.
func Axpy(a float32, x, y []float32) {
	x = x[:len(y)]
	n := axpyVec(a, x, y)
	for i := n; i < len(y); i++ {
		y[i] += a * x[i]
	}
}
