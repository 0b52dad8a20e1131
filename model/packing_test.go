package model

import (
	"slices"
	"testing"

	"trainer/data"
)

// TestPackingDirections checks the bidirectional helpers on hand-sized
// batches: Reverse mirrors each row's tokens, AddReversed adds through the
// same mirror, and Split undoes Join.
func TestPackingDirections(t *testing.T) {
	tests := []struct {
		name    string
		lengths []int32
	}{
		{"one row", []int32{3}},
		{"mixed lengths", []int32{3, 1, 2}},
		{"equal lengths", []int32{2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxLen := int(slices.Max(tc.lengths))
			b := data.Batch{Size: len(tc.lengths), MaxLen: maxLen, Lengths: tc.lengths,
				Tokens: make([]int32, len(tc.lengths)*maxLen), Labels: make([]float32, len(tc.lengths))}
			var p Packing
			p.Pack(b)
			p.BuildRev()
			n := p.N()
			// Packed row j's value is 100*batch row + position in the row.
			src := make([]float32, n)
			for s, size := range p.Sizes {
				for k := 0; k < size; k++ {
					src[p.Offsets[s]+k] = float32(100*p.Perm[k] + s)
				}
			}
			rev := make([]float32, n)
			p.Reverse(rev, src, 1)
			for s, size := range p.Sizes {
				for k := 0; k < size; k++ {
					want := float32(100*p.Perm[k] + p.Lengths[k] - 1 - s)
					if got := rev[p.Offsets[s]+k]; got != want {
						t.Fatalf("Reverse: step %d of row %d holds %g, want %g", s, p.Perm[k], got, want)
					}
				}
			}
			sum := make([]float32, n)
			copy(sum, src)
			p.AddReversed(sum, rev, 1)
			for j := range sum {
				if sum[j] != 2*src[j] {
					t.Fatalf("AddReversed: row %d is %g, want %g", j, sum[j], 2*src[j])
				}
			}
			const hid = 2
			hf, hr := make([]float32, n*hid), make([]float32, n*hid)
			for i := range hf {
				hf[i], hr[i] = float32(i), float32(-i-1)
			}
			out := make([]float32, n*2*hid)
			p.Join(out, hf, hr, hid)
			gf, gr := make([]float32, n*hid), make([]float32, n*hid)
			p.Split(out, hid, gf, gr)
			if !slices.Equal(gf, hf) || !slices.Equal(gr, hr) {
				t.Fatalf("Split(Join) = %v, %v; want %v, %v", gf, gr, hf, hr)
			}
		})
	}
}
