//go:build cgo

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"trainer/cuda"
	"trainer/model"
)

func TestEveryKernelRegistered(t *testing.T) {
	want := []string{
		"adamw_resident", "adamw_step", "add_f32", "bce_head_backward", "bce_head_forward", "cast_f32_bf16", "cast_f32_f16",
		"colsum_f32", "embed_backward", "embed_forward_bf16", "embed_forward_f16", "embed_forward_f32",
		"gemm_bf16", "gemm_f16", "gemm_f32", "grad_unscale_sumsq", "lstm_cell_backward_bf16", "lstm_cell_backward_f16",
		"lstm_cell_backward_f32", "lstm_cell_forward_bf16", "lstm_cell_forward_f16", "lstm_cell_forward_f32",
		"lstm_seq_backward_bf16", "lstm_seq_backward_f16", "lstm_seq_backward_f32",
		"lstm_seq_forward_bf16", "lstm_seq_forward_f16", "lstm_seq_forward_f32",
		"mark_rows", "ngram_backward", "ngram_features", "ngram_forward", "pool_max_backward", "pool_max_forward", "pool_mean_forward",
		"scale_f32", "seq_copy_bf16", "seq_copy_f16", "seq_copy_f32", "sumsq_f32", "unscale_check_f32",
	}
	var got []string
	for _, k := range Kernels() {
		if !strings.HasPrefix(k, "selftest_") {
			got = append(got, k)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("emulated kernels %v, want %v", got, want)
	}
	if err := New(1).Launch("no_such_kernel", cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 0); err == nil {
		t.Fatal("launch of an unknown kernel succeeded")
	}
}

func TestCastRounding(t *testing.T) {
	vals := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 1.0 / 3, 65504, -65504,
		65519.99, 65520, 1e6, // rounds to max, overflows to inf
		6.1035156e-05,                // smallest normal half
		5.9604645e-08, 2.9802322e-08, // smallest subnormal, and the tie below it (-> 0)
		8.940697e-08,               // 1.5 subnormal quanta: tie to even (2 quanta)
		1 + 1.0/2048, 1 + 3.0/2048, // ties at 1: to even
		1.00390625, 3.3895314e38, 1e-40, // bf16 tie, near bf16 max, fp32 subnormal
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		vals = append(vals, float32(math.Ldexp(2*rng.Float64()-1, rng.IntN(60)-30)))
	}
	f := newFixture(t)
	src := f.f32(vals)
	for _, c := range []struct {
		kernel string
		dec    func(uint16) float32
		ref    func(float32) float32
	}{
		{"cast_f32_f16", halfToFloat, roundHalf},
		{"cast_f32_bf16", bf16ToFloat, roundBF16},
	} {
		dst := f.alloc(2 * len(vals))
		f.launch1D(c.kernel, len(vals), int64(len(vals)), src, dst)
		bits := f.readU16(dst, len(vals))
		for i, v := range vals {
			got, want := c.dec(bits[i]), c.ref(v)
			if math.IsNaN(float64(want)) {
				if !math.IsNaN(float64(got)) {
					t.Errorf("%s(NaN) = %g", c.kernel, got)
				}
				continue
			}
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Errorf("%s(%g) = %g, want %g", c.kernel, v, got, want)
			}
		}
	}
}

