//go:build cgo

package emu

import (
	"math"
	"math/rand/v2"
	"testing"

	"trainer/cuda"
)

// statsOf returns a fresh step report: loss, correct, found, sumsq.
func statsOf(f *fixture, found int32, sumsq float32) cuda.Ptr {
	return f.i32([]int32{0, 0, found, int32(math.Float32bits(sumsq))})
}

func TestGradUnscaleSumsq(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := randSlice(rng, 1000, 8)
	const scale = 256
	var want float64
	ref := make([]float32, len(g))
	for i, v := range g {
		ref[i] = v / scale
		want += float64(ref[i]) * float64(ref[i])
	}
	f := newFixture(t)
	pg, st := f.f32(g), statsOf(f, 0, 0)
	f.launch1D("grad_unscale_sumsq", len(g), int64(len(g)), pg, float32(1.0/scale), st)
	validate(t, "unscaled", f.read(pg, len(g)), ref, 0, epsF32)
	back := f.readI32(st, 4)
	if back[2] != 0 {
		t.Error("finite gradients flagged")
	}
	if got := float64(math.Float32frombits(uint32(back[3]))); math.Abs(got-want) > 1e-5*want {
		t.Errorf("sum of squares %g, want %g", got, want)
	}
	g[17] = float32(math.Inf(1))
	pg, st = f.f32(g), statsOf(f, 0, 0)
	f.launch1D("grad_unscale_sumsq", len(g), int64(len(g)), pg, float32(1.0/scale), st)
	if back := f.readI32(st, 4); back[2] != 1 {
		t.Error("an infinite gradient not flagged")
	}
}

func TestMarkRowsAndAdd(t *testing.T) {
	const B, T, ldt, V = 3, 4, 5, 12
	tokens := []int32{
		1, 2, 3, 4, 11,
		5, 5, 0, 9, 9, // length 2: only 5 is real
		7, 8, 10, 6, 3,
	}
	lengths := []int32{4, 2, 3}
	want := make([]int32, V)
	for b := 0; b < B; b++ {
		for t := 0; t < int(lengths[b]); t++ {
			want[tokens[b*ldt+t]] = 1
		}
	}
	f := newFixture(t)
	mask := f.i32(make([]int32, V))
	f.launch1D("mark_rows", B*T, f.i32(tokens), f.i32(lengths), B, T, ldt, V, mask)
	got := f.readI32(mask, V)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("mask %v, want %v", got, want)
		}
	}

	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randSlice(rng, 300, 1), randSlice(rng, 300, 1)
	sum := make([]float32, len(a))
	for i := range a {
		sum[i] = a[i] + b[i]
	}
	pa := f.f32(a)
	f.launch1D("add_f32", len(a), int64(len(a)), pa, f.f32(b))
	validate(t, "sum", f.read(pa, len(a)), sum, 0, 0)
}

// TestAdamWResident checks the device-decided update against the host
// arithmetic: a clean step, a clipped one, a skipped one (overflow flag or
// non-finite norm: nothing changes), and the lazy row mask over the
// embedding and the wide n-gram table.
func TestAdamWResident(t *testing.T) {
	const (
		E, V   = 4, 5
		embLo  = 3               // the embedding starts after 3 other parameters
		W      = 6               // the wide table's rows,
		wideLo = embLo + V*E + 2 // after 2 more
		n      = wideLo + W + 1  // and 1 follows it
		b1, b2 = 0.9, 0.999
		eps    = 1e-8
		lr, wd = 1e-2, 0.1
		step   = 3
		inv    = 1.0 / 8
	)
	rng := rand.New(rand.NewPCG(7, 8))
	p0, g := randSlice(rng, n, 1), randSlice(rng, n, 2)
	m0, v0 := randSlice(rng, n, 0.1), mapSlice(randSlice(rng, n, 0.1), func(x float32) float32 { return x * x })
	// The embedding's V rows, then the wide table's W.
	rowMask := []int32{1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1}
	var sumsq float64
	for _, x := range g {
		sumsq += float64(x) * float64(x)
	}
	c1 := 1 - math.Pow(b1, step)
	c2 := math.Sqrt(1 - math.Pow(b2, step))
	ref := func(maxNorm float64, lazy bool) (p, m, v []float32) {
		p, m, v = append([]float32(nil), p0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
		norm := math.Sqrt(sumsq) * inv
		scale := inv
		if maxNorm > 0 && norm > maxNorm {
			scale *= maxNorm / (norm + 1e-6)
		}
		for i := range p {
			if lazy && i >= embLo && i < embLo+V*E && rowMask[(i-embLo)/E] == 0 {
				continue
			}
			if lazy && i >= wideLo && i < wideLo+W && rowMask[V+i-wideLo] == 0 {
				continue
			}
			gi := float64(g[i]) * scale
			mi := b1*float64(m[i]) + (1-b1)*gi
			vi := b2*float64(v[i]) + (1-b2)*gi*gi
			m[i], v[i] = float32(mi), float32(vi)
			p[i] = float32(float64(p[i])*(1-lr*wd) - lr/c1*mi/(math.Sqrt(vi)/c2+eps))
		}
		return p, m, v
	}
	cases := []struct {
		name    string
		maxNorm float64
		lazy    bool
		found   int32
		sumsq   float32
		skipped bool
	}{
		{"clean", 0, false, 0, float32(sumsq), false},
		{"clipped", 0.5, false, 0, float32(sumsq), false},
		{"lazy", 0, true, 0, float32(sumsq), false},
		{"overflow", 0, false, 1, float32(sumsq), true},
		{"nan-norm", 0, false, 0, float32(math.NaN()), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			pp, pm, pv, pg := f.f32(p0), f.f32(m0), f.f32(v0), f.f32(g)
			var mask any = cuda.Ptr(0)
			if c.lazy {
				mask = f.i32(rowMask)
			}
			pbf := f.low(p0, true) // current before the step, as the trainer keeps it
			f.launch1D("adamw_resident", n, int64(n), pp, pg, pm, pv, float32(b1), float32(b2), float32(1-b1), float32(1-b2),
				float32(lr/c1), float32(c2), float32(eps), float32(1-lr*wd), float32(inv), float32(c.maxNorm),
				statsOf(f, c.found, c.sumsq), mask, int64(embLo), V, E, int64(wideLo), W, cuda.Ptr(0), pbf)
			wantP, wantM, wantV := ref(c.maxNorm, c.lazy)
			if c.skipped {
				wantP, wantM, wantV = p0, m0, v0
			}
			validate(t, "p", f.read(pp, n), wantP, 1e-6, 1e-5)
			validate(t, "m", f.read(pm, n), wantM, 1e-7, 1e-5)
			validate(t, "v", f.read(pv, n), wantV, 1e-8, 1e-5)
			if !c.skipped {
				bits := f.readU16(pbf, n)
				got := make([]float32, n)
				for i, b := range bits {
					got[i] = bf16ToFloat(b)
				}
				validate(t, "p bf16", got, mapSlice(wantP, roundBF16), 1e-6, 2*epsHalf)
			}
		})
	}
}
