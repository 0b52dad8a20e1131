//go:build cgo

package emu

import (
	"math"
	"math/rand/v2"
	"testing"

	"trainer/cuda"
)

// refSeq is the float64 reference of a whole LSTM layer's recurrence, the
// oracle of the persistent kernels: forward states and activations, and
// the backward pass's gate gradients.
type refSeq struct {
	T, B, H int
	lengths []int32
	G, W    []float32 // [T][B][4H] input projections; [4H][H] recurrent weights
	bias    []float32 // [4H]
	hs, cs  []float64 // [T+1][B][H]
	acts    []float64 // [T][B][4H]
}

func (r *refSeq) forward() {
	T, B, H := r.T, r.B, r.H
	r.hs, r.cs = make([]float64, (T+1)*B*H), make([]float64, (T+1)*B*H)
	r.acts = make([]float64, T*B*4*H)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			for j := 0; j < H; j++ {
				prev, next := t*B*H+b*H+j, (t+1)*B*H+b*H+j
				if t >= int(r.lengths[b]) {
					r.hs[next], r.cs[next] = r.hs[prev], r.cs[prev]
					continue
				}
				var pre [4]float64
				for q := range pre {
					pre[q] = float64(r.G[(t*B+b)*4*H+q*H+j]) + float64(r.bias[q*H+j])
					for k := 0; k < H; k++ {
						pre[q] += r.hs[t*B*H+b*H+k] * float64(r.W[(q*H+j)*H+k])
					}
				}
				o := refCell(pre, r.cs[prev])
				r.hs[next], r.cs[next] = o.h, o.c
				for q := range o.acts {
					r.acts[(t*B+b)*4*H+q*H+j] = o.acts[q]
				}
			}
		}
	}
}

// backward returns dG [T][B][4H] for the gradient dhInit at h of state T
// (nil: zero), dpool (nil or [B][H], mean pooling) and dhExt (nil or
// [T][B][H]).
func (r *refSeq) backward(dhInit, dpool, dhExt []float32) []float64 {
	T, B, H := r.T, r.B, r.H
	dG := make([]float64, T*B*4*H)
	dh, dc := make([]float64, B*H), make([]float64, B*H)
	for i := range dh {
		if dhInit != nil {
			dh[i] = float64(dhInit[i])
		}
	}
	for t := T - 1; t >= 0; t-- {
		next := make([]float64, B*H)
		for b := 0; b < B; b++ {
			for j := 0; j < H; j++ {
				idx := b*H + j
				d := dh[idx]
				if t+1 < T {
					for rr := 0; rr < 4*H; rr++ {
						d += dG[((t+1)*B+b)*4*H+rr] * float64(r.W[rr*H+j])
					}
				}
				l := int(r.lengths[b])
				if t >= l {
					next[idx] = d
					continue
				}
				if dpool != nil {
					d += float64(dpool[idx]) / float64(l)
				}
				if dhExt != nil {
					d += float64(dhExt[t*B*H+idx])
				}
				var a [4]float64
				for q := range a {
					a[q] = r.acts[(t*B+b)*4*H+q*H+j]
				}
				dpre, dcPrev := refCellBackward(a, r.cs[t*B*H+idx], r.cs[(t+1)*B*H+idx], d, dc[idx])
				dc[idx] = dcPrev
				for q := range dpre {
					dG[(t*B+b)*4*H+q*H+j] = dpre[q]
				}
			}
		}
		dh = next
	}
	return dG
}