func TestEmbedForward(t *testing.T) {
	const V, E, B, T, ldt = 11, 5, 3, 4, 6
	rng := rand.New(rand.NewPCG(3, 4))
	table := randSlice(rng, V*E, 2)
	lengths := []int32{4, 1, 3}
	tokens := make([]int32, B*ldt)
	for b := 0; b < B; b++ {
		for s := 0; s < int(lengths[b]); s++ {
			tokens[b*ldt+s] = int32(2 + rng.IntN(V-2))
		}
	}
	tokens[1*ldt+0] = 2 // a repeated id
	tokens[2*ldt+1] = 2
	f := newFixture(t)
	tab, tok := f.f32(table), f.i32(tokens)
	for _, c := range []struct {
		sfx   string
		bytes int
		dec   func([]byte, int) float32
		round func(float32) float32
	}{
		{"_f32", 4, func(b []byte, i int) float32 {
			return math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
		}, func(v float32) float32 { return v }},
		{"_f16", 2, func(b []byte, i int) float32 { return halfToFloat(uint16(b[2*i]) | uint16(b[2*i+1])<<8) }, roundHalf},
		{"_bf16", 2, func(b []byte, i int) float32 { return bf16ToFloat(uint16(b[2*i]) | uint16(b[2*i+1])<<8) }, roundBF16},
	} {
		out := f.alloc(T * B * E * c.bytes)
		f.launch1D("embed_forward"+c.sfx, T*B*E, tok, tab, out, B, T, ldt, E, V)
		raw := make([]byte, T*B*E*c.bytes)
		f.do(func() error { return cuda.Download(f.be, raw, out, 0) })
		for s := 0; s < T; s++ {
			for b := 0; b < B; b++ {
				for e := 0; e < E; e++ {
					i := (s*B+b)*E + e
					want := c.round(table[int(tokens[b*ldt+s])*E+e])
					if got := c.dec(raw, i); got != want {
						t.Fatalf("embed_forward%s: out[t=%d][b=%d][%d] = %g, want %g", c.sfx, s, b, e, got, want)
					}
				}
			}
		}
	}
}

func TestEmbedBackward(t *testing.T) {
	const V, E, B, T, ldt = 7, 3, 4, 5, 5
	rng := rand.New(rand.NewPCG(5, 6))
	lengths := []int32{5, 2, 1, 4}
	tokens := make([]int32, B*ldt)
	for i := range tokens {
		tokens[i] = int32(2 + rng.IntN(3)) // few ids: many collisions for the atomics
	}
	dx := randSlice(rng, T*B*E, 1)
	base := randSlice(rng, V*E, 1) // gradients accumulate onto what is there
	ref := make([]float64, V*E)
	for i, v := range base {
		ref[i] = float64(v)
	}
	for s := 0; s < T; s++ {
		for b := 0; b < B; b++ {
			if s >= int(lengths[b]) {
				continue // padding contributes nothing
			}
			id := int(tokens[b*ldt+s])
			for e := 0; e < E; e++ {
				ref[id*E+e] += float64(dx[(s*B+b)*E+e])
			}
		}
	}
	f := newFixture(t)
	d := f.f32(base)
	f.launch1D("embed_backward", T*B*E, f.i32(tokens), f.i32(lengths), f.f32(dx), d, B, T, ldt, E, V)
	refF := make([]float32, len(ref))
	for i, v := range ref {
		refF[i] = float32(v)
	}
	validate(t, "dembed", f.read(d, V*E), refF, 1e-6, 8*epsF32)
}

func TestGemm(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {16, 16, 16}, {5, 7, 3}, {17, 33, 20}, {70, 65, 130}, {3, 130, 9},
	}
	precs := []struct {
		kernel string
		round  func(float32) float32
		bf     bool
	}{
		{"gemm_f32", nil, false},
		{"gemm_f16", roundHalf, false},
		{"gemm_bf16", roundBF16, true},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range precs {
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, v := range []struct {
					beta  float32
					split int
				}{{0, 1}, {1, 1}, {1, 3}} {
					name := fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v/beta=%g/splitK=%d", p.kernel, sh.m, sh.n, sh.k, tr[0], tr[1], v.beta, v.split)
					t.Run(name, func(t *testing.T) {
						testGemm(t, rng, p.kernel, p.round, p.bf, sh.m, sh.n, sh.k, tr[0], tr[1], v.beta, v.split)
					})
				}
			}
		}
	}
}

