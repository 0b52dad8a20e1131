package device

import (
	"math"
	"testing"
)

func TestLossScalerGradScalerSemantics(t *testing.T) {
	s := NewLossScaler()
	if s.Scale() != 65536 {
		t.Fatalf("initial scale %g, want 2^16", s.Scale())
	}
	// 1999 clean steps: no growth yet; the 2000th doubles.
	for i := 0; i < 1999; i++ {
		s.Update(false)
	}
	if s.Scale() != 65536 {
		t.Fatalf("scale %g after 1999 clean steps, want 65536", s.Scale())
	}
	s.Update(false)
	if s.Scale() != 131072 {
		t.Fatalf("scale %g after 2000 clean steps, want 131072", s.Scale())
	}
	// An overflow halves and restarts the count.
	for i := 0; i < 1500; i++ {
		s.Update(false)
	}
	s.Update(true)
	if s.Scale() != 65536 || s.Skipped() != 1 {
		t.Fatalf("after overflow: scale %g skipped %d, want 65536 and 1", s.Scale(), s.Skipped())
	}
	for i := 0; i < 1999; i++ {
		s.Update(false)
	}
	if s.Scale() != 65536 {
		t.Fatalf("growth count not reset by the overflow: scale %g", s.Scale())
	}
	s.Update(false)
	if s.Scale() != 131072 {
		t.Fatalf("scale %g, want 131072", s.Scale())
	}
}

func TestLossScalerTable(t *testing.T) {
	cases := []struct {
		name  string
		init  float32
		steps []bool // foundInf per step
		scale float32
		skip  int64
	}{
		{"two overflows", 1024, []bool{true, true}, 256, 2},
		{"growth every 2", 8, []bool{false, false, false, false}, 32, 0},
		{"overflow resets growth", 8, []bool{false, true, false, false}, 8, 1},
		{"no growth to inf", math.MaxFloat32, []bool{false, false}, math.MaxFloat32, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewLossScalerWith(c.init, 2, 0.5, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, inf := range c.steps {
				s.Update(inf)
			}
			if s.Scale() != c.scale || s.Skipped() != c.skip {
				t.Fatalf("scale %g skipped %d, want %g and %d", s.Scale(), s.Skipped(), c.scale, c.skip)
			}
		})
	}
}

func TestLossScalerBadSettings(t *testing.T) {
	for _, c := range []struct {
		init, grow, back float32
		every            int
	}{
		{0, 2, 0.5, 10}, {float32(math.Inf(1)), 2, 0.5, 10}, {1, 1, 0.5, 10}, {1, 2, 1, 10}, {1, 2, 0.5, 0},
		{float32(math.NaN()), 2, 0.5, 1},
	} {
		if _, err := NewLossScalerWith(c.init, c.grow, c.back, c.every); err == nil {
			t.Errorf("NewLossScalerWith(%g, %g, %g, %d) accepted", c.init, c.grow, c.back, c.every)
		}
	}
}

func TestLossScalerUnscale(t *testing.T) {
	s := NewLossScaler()
	g := []float32{65536, -131072, 0}
	if s.Unscale(g) {
		t.Fatal("finite gradients reported as overflow")
	}
	if g[0] != 1 || g[1] != -2 || g[2] != 0 {
		t.Fatalf("unscaled %v, want [1 -2 0]", g)
	}
	for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		if !s.Unscale([]float32{1, bad, 2}) {
			t.Errorf("%g not reported", bad)
		}
	}
}

func TestLossScalerState(t *testing.T) {
	s := NewLossScaler()
	s.Update(true)
	s.Update(false)
	r := NewLossScaler()
	if err := r.SetState(s.State()); err != nil {
		t.Fatal(err)
	}
	if r.State() != s.State() {
		t.Fatalf("restored %+v, want %+v", r.State(), s.State())
	}
	if err := r.SetState(LossScalerState{Scale: 0}); err == nil {
		t.Fatal("zero scale accepted")
	}
}