func f64to32(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// TestLSTMSeq runs the persistent recurrence kernels, forward and
// backward, in every precision against the float64 reference: several
// blocks (the last one partly idle) meeting at a grid barrier every step,
// rows of different lengths, and the three ways a gradient arrives.
func TestLSTMSeq(t *testing.T) {
	const T, B, H, U = 6, 5, 7, 2 // 4 blocks of 2 units: the last owns one
	blocks := (H + U - 1) / U
	lengths := []int32{6, 1, 4, 3, 6}
	rng := rand.New(rand.NewPCG(19, 20))
	G := randSlice(rng, T*B*4*H, 1)
	W := randSlice(rng, 4*H*H, 0.5)
	bias := randSlice(rng, 4*H, 0.3)
	dpooled := randSlice(rng, B*H, 1)
	dhExt := randSlice(rng, T*B*H, 0.5)
	grads := []struct {
		name                string
		init, pool, ext     bool
		dhInit, dpool, dext []float32
	}{
		{"last", true, false, false, dpooled, nil, nil},
		{"mean", false, true, false, nil, dpooled, nil},
		{"from-above", false, false, true, nil, nil, dhExt},
	}
	for _, prec := range []cuda.Precision{cuda.FP32, cuda.FP16, cuda.BF16} {
		t.Run(prec.String(), func(t *testing.T) {
			f := newFixture(t)
			w := W
			var pw cuda.Ptr
			wb := 4
			tol, eps := 1e-5, 64*epsF32
			switch prec {
			case cuda.FP32:
				pw = f.f32(W)
			case cuda.FP16:
				w, pw, wb = mapSlice(W, roundHalf), f.low(W, false), 2
				tol, eps = 2e-3, 4*epsHalf
			case cuda.BF16:
				w, pw, wb = mapSlice(W, roundBF16), f.low(W, true), 2
				tol, eps = 2e-3, 4*epsHalf
			}
			ref := &refSeq{T: T, B: B, H: H, lengths: lengths, G: G, W: w, bias: bias}
			ref.forward()
			sfx := map[cuda.Precision]string{cuda.FP32: "_f32", cuda.FP16: "_f16", cuda.BF16: "_bf16"}[prec]
			shared := 4 * U * H * wb
			bar := f.i32([]int32{0, 0})
			pl := f.i32(lengths)
			hs, cs := f.f32(make([]float32, (T+1)*B*H)), f.f32(make([]float32, (T+1)*B*H))
			acts, pg := f.garbage(T*B*4*H), f.f32(G)
			var hsLow any = cuda.Ptr(0)
			var phl cuda.Ptr
			if prec != cuda.FP32 {
				phl = f.alloc(2 * (T + 1) * B * H)
				f.do(func() error { return f.be.Zero(phl, 2*B*H, 0) })
				hsLow = phl
			}
			f.do(func() error {
				return f.be.LaunchCooperative("lstm_seq_forward"+sfx, cuda.Dim3{X: blocks}, cuda.Dim3{X: 32}, shared, 0,
					T, B, H, U, pl, pg, pw, f.f32(bias), hs, cs, hsLow, acts, bar)
			})
			validate(t, "hs", f.read(hs, (T+1)*B*H), f64to32(ref.hs), tol, eps)
			validate(t, "cs", f.read(cs, (T+1)*B*H), f64to32(ref.cs), tol, eps)
			validate(t, "acts", f.read(acts, T*B*4*H), f64to32(ref.acts), tol, eps)
			if prec != cuda.FP32 {
				bits := f.readU16(phl, (T+1)*B*H)
				dec, round := halfToFloat, roundHalf
				if prec == cuda.BF16 {
					dec, round = bf16ToFloat, roundBF16
				}
				got := make([]float32, len(bits))
				for i, v := range bits {
					got[i] = dec(v)
				}
				validate(t, "hs low", got, mapSlice(f64to32(ref.hs), round), tol, 2*epsHalf)
			}
			if b := f.readI32(bar, 1); b[0] != 0 {
				t.Errorf("barrier count left at %d, want 0 for the next launch", b[0])
			}
			for _, g := range grads {
				t.Run(g.name, func(t *testing.T) {
					want := ref.backward(g.dhInit, g.dpool, g.dext)
					ptr := func(use bool, v []float32) any {
						if !use {
							return cuda.Ptr(0)
						}
						return f.f32(v)
					}
					dG := f.garbage(T * B * 4 * H)
					var dGLow any = cuda.Ptr(0)
					var pdl cuda.Ptr
					if prec != cuda.FP32 {
						pdl = f.alloc(2 * T * B * 4 * H)
						dGLow = pdl
					}
					f.do(func() error {
						return f.be.LaunchCooperative("lstm_seq_backward"+sfx, cuda.Dim3{X: blocks}, cuda.Dim3{X: 32}, shared, 0,
							T, B, H, U, pl, acts, cs, pw, ptr(g.init, g.dhInit), ptr(g.pool, g.dpool), ptr(g.ext, g.dext),
							f.garbage(B*H), f.garbage(B*H), dG, dGLow, bar)
					})
					validate(t, "dG", f.read(dG, T*B*4*H), f64to32(want), tol, eps)
					if prec != cuda.FP32 {
						bits := f.readU16(pdl, T*B*4*H)
						dec := halfToFloat
						if prec == cuda.BF16 {
							dec = bf16ToFloat
						}
						got := make([]float32, len(bits))
						for i, v := range bits {
							got[i] = dec(v)
						}
						validate(t, "dG low", got, f64to32(want), tol, 4*epsHalf)
					}
				})
			}
		})
	}
}

// TestCooperativeGridLimit: a cooperative grid larger than the device can
// keep resident is refused, not deadlocked.
func TestCooperativeGridLimit(t *testing.T) {
	d := NewWith(1, Options{SMs: 4})
	defer d.Close()
	err := d.LaunchCooperative("lstm_seq_forward_f32", cuda.Dim3{X: 5}, cuda.Dim3{X: 32}, 0, 0)
	if err == nil {
		t.Fatal("a 5-block cooperative grid ran on a 4-SM device")
	}
	if n, _ := d.MaxCooperativeBlocks("lstm_seq_forward_f32", 128, 1024); n != 4 {
		t.Errorf("MaxCooperativeBlocks = %d, want 4", n)
	}
	_ = math.Pi
}