// testGemm checks one product; split > 1 runs it as split-K over grid.z
// (which accumulates, so beta is 1 there).
func testGemm(t *testing.T, rng *rand.Rand, kernel string, round func(float32) float32, bf bool, m, n, k int, ta, tb bool, beta float32, split int) {
	// Leading dimensions wider than the matrices, as for views into
	// larger buffers.
	arows, acols := m, k
	if ta {
		arows, acols = k, m
	}
	brows, bcols := k, n
	if tb {
		brows, bcols = n, k
	}
	lda, ldb, ldc := acols+3, bcols+1, n+2
	a := randSlice(rng, arows*lda, 1)
	b := randSlice(rng, brows*ldb, 1)
	c := randSlice(rng, m*ldc, 1)
	f := newFixture(t)
	var pa, pb cuda.Ptr
	ra, rb := a, b
	if round == nil {
		pa, pb = f.f32(a), f.f32(b)
	} else {
		pa, pb = f.low(a, bf), f.low(b, bf)
		ra, rb = mapSlice(a, round), mapSlice(b, round)
	}
	var pc cuda.Ptr
	if beta == 0 {
		pc = f.garbage(m * ldc) // NaN garbage must not leak into the result
	} else {
		pc = f.f32(c)
	}
	grid, block := cuda.Dim3{X: (n + 63) / 64, Y: (m + 63) / 64, Z: split}, cuda.Dim3{X: 128}
	if round == nil {
		grid, block = cuda.Dim3{X: (n + 15) / 16, Y: (m + 15) / 16, Z: split}, cuda.Dim3{X: 16, Y: 16}
	}
	f.launch(kernel, grid, block, ta, tb, m, n, k, float32(1), pa, lda, pb, ldb, beta, pc, ldc)
	got := f.read(pc, m*ldc)
	ref := refGemm(ta, tb, m, n, k, ra, lda, rb, ldb, beta, c, ldc)
	// Only the m x n window is defined when beta == 0 (the rest is garbage).
	gw, rw := window(got, m, n, ldc), window(ref, m, n, ldc)
	// Same (rounded) inputs: only the fp32 accumulation order differs.
	validate(t, kernel, gw, rw, 1e-5*math.Sqrt(float64(k)), 16*epsF32)
	if round != nil {
		// Against the unrounded fp32 product: the input rounding error,
		// about 2^-8 relative per factor, over sqrt(k) random terms.
		full := window(refGemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc), m, n, ldc)
		validate(t, kernel+" vs fp32", gw, full, epsHalf*math.Sqrt(float64(k)), epsHalf)
	}
}

func window(s []float32, m, n, ld int) []float32 {
	out := make([]float32, 0, m*n)
	for i := 0; i < m; i++ {
		out = append(out, s[i*ld:i*ld+n]...)
	}
	return out
}

