//go:build cgo

package emu

import (
	"math"
	"math/rand/v2"
	"testing"

	"trainer/cuda"
	"trainer/data"
	"trainer/model"
)

// seqLayout is a batch's rows of given lengths seen two ways: the kernels'
// padded, time-major [T][B][W] sequences, and the model package's packed
// layout (model.Packing), so that the kernels of a bidirectional layer and
// of max pooling can be held to the model's functions on the same values.
type seqLayout struct {
	T, B int
	p    model.Packing
}

func newSeqLayout(lengths []int32) *seqLayout {
	reviews := make([][]int32, len(lengths))
	for b, l := range lengths {
		reviews[b] = make([]int32, l)
	}
	batch := data.MakeBatch(reviews, make([]uint8, len(lengths)), 0)
	sl := &seqLayout{T: batch.MaxLen, B: batch.Size}
	sl.p.Pack(batch)
	sl.p.BuildRev()
	return sl
}

// pack returns the real steps of x ([T][B][w] with row stride ld) in the
// packed layout [N][w]: packed row Offsets[s]+k is step s of batch row
// Perm[k].
func (sl *seqLayout) pack(x []float32, w, ld int) []float32 {
	out := make([]float32, sl.p.N()*w)
	for s, n := range sl.p.Sizes {
		for k := 0; k < n; k++ {
			src := (s*sl.B + sl.p.Perm[k]) * ld
			copy(out[(sl.p.Offsets[s]+k)*w:(sl.p.Offsets[s]+k+1)*w], x[src:src+w])
		}
	}
	return out
}

// padding returns the values of x ([T][B][w], row stride ld) at every
// padding step, for the tests that want them zero or untouched.
func (sl *seqLayout) padding(x []float32, w, ld int, lengths []int32) []float32 {
	var out []float32
	for t := 0; t < sl.T; t++ {
		for b := 0; b < sl.B; b++ {
			if t >= int(lengths[b]) {
				out = append(out, x[(t*sl.B+b)*ld:(t*sl.B+b)*ld+w]...)
			}
		}
	}
	return out
}

// TestSeqCopy holds seq_copy to the model package's bidirectional plumbing
// (Packing.Reverse, Join, Split and AddReversed), bit for bit: mirroring a
// layer's input for the reverse direction in every precision, joining both
// directions' states into the next layer's input, splitting its gradient,
// and adding the reverse direction's input gradient into the forward one's.
func TestSeqCopy(t *testing.T) {
	lengths := []int32{3, 6, 1, 6, 4}
	const W, H = 5, 4
	sl := newSeqLayout(lengths)
	T, B := sl.T, sl.B
	rng := rand.New(rand.NewPCG(31, 32))
	f := newFixture(t)
	pl := f.i32(lengths)

	for _, c := range []struct {
		sfx   string
		round func(float32) float32
		up    func([]float32) cuda.Ptr
		read  func(cuda.Ptr, int) []float32
	}{
		{"_f32", func(v float32) float32 { return v }, f.f32, f.read},
		{"_f16", roundHalf, func(v []float32) cuda.Ptr { return f.low(v, false) }, func(p cuda.Ptr, n int) []float32 {
			return mapU16(f.readU16(p, n), halfToFloat)
		}},
		{"_bf16", roundBF16, func(v []float32) cuda.Ptr { return f.low(v, true) }, func(p cuda.Ptr, n int) []float32 {
			return mapU16(f.readU16(p, n), bf16ToFloat)
		}},
	} {
		t.Run("mirror"+c.sfx, func(t *testing.T) {
			x := mapSlice(randSlice(rng, T*B*W, 2), c.round)
			dst := c.up(mapSlice(randSlice(rng, T*B*W, 1), func(float32) float32 { return float32(math.NaN()) }))
			f.launch1D("seq_copy"+c.sfx, T*B*W, T, B, W, pl, 1, c.up(x), W, dst, W, 0)
			got := c.read(dst, T*B*W)
			want := make([]float32, sl.p.N()*W)
			sl.p.Reverse(want, sl.pack(x, W, W), W)
			validate(t, "mirrored", sl.pack(got, W, W), want, 0, 0)
			validate(t, "padding", sl.padding(got, W, W, lengths), make([]float32, len(sl.padding(got, W, W, lengths))), 0, 0)
		})
	}

	t.Run("join", func(t *testing.T) {
		hf, hr := randSlice(rng, T*B*H, 1), randSlice(rng, T*B*H, 1)
		out := f.garbage(T * B * 2 * H)
		f.launch1D("seq_copy_f32", T*B*H, T, B, H, pl, 0, f.f32(hf), H, out, 2*H, 0)
		f.launch1D("seq_copy_f32", T*B*H, T, B, H, pl, 1, f.f32(hr), H, out.Add(H, 4), 2*H, 0)
		want := make([]float32, sl.p.N()*2*H)
		sl.p.Join(want, sl.pack(hf, H, H), sl.pack(hr, H, H), H)
		validate(t, "joined", sl.pack(f.read(out, T*B*2*H), 2*H, 2*H), want, 0, 0)
	})

	t.Run("split", func(t *testing.T) {
		dOut := randSlice(rng, T*B*2*H, 1)
		pd := f.f32(dOut)
		dhF, dhR := f.garbage(T*B*H), f.garbage(T*B*H)
		f.launch1D("seq_copy_f32", T*B*H, T, B, H, pl, 0, pd, 2*H, dhF, H, 0)
		f.launch1D("seq_copy_f32", T*B*H, T, B, H, pl, 1, pd.Add(H, 4), 2*H, dhR, H, 0)
		wantF, wantR := make([]float32, sl.p.N()*H), make([]float32, sl.p.N()*H)
		sl.p.Split(sl.pack(dOut, 2*H, 2*H), H, wantF, wantR)
		validate(t, "forward half", sl.pack(f.read(dhF, T*B*H), H, H), wantF, 0, 0)
		validate(t, "reverse half", sl.pack(f.read(dhR, T*B*H), H, H), wantR, 0, 0)
	})

	t.Run("add-mirrored", func(t *testing.T) {
		dx, dxRev := randSlice(rng, T*B*W, 1), randSlice(rng, T*B*W, 1)
		pd := f.f32(dx)
		f.launch1D("seq_copy_f32", T*B*W, T, B, W, pl, 1, f.f32(dxRev), W, pd, W, 1)
		got := f.read(pd, T*B*W)
		want := sl.pack(dx, W, W)
		sl.p.AddReversed(want, sl.pack(dxRev, W, W), W)
		validate(t, "sum", sl.pack(got, W, W), want, 0, 0)
		validate(t, "padding untouched", sl.padding(got, W, W, lengths), sl.padding(dx, W, W, lengths), 0, 0)
	})
}

