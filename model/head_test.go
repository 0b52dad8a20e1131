package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPoolMaxWithoutArgmax checks that max pooling without the argmax
// (prediction's vector path) gives the pooled values of the path that
// records it, bit for bit, over rows of many lengths, one or two
// directions, and hidden sizes on and off the vector kernel's block.
func TestPoolMaxWithoutArgmax(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hid     int
		dirs    int
		lengths []int
	}{
		{"H4-uni", 4, 1, []int{3, 1, 7, 7, 2}},
		{"H16-bi", 16, 2, []int{9, 1, 4, 12, 12, 3, 5}},
		{"H20-bi", 20, 2, []int{2, 6, 1}},
		{"H64-bi-one-row", 64, 2, []int{30}},
		{"H64-uni", 64, 1, []int{40, 1, 17, 33, 2, 2, 40, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(tc.hid)))
			var p Packing
			p.Pack(randomBatch(rng, 10, tc.lengths, 40, 0))
			hs := make([][]float32, tc.dirs)
			for d := range hs {
				hs[d] = make([]float32, p.N()*tc.hid)
				for i := range hs[d] {
					hs[d][i] = float32(rng.NormFloat64())
				}
			}
			width := tc.dirs * tc.hid
			want := make([]float32, len(tc.lengths)*width)
			PoolForward(PoolMax, hs, tc.hid, &p, want, make([]int32, len(want)))
			got := make([]float32, len(want))
			PoolForward(PoolMax, hs, tc.hid, &p, got, nil)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("pooled[%d] = %v without the argmax, %v with it", i, got[i], want[i])
				}
			}
		})
	}
}