func TestLSTMCellForward(t *testing.T) {
	const B, H, step = 5, 7, 1
	lengths := []int32{3, 1, 2, 3, 1} // rows 1 and 4 are padding at step 1
	rng := rand.New(rand.NewPCG(9, 10))
	G := randSlice(rng, B*4*H, 2)
	bias := randSlice(rng, 4*H, 0.5)
	cPrev := randSlice(rng, B*H, 1)
	hPrev := randSlice(rng, B*H, 1)
	refC, refH, refActs := make([]float32, B*H), make([]float32, B*H), make([]float32, B*4*H)
	for b := 0; b < B; b++ {
		for j := 0; j < H; j++ {
			idx := b*H + j
			if step >= int(lengths[b]) {
				refC[idx], refH[idx] = cPrev[idx], hPrev[idx]
				continue
			}
			var pre [4]float64
			for q := range pre {
				pre[q] = float64(G[b*4*H+q*H+j]) + float64(bias[q*H+j])
			}
			o := refCell(pre, float64(cPrev[idx]))
			refC[idx], refH[idx] = float32(o.c), float32(o.h)
			for q := range o.acts {
				refActs[b*4*H+q*H+j] = float32(o.acts[q])
			}
		}
	}
	for _, sfx := range []string{"_f32", "_f16", "_bf16"} {
		t.Run(sfx[1:], func(t *testing.T) {
			f := newFixture(t)
			pc, ph, pa := f.garbage(B*H), f.garbage(B*H), f.garbage(B*4*H)
			var low any = cuda.Ptr(0)
			var pl cuda.Ptr
			if sfx != "_f32" {
				pl = f.alloc(2 * B * H)
				low = pl
			}
			f.launch1D("lstm_cell_forward"+sfx, B*H, step, B, H, f.i32(lengths), f.f32(G), f.f32(bias), cuda.Ptr(0),
				f.f32(cPrev), f.f32(hPrev), pc, ph, low, pa)
			validate(t, "c", f.read(pc, B*H), refC, 1e-6, 8*epsF32)
			validate(t, "h", f.read(ph, B*H), refH, 1e-6, 8*epsF32)
			validate(t, "acts", f.read(pa, B*4*H), refActs, 1e-6, 8*epsF32)
			if sfx != "_f32" {
				bits := f.readU16(pl, B*H)
				dec, round := halfToFloat, roundHalf
				if sfx == "_bf16" {
					dec, round = bf16ToFloat, roundBF16
				}
				gotLow := make([]float32, B*H)
				for i, v := range bits {
					gotLow[i] = dec(v)
				}
				validate(t, "h low", gotLow, mapSlice(refH, round), 1e-6, epsHalf)
			}
		})
	}
	// Cross-check the real rows with the CPU model's cell.
	f := newFixture(t)
	pc, ph, pa := f.garbage(B*H), f.garbage(B*H), f.garbage(B*4*H)
	f.launch1D("lstm_cell_forward_f32", B*H, step, B, H, f.i32([]int32{9, 9, 9, 9, 9}), f.f32(G), f.f32(bias),
		cuda.Ptr(0), f.f32(cPrev), f.f32(hPrev), pc, ph, cuda.Ptr(0), pa)
	gates := append([]float32(nil), G...)
	mc, mt, mh := make([]float32, B*H), make([]float32, B*H), make([]float32, B*H)
	model.LSTMCellForward(B, H, gates, bias, cPrev, mc, mt, mh)
	validate(t, "h vs model", f.read(ph, B*H), mh, 1e-6, 1e-5)
	validate(t, "c vs model", f.read(pc, B*H), mc, 1e-6, 1e-5)
	validate(t, "acts vs model", f.read(pa, B*4*H), gates, 1e-6, 1e-5)
}