func mapU16(bits []uint16, dec func(uint16) float32) []float32 {
	out := make([]float32, len(bits))
	for i, v := range bits {
		out[i] = dec(v)
	}
	return out
}

// TestPoolMax holds pool_max_forward and pool_max_backward to the model's
// PoolForward and PoolBackward with PoolMax on a bidirectional layer's
// states: each direction pooled in its own step order into its half of
// the row, ties (the states take few distinct values) broken towards the
// direction's first step, and the gradient routed to the step the maximum
// came from and nowhere else, padding included.
func TestPoolMax(t *testing.T) {
	lengths := []int32{5, 1, 7, 3, 7, 2}
	const H = 6
	sl := newSeqLayout(lengths)
	T, B, D := sl.T, sl.B, 2*H
	rng := rand.New(rand.NewPCG(33, 34))
	tied := func(n int) []float32 { // three values: ties everywhere
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.IntN(3)) - 1
		}
		return s
	}
	hs := [2][]float32{tied(T * B * H), tied(T * B * H)} // each direction's own step order
	dpooled := randSlice(rng, B*D, 1)

	// The model's pooling works on packed states, rows in sorted order.
	packed := [][]float32{sl.pack(hs[0], H, H), sl.pack(hs[1], H, H)}
	refPooled, refArg := make([]float32, B*D), make([]int32, B*D)
	model.PoolForward(model.PoolMax, packed, H, &sl.p, refPooled, refArg)
	sortedDP := make([]float32, B*D)
	for k, r := range sl.p.Perm {
		copy(sortedDP[k*D:(k+1)*D], dpooled[r*D:(r+1)*D])
	}
	refDH := [][]float32{make([]float32, sl.p.N()*H), make([]float32, sl.p.N()*H)}
	model.PoolBackward(model.PoolMax, sortedDP, H, &sl.p, refArg, refDH)

	f := newFixture(t)
	pl := f.i32(lengths)
	pooled := f.garbage(B * D)
	argmax := f.i32(make([]int32, B*D))
	pdp := f.f32(dpooled)
	for d := 0; d < 2; d++ {
		// State 0 (zero) comes first in the kernels' buffers.
		states := append(make([]float32, B*H), hs[d]...)
		f.launch1D("pool_max_forward", B*H, B, T, H, pl, f.f32(states).Add(B*H, 4), D, pooled.Add(d*H, 4), argmax.Add(d*H, 4))
	}
	gotPooled, gotArg := f.read(pooled, B*D), f.readI32(argmax, B*D)
	for k, r := range sl.p.Perm {
		validate(t, "pooled", gotPooled[r*D:(r+1)*D], refPooled[k*D:(k+1)*D], 0, 0)
		for i := 0; i < D; i++ {
			// The model records the packed row: step s of sorted row k.
			j := int(refArg[k*D+i])
			s := 0
			for s+1 < len(sl.p.Sizes) && sl.p.Offsets[s+1] <= j {
				s++
			}
			if got := int(gotArg[r*D+i]); got != s {
				t.Errorf("row %d feature %d: argmax step %d, model %d", r, i, got, s)
			}
		}
	}
	for d := 0; d < 2; d++ {
		dh := f.garbage(T * B * H)
		f.launch1D("pool_max_backward", T*B*H, B, T, H, argmax.Add(d*H, 4), pdp.Add(d*H, 4), D, dh)
		got := f.read(dh, T*B*H)
		validate(t, "dh", sl.pack(got, H, H), refDH[d], 0, 0)
		pad := sl.padding(got, H, H, lengths)
		validate(t, "dh padding", pad, make([]float32, len(pad)), 0, 0)
	}
}
