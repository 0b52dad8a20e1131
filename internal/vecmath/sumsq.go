package vecmath

// ScaleSumSq multiplies x by s in place and returns the sum of the squares
// of the results, in float64: the all-reduce's last pass over a gradient,
// whose squared norm decides the clipping. The squares are summed in 16
// lanes (element j of every block of 16 into lane j, the tail into lane
// 0), then lane by lane, so the vector kernel and the Go code give the
// same bits. A float32 squared is exact in float64, so a fused
// multiply-add rounds as a multiply and an add do.
func ScaleSumSq(x []float32, s float32) float64 {
	var lanes [16]float64
	n := scaleSumSqVec(x, s, &lanes)
	return finishSumSq(x, n, s, &lanes)
}

// scaleSumSqRef is ScaleSumSq without the vector kernel, its reference.
func scaleSumSqRef(x []float32, s float32) float64 {
	var lanes [16]float64
	return finishSumSq(x, 0, s, &lanes)
}

// finishSumSq does ScaleSumSq's work from element n on (n a multiple of
// 16: the blocks before it are in lanes already) and sums the lanes.
func finishSumSq(x []float32, n int, s float32, lanes *[16]float64) float64 {
	blocks := len(x) &^ 15
	for i := n; i < blocks; i += 16 {
		for j := 0; j < 16; j++ {
			x[i+j] *= s
			v := float64(x[i+j])
			lanes[j] += v * v
		}
	}
	for i := blocks; i < len(x); i++ {
		x[i] *= s
		v := float64(x[i])
		lanes[0] += v * v
	}
	sum := 0.0
	for _, l := range lanes {
		sum += l
	}
	return sum
}