func TestLSTMCellBackward(t *testing.T) {
	const B, H, step = 4, 6, 2
	lengths := []int32{3, 2, 5, 1} // rows 1 and 3 are padding at step 2
	rng := rand.New(rand.NewPCG(11, 12))
	cPrev := randSlice(rng, B*H, 1)
	pre := randSlice(rng, B*4*H, 2)
	acts := make([]float32, B*4*H)
	cCur := make([]float32, B*H)
	for b := 0; b < B; b++ {
		for j := 0; j < H; j++ {
			var p [4]float64
			for q := range p {
				p[q] = float64(pre[b*4*H+q*H+j])
			}
			o := refCell(p, float64(cPrev[b*H+j]))
			cCur[b*H+j] = float32(o.c)
			for q := range o.acts {
				acts[b*4*H+q*H+j] = float32(o.acts[q])
			}
		}
	}
	dhIn := randSlice(rng, B*H, 1)
	dpool := randSlice(rng, B*H, 1)
	dhExt := randSlice(rng, B*H, 1)
	dc := randSlice(rng, B*H, 1)
	for _, mode := range []string{"plain", "mean+ext"} {
		refDG, refDC, refDH := make([]float32, B*4*H), make([]float32, B*H), make([]float32, B*H)
		for b := 0; b < B; b++ {
			for j := 0; j < H; j++ {
				idx := b*H + j
				dh := float64(dhIn[idx])
				if step >= int(lengths[b]) {
					refDC[idx], refDH[idx] = dc[idx], float32(dh)
					continue
				}
				if mode != "plain" {
					dh += float64(dpool[idx])/float64(lengths[b]) + float64(dhExt[idx])
				}
				var a [4]float64
				for q := range a {
					a[q] = float64(acts[b*4*H+q*H+j])
				}
				d, dcp := refCellBackward(a, float64(cPrev[idx]), float64(cCur[idx]), dh, float64(dc[idx]))
				for q := range d {
					refDG[b*4*H+q*H+j] = float32(d[q])
				}
				refDC[idx] = float32(dcp)
			}
		}
		for _, sfx := range []string{"_f32", "_f16"} {
			t.Run(mode+sfx, func(t *testing.T) {
				f := newFixture(t)
				var pp, pe any = cuda.Ptr(0), cuda.Ptr(0)
				if mode != "plain" {
					pp, pe = f.f32(dpool), f.f32(dhExt)
				}
				var low any = cuda.Ptr(0)
				var pl cuda.Ptr
				if sfx == "_f16" {
					pl = f.alloc(2 * B * 4 * H)
					low = pl
				}
				pdc, pdh, pdg := f.f32(dc), f.garbage(B*H), f.garbage(B*4*H)
				f.launch1D("lstm_cell_backward"+sfx, B*H, step, B, H, f.i32(lengths), f.f32(acts), f.f32(cPrev),
					f.f32(cCur), f.f32(dhIn), pp, pe, pdc, pdh, pdg, low)
				validate(t, "dG", f.read(pdg, B*4*H), refDG, 1e-6, 16*epsF32)
				validate(t, "dc", f.read(pdc, B*H), refDC, 1e-6, 16*epsF32)
				gotDH := f.read(pdh, B*H)
				for b := 0; b < B; b++ {
					for j := 0; j < H; j++ {
						want := refDH[b*H+j] // carried for padding rows, zero for real ones
						if gotDH[b*H+j] != want {
							t.Fatalf("dh_out[%d][%d] = %g, want %g", b, j, gotDH[b*H+j], want)
						}
					}
				}
				if sfx == "_f16" {
					bits := f.readU16(pl, B*4*H)
					gotLow := make([]float32, len(bits))
					for i, v := range bits {
						gotLow[i] = halfToFloat(v)
					}
					validate(t, "dG low", gotLow, mapSlice(refDG, roundHalf), 1e-6, epsHalf)
				}
			})
		}
	}
	// Cross-check with the CPU model's backward cell on all-real rows.
	f := newFixture(t)
	pdc, pdh, pdg := f.f32(dc), f.garbage(B*H), f.garbage(B*4*H)
	f.launch1D("lstm_cell_backward_f32", B*H, step, B, H, f.i32([]int32{9, 9, 9, 9}), f.f32(acts), f.f32(cPrev),
		f.f32(cCur), f.f32(dhIn), cuda.Ptr(0), cuda.Ptr(0), pdc, pdh, pdg, cuda.Ptr(0))
	tanhC := mapSlice(cCur, func(v float32) float32 { return float32(math.Tanh(float64(v))) })
	mdc := append([]float32(nil), dc...)
	mdg := make([]float32, B*4*H)
	model.LSTMCellBackward(B, H, acts, cPrev, tanhC, dhIn, mdc, mdg)
	validate(t, "dG vs model", f.read(pdg, B*4*H), mdg, 1e-6, 1e-5)
	validate(t, "dc vs model", f.read(pdc, B*H), mdc, 1e-6, 1e-5)
}

func TestPoolMean(t *testing.T) {
	const B, T, H = 3, 4, 5
	lengths := []int32{4, 1, 2}
	rng := rand.New(rand.NewPCG(13, 14))
	hs := randSlice(rng, T*B*H, 1)
	ref := make([]float32, B*H)
	for b := 0; b < B; b++ {
		for j := 0; j < H; j++ {
			s := 0.0
			for k := 0; k < int(lengths[b]); k++ {
				s += float64(hs[(k*B+b)*H+j])
			}
			ref[b*H+j] = float32(s / float64(lengths[b]))
		}
	}
	f := newFixture(t)
	out := f.garbage(B * H)
	f.launch1D("pool_mean_forward", B*H, B, T, H, f.i32(lengths), f.f32(hs), out)
	validate(t, "pooled", f.read(out, B*H), ref, 1e-6, 8*epsF32)
}

