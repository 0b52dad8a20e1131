package model

import (
	"math/rand/v2"
	"testing"
)

// TestCellVariantsAgree checks the exported cell functions' documented
// variants: a nil bias with the bias already added, and a separate dGates
// buffer instead of the in-place update.
func TestCellVariantsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const n, hid = 3, 12
	vec := func(k int) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	pre, bias, cPrev := vec(n*4*hid), vec(4*hid), vec(n*hid)
	g1 := append([]float32(nil), pre...)
	g2 := append([]float32(nil), pre...)
	for r := 0; r < n; r++ {
		for j := range bias {
			g2[r*4*hid+j] += bias[j]
		}
	}
	c1, t1, h1 := make([]float32, n*hid), make([]float32, n*hid), make([]float32, n*hid)
	c2, t2, h2 := make([]float32, n*hid), make([]float32, n*hid), make([]float32, n*hid)
	LSTMCellForward(n, hid, g1, bias, cPrev, c1, t1, h1)
	LSTMCellForward(n, hid, g2, nil, cPrev, c2, t2, h2)
	for i := range g1 {
		if d := g1[i] - g2[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("gate %d: %g with bias, %g with bias pre-added", i, g1[i], g2[i])
		}
	}
	for i := range h1 {
		if d := h1[i] - h2[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("h %d: %g with bias, %g with bias pre-added", i, h1[i], h2[i])
		}
	}
	dh, dc := vec(n*hid), vec(n*hid)
	dcA := append([]float32(nil), dc...)
	sep := make([]float32, n*4*hid)
	act := append([]float32(nil), g1...)
	LSTMCellBackward(n, hid, act, cPrev, t1, dh, dc, sep)
	LSTMCellBackward(n, hid, g1, cPrev, t1, dh, dcA, g1)
	for i := range sep {
		if sep[i] != g1[i] {
			t.Fatalf("dGates %d: %g separate, %g in place", i, sep[i], g1[i])
		}
	}
	for i := range act {
		if act[i] != g2[i] && (act[i]-g2[i] > 1e-6 || g2[i]-act[i] > 1e-6) {
			t.Fatalf("separate dGates modified act[%d]", i)
		}
	}
	for i := range dc {
		if dc[i] != dcA[i] {
			t.Fatalf("dc %d: %g separate, %g in place", i, dc[i], dcA[i])
		}
	}
}
