package model

import (
	"fmt"

	"trainer/data"
	"trainer/internal/vecmath"
)

// Steps describes a packed, time-major sequence batch: step s holds
// Sizes[s] rows (non-increasing in s) stored at rows Offsets[s] ..
// Offsets[s]+Sizes[s]-1 of every [N, width] activation matrix, N being
// Offsets[len(Sizes)], the number of real tokens.
type Steps struct {
	Sizes   []int
	Offsets []int // len(Sizes)+1 entries
}

// T is the number of steps (the longest row's length).
func (s Steps) T() int { return len(s.Sizes) }

// N is the number of packed rows (real tokens).
func (s Steps) N() int { return s.Offsets[len(s.Sizes)] }

// Packing turns a padded data.Batch into the packed layout: packed row
// Offsets[s]+k is token s of batch row Perm[k]. Rows are sorted by length,
// longest first, ties in batch order, so the active rows of every step are
// a prefix of the previous step's.
type Packing struct {
	Steps
	Perm    []int   // Perm[k]: batch row of sorted position k
	Lengths []int   // Lengths[k]: real tokens of batch row Perm[k], non-increasing
	Rev     []int32 // Rev[j]: packed row of the same batch row's mirrored token (built by BuildRev)
	count   []int
}

// Pack fills p for batch b, reusing p's memory. It panics if a length is
// outside [1, b.MaxLen], which the batcher guarantees never happens.
func (p *Packing) Pack(b data.Batch) {
	maxLen := 0
	for r, l := range b.Lengths[:b.Size] {
		if l < 1 || int(l) > b.MaxLen {
			panic(fmt.Sprintf("model: batch row %d has length %d, want 1..%d", r, l, b.MaxLen))
		}
		maxLen = max(maxLen, int(l))
	}
	// Counting sort by length, descending, stable.
	p.count = grow(p.count, maxLen+2)
	clear(p.count)
	for _, l := range b.Lengths[:b.Size] {
		p.count[maxLen-int(l)+1]++
	}
	for i := 1; i < len(p.count); i++ {
		p.count[i] += p.count[i-1]
	}
	p.Perm = grow(p.Perm, b.Size)
	p.Lengths = grow(p.Lengths, b.Size)
	for r, l := range b.Lengths[:b.Size] {
		k := p.count[maxLen-int(l)]
		p.count[maxLen-int(l)]++
		p.Perm[k] = r
		p.Lengths[k] = int(l)
	}
	// Sizes[s] = rows longer than s.
	p.Sizes = grow(p.Sizes, maxLen)
	p.Offsets = grow(p.Offsets, maxLen+1)
	k := b.Size
	p.Offsets[0] = 0
	for s := 0; s < maxLen; s++ {
		for k > 0 && p.Lengths[k-1] <= s {
			k--
		}
		p.Sizes[s] = k
		p.Offsets[s+1] = p.Offsets[s] + k
	}
	p.Rev = p.Rev[:0]
}

// BuildRev fills p.Rev: packed row Offsets[s]+k and packed row
// Offsets[Lengths[k]-1-s]+k are the same row's tokens mirrored. Rev is its
// own inverse.
func (p *Packing) BuildRev() {
	p.Rev = grow(p.Rev, p.N())
	for s, n := range p.Sizes {
		o := p.Offsets[s]
		for k := 0; k < n; k++ {
			p.Rev[o+k] = int32(p.Offsets[p.Lengths[k]-1-s] + k)
		}
	}
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// growKeep is grow that keeps s's contents when it reallocates.
func growKeep[T any](s []T, n int) []T {
	if cap(s) < n {
		t := make([]T, n, n+n/4)
		copy(t, s)
		return t
	}
	return s[:n]
}

// gatherRows sets dst row i to src row idx[i], rows of width w.
func gatherRows(dst, src []float32, idx []int32, w int) {
	for i, j := range idx {
		copy(dst[i*w:(i+1)*w], src[int(j)*w:(int(j)+1)*w])
	}
}

// Reverse sets dst ([N, dim], the reverse direction's step order) to the
// rows of src ([N, dim], forward step order), mirrored through p.Rev.
func (p *Packing) Reverse(dst, src []float32, dim int) {
	gatherRows(dst, src, p.Rev, dim)
}

// AddReversed adds src ([N, dim], reverse step order) into dst ([N, dim],
// forward step order), row by mirrored row: a bidirectional layer's input
// gradient is the sum of both directions'.
func (p *Packing) AddReversed(dst, src []float32, dim int) {
	for jr, j := range p.Rev {
		vecmath.Add(dst[int(j)*dim:(int(j)+1)*dim], src[jr*dim:(jr+1)*dim])
	}
}

// Join sets out ([N, 2*hid], forward step order) to a bidirectional
// layer's output: the forward states hf and the reverse states hr (in
// their own step order) side by side.
func (p *Packing) Join(out, hf, hr []float32, hid int) {
	for j, jr := range p.Rev {
		copy(out[j*2*hid:j*2*hid+hid], hf[j*hid:(j+1)*hid])
		copy(out[j*2*hid+hid:(j+1)*2*hid], hr[int(jr)*hid:(int(jr)+1)*hid])
	}
}

// Split is Join's adjoint: it sets dhF and dhR ([N, hid], each direction's
// step order) to the halves of dOut ([N, 2*hid], forward step order).
func (p *Packing) Split(dOut []float32, hid int, dhF, dhR []float32) {
	for j, jr := range p.Rev {
		copy(dhF[j*hid:(j+1)*hid], dOut[j*2*hid:j*2*hid+hid])
		copy(dhR[int(jr)*hid:(int(jr)+1)*hid], dOut[j*2*hid+hid:(j+1)*2*hid])
	}
}