func TestBCEHead(t *testing.T) {
	for _, sh := range []struct{ B, H int }{{1, 1}, {3, 7}, {9, 300}} {
		t.Run(fmt.Sprintf("B%d_H%d", sh.B, sh.H), func(t *testing.T) {
			B, H := sh.B, sh.H
			rng := rand.New(rand.NewPCG(uint64(B), uint64(H)))
			pooled := randSlice(rng, B*H, 1)
			w := randSlice(rng, H, 1)
			bias := []float32{0.3}
			labels := make([]float32, B)
			for i := range labels {
				labels[i] = float32(rng.IntN(2))
			}
			const scale = 8
			var refLoss float64
			refCorrect := 0
			refZ, refD := make([]float32, B), make([]float32, B)
			for b := 0; b < B; b++ {
				z := float64(bias[0])
				for j := 0; j < H; j++ {
					z += float64(pooled[b*H+j]) * float64(w[j])
				}
				l, ok, dz := refBCE(z, float64(labels[b]))
				refLoss += l
				if ok {
					refCorrect++
				}
				refZ[b], refD[b] = float32(z), float32(scale*dz)
			}
			f := newFixture(t)
			logits, dlogit, sums := f.garbage(B), f.garbage(B), f.f32([]float32{0, 0})
			f.launch("bce_head_forward", cuda.Dim3{X: B}, cuda.Dim3{X: 64}, B, H, f.f32(pooled), f.f32(w), f.f32(bias),
				cuda.Ptr(0), f.f32(labels), float32(scale), logits, dlogit, sums, sums.Add(1, 4))
			validate(t, "logits", f.read(logits, B), refZ, 1e-6, 32*epsF32)
			validate(t, "dlogit", f.read(dlogit, B), refD, 1e-6, 32*epsF32)
			validate(t, "loss", f.read(sums, 1), []float32{float32(refLoss)}, 1e-6, 32*epsF32)
			if got := f.readI32(sums.Add(1, 4), 1)[0]; int(got) != refCorrect {
				t.Errorf("correct = %d, want %d", got, refCorrect)
			}
			// Cross-check with the model's head and loss.
			mz := make([]float32, B)
			model.LinearForward(pooled, H, w, bias[0], mz)
			mloss, mcorrect := model.BCEWithLogits(mz, labels, nil)
			validate(t, "loss vs model", f.read(sums, 1), []float32{float32(mloss)}, 1e-5, 1e-5)
			if got := f.readI32(sums.Add(1, 4), 1)[0]; int(got) != mcorrect {
				t.Errorf("correct = %d, model says %d", got, mcorrect)
			}

			// With the wide n-gram path each row's term joins its logit
			// before the loss, as in the model's head.
			wide := randSlice(rng, B, 2)
			wz := append([]float32(nil), mz...)
			for b := range wz {
				wz[b] += wide[b]
			}
			wloss, wcorrect := model.BCEWithLogits(wz, labels, nil)
			sums = f.f32([]float32{0, 0})
			f.launch("bce_head_forward", cuda.Dim3{X: B}, cuda.Dim3{X: 64}, B, H, f.f32(pooled), f.f32(w), f.f32(bias),
				f.f32(wide), f.f32(labels), float32(scale), logits, dlogit, sums, sums.Add(1, 4))
			validate(t, "logits with wide terms", f.read(logits, B), wz, 1e-6, 32*epsF32)
			for b := range wz {
				_, _, dz := refBCE(float64(wz[b]), float64(labels[b]))
				refD[b] = float32(scale * dz)
			}
			validate(t, "dlogit with wide terms", f.read(dlogit, B), refD, 1e-6, 32*epsF32)
			validate(t, "loss with wide terms", f.read(sums, 1), []float32{float32(wloss)}, 1e-5, 1e-5)
			if got := f.readI32(sums.Add(1, 4), 1)[0]; int(got) != wcorrect {
				t.Errorf("correct with wide terms = %d, model says %d", got, wcorrect)
			}

			// Backward: dw, dbias accumulate; dpooled is written.
			dlog := randSlice(rng, B, 1)
			dw0 := randSlice(rng, H, 1)
			db0 := []float32{0.5}
			refDW, refDP := make([]float32, H), make([]float32, B*H)
			refDB := float64(db0[0])
			for j := 0; j < H; j++ {
				s := float64(dw0[j])
				for b := 0; b < B; b++ {
					s += float64(dlog[b]) * float64(pooled[b*H+j])
					refDP[b*H+j] = float32(float64(dlog[b]) * float64(w[j]))
				}
				refDW[j] = float32(s)
			}
			for b := 0; b < B; b++ {
				refDB += float64(dlog[b])
			}
			pdw, pdb, pdp := f.f32(dw0), f.f32(db0), f.garbage(B*H)
			f.launch1D("bce_head_backward", H, B, H, f.f32(pooled), f.f32(w), f.f32(dlog), pdw, pdb, pdp)
			validate(t, "dw", f.read(pdw, H), refDW, 1e-6, 16*epsF32)
			validate(t, "dbias", f.read(pdb, 1), []float32{float32(refDB)}, 1e-6, 16*epsF32)
			validate(t, "dpooled", f.read(pdp, B*H), refDP, 0, epsF32)
		})
	}
}

