package train

import (
	"math"
	"testing"

	"trainer/train/device"
)

func TestAdamWHandSteps(t *testing.T) {
	cfg := device.DefaultOptimConfig()
	cfg.WeightDecay = 0.01
	opt, err := NewOptimizer(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := []float32{1}
	// Step 1: m=0.05, v=0.00025, mhat=0.5, vhat=0.25, so the Adam step is
	// lr*0.5/0.5 = 0.1 and decay takes lr*wd*p = 0.001: p = 0.899.
	opt.Begin()
	opt.Update(p, []float32{0.5}, 0.1, 0, 1)
	if math.Abs(float64(p[0])-0.899) > 1e-6 {
		t.Fatalf("step 1: p = %.7f, want 0.899", p[0])
	}
	// Step 2 with g=-1, by the textbook formula in float64.
	m := 0.9*0.05 + 0.1*-1.0
	v := 0.999*0.00025 + 0.001*1.0
	mhat, vhat := m/(1-0.81), v/(1-0.999*0.999)
	want := 0.899*(1-0.1*0.01) - 0.1*mhat/(math.Sqrt(vhat)+1e-8)
	opt.Begin()
	opt.Update(p, []float32{-1}, 0.1, 0, 1)
	if math.Abs(float64(p[0])-want) > 1e-6 {
		t.Fatalf("step 2: p = %.7f, want %.7f", p[0], want)
	}
	st := opt.State()
	if st.Steps != 2 || math.Abs(float64(st.Slots[0][0])-m) > 1e-7 || math.Abs(float64(st.Slots[1][0])-v) > 1e-9 {
		t.Fatalf("state %+v, want steps 2 m %g v %g", st, m, v)
	}
}

func TestSGDMomentumHandSteps(t *testing.T) {
	cfg := device.DefaultOptimConfig()
	cfg.Kind = "sgd"
	opt, err := NewOptimizer(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := []float32{1, -2}
	g := []float32{0.5, 1}
	want := [][]float32{
		{0.95, -2.1},     // buf = g
		{0.855, -2.29},   // buf = 0.9*buf + g = 0.95, 1.9
		{0.7195, -2.561}, // buf = 1.355, 2.71
	}
	for s, w := range want {
		opt.Begin()
		// Two ranges, as the engine splits the update over workers.
		opt.Update(p, g, 0.1, 0, 1)
		opt.Update(p, g, 0.1, 1, 2)
		for i := range p {
			if math.Abs(float64(p[i]-w[i])) > 1e-6 {
				t.Fatalf("step %d: p = %v, want %v", s+1, p, w)
			}
		}
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, kind := range []string{"adamw", "sgd"} {
		cfg := device.DefaultOptimConfig()
		cfg.Kind = kind
		a, _ := NewOptimizer(cfg, 3)
		b, _ := NewOptimizer(cfg, 3)
		pa := []float32{1, 2, 3}
		g := []float32{0.1, -0.2, 0.3}
		for i := 0; i < 3; i++ {
			a.Begin()
			a.Update(pa, g, 0.01, 0, 3)
		}
		if err := b.SetState(a.State()); err != nil {
			t.Fatal(err)
		}
		pb := append([]float32(nil), pa...)
		a.Begin()
		a.Update(pa, g, 0.01, 0, 3)
		b.Begin()
		b.Update(pb, g, 0.01, 0, 3)
		for i := range pa {
			if pa[i] != pb[i] {
				t.Fatalf("%s: resumed optimizer diverged: %v vs %v", kind, pa, pb)
			}
		}
	}
}

func TestOptimizerRejects(t *testing.T) {
	bad := []device.OptimConfig{
		{Kind: "rmsprop"},
		{Kind: "adamw", Beta1: 1, Beta2: 0.9, Eps: 1e-8},
		{Kind: "adamw", Beta1: 0.9, Beta2: 0.9, Eps: 0},
		{Kind: "sgd", Momentum: 1},
		{Kind: "sgd", WeightDecay: -1},
	}
	for _, c := range bad {
		if _, err := NewOptimizer(c, 1); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	a, _ := NewOptimizer(device.DefaultOptimConfig(), 2)
	if err := a.SetState(device.OptimState{Kind: "sgd", Slots: [][]float32{{0, 0}}}); err == nil {
		t.Error("adamw accepted sgd state")
	}
}

func TestClipScale(t *testing.T) {
	cases := []struct{ norm, max, want float64 }{
		{0.5, 1, 1}, {2, 1, 0.5}, {10, 0, 1}, {4, 2, 0.5},
	}
	for _, c := range cases {
		if got := ClipScale(c.norm, c.max); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("ClipScale(%g,%g) = %g, want %g", c.norm, c.max, got, c.want)
		}
	}
}

// BenchmarkAdamW times one update of a reference-sized model (about 2.9M
// parameters: a 20k x 128 embedding and an E=128, H=256 LSTM), the work the
// engine spreads over its workers after every step.
func BenchmarkAdamW(b *testing.B) {
	const n = 20000*128 + 4*256*(128+256+1) + 257
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), n)
	p := make([]float32, n)
	g := make([]float32, n)
	for i := range g {
		g[i] = float32(i%7) * 1e-3
	}
	b.SetBytes(4 * n)
	for i := 0; i < b.N; i++ {
		opt.Begin()
		opt.Update(p, g, 1e-3, 0, n)
	}
}