func TestReductions(t *testing.T) {
	for _, sh := range []struct{ R, N int }{{1, 1}, {7, 5}, {130, 33}, {1000, 3}} {
		t.Run(fmt.Sprintf("%dx%d", sh.R, sh.N), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(sh.R), 15))
			x := randSlice(rng, sh.R*sh.N, 1)
			base := randSlice(rng, sh.N, 1)
			ref := make([]float32, sh.N)
			sq := 0.0
			for j := 0; j < sh.N; j++ {
				s := float64(base[j])
				for r := 0; r < sh.R; r++ {
					v := float64(x[r*sh.N+j])
					s += v
					sq += v * v
				}
				ref[j] = float32(s)
			}
			f := newFixture(t)
			out := f.f32(base)
			gy := min(max(sh.R/64, 1), 4)
			f.launch("colsum_f32", cuda.Dim3{X: (sh.N + 31) / 32, Y: gy}, cuda.Dim3{X: 32}, sh.R, sh.N, f.f32(x), out)
			validate(t, "colsum", f.read(out, sh.N), ref, 1e-6*float64(sh.R), 16*epsF32)
			acc := f.f32([]float32{0})
			f.launch1D("sumsq_f32", len(x), int64(len(x)), f.f32(x), acc)
			validate(t, "sumsq", f.read(acc, 1), []float32{float32(sq)}, 1e-6, 1e-5)
		})
	}
}

func TestScaleAndUnscaleCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 17))
	g := randSlice(rng, 1000, 100)
	f := newFixture(t)
	p := f.f32(g)
	f.launch1D("scale_f32", len(g), int64(len(g)), p, float32(65536))
	validate(t, "scaled", f.read(p, len(g)), mapSlice(g, func(v float32) float32 { return v * 65536 }), 0, 0)

	for _, c := range []struct {
		name   string
		inject float32
		flag   int32
	}{
		{"finite", 0, 0},
		{"inf", float32(math.Inf(1)), 1},
		{"-inf", float32(math.Inf(-1)), 1},
		{"nan", float32(math.NaN()), 1},
		{"overflow after unscale", 3e38, 1}, // inv_scale > 1 pushes it past the max
	} {
		t.Run(c.name, func(t *testing.T) {
			v := append([]float32(nil), g...)
			inv := float32(1.0 / 1024)
			if c.name == "overflow after unscale" {
				inv = 4
			}
			if c.flag != 0 {
				v[617] = c.inject
			}
			p, flag := f.f32(v), f.i32([]int32{0})
			f.launch1D("unscale_check_f32", len(v), int64(len(v)), p, inv, flag)
			if got := f.readI32(flag, 1)[0]; got != c.flag {
				t.Fatalf("found_inf = %d, want %d", got, c.flag)
			}
			if c.flag == 0 {
				validate(t, "unscaled", f.read(p, len(v)), mapSlice(v, func(x float32) float32 { return x * inv }), 0, 0)
			}
		})
	}
}
