package report

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestWilson checks against published values: Newcombe (1998), Table I,
// and Agresti & Coull (1998).
func TestWilson(t *testing.T) {
	cases := []struct {
		k, n   int64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662}, // Newcombe 1998, method 3, example (a)
		{15, 148, 0.0624, 0.1605}, // example (b)
		{0, 20, 0, 0.1611},        // example (c)
		{1, 29, 0.0061, 0.1718},   // example (d)
		{10, 10, 0.7225, 1},
		{5, 10, 0.2366, 0.7634},
		{0, 0, 0, 1},
	}
	for _, c := range cases {
		lo, hi := Wilson(c.k, c.n)
		if !near(lo, c.lo, 1e-4) || !near(hi, c.hi, 1e-4) {
			t.Errorf("Wilson(%d, %d) = [%.4f, %.4f], want [%.4f, %.4f]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestTwoProportion(t *testing.T) {
	cases := []struct {
		k1, n1, k2, n2 int64
		z, p           float64
	}{
		// pooled 0.5: se = sqrt(0.25*(2/100)) = 0.0707107; z = 0.2/0.0707107
		{40, 100, 60, 100, 2.828427, 0.004678},
		{60, 100, 40, 100, -2.828427, 0.004678},
		// pooled 35/300: se = sqrt(p(1-p)(1/200+1/100)) = 0.039317; z = (0.2-0.075)/se
		{15, 200, 20, 100, 3.179279, 0.001476},
		{50, 100, 50, 100, 0, 1},
		{0, 10, 0, 30, 0, 1},
		{0, 0, 3, 4, 0, 1},
	}
	for _, c := range cases {
		z, p := TwoProportion(c.k1, c.n1, c.k2, c.n2)
		if !near(z, c.z, 1e-5) || !near(p, c.p, 1e-6) {
			t.Errorf("TwoProportion(%d/%d, %d/%d) = z %.6f p %.6f, want z %.6f p %.6f", c.k1, c.n1, c.k2, c.n2, z, p, c.z, c.p)
		}
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	cases := []struct {
		p, q []float64
	}{
		// p*m/rank, then the running minimum from the largest p down:
		// sorted 0.01 0.02 0.03 0.04 0.5 -> 0.05 0.05 0.05 0.05 0.5
		{[]float64{0.04, 0.01, 0.5, 0.03, 0.02}, []float64{0.05, 0.05, 0.5, 0.05, 0.05}},
		// 0.001*3 = 0.003; 0.02*3/2 = 0.03; 0.9
		{[]float64{0.9, 0.001, 0.02}, []float64{0.9, 0.003, 0.03}},
		// capped at 1; ties share a q-value
		{[]float64{0.8, 0.8}, []float64{0.8, 0.8}},
		{[]float64{1}, []float64{1}},
		{nil, []float64{}},
	}
	for _, c := range cases {
		q := BenjaminiHochberg(c.p)
		if len(q) != len(c.q) {
			t.Fatalf("BH(%v): %d values", c.p, len(q))
		}
		for i := range q {
			if !near(q[i], c.q[i], 1e-12) {
				t.Errorf("BH(%v) = %v, want %v", c.p, q, c.q)
				break
			}
		}
	}
}

func TestLogOdds(t *testing.T) {
	cases := []struct {
		yi, ni, yj, nj, alpha, a0 float64
		z                         float64
	}{
		// Hand computed: delta = ln(12/(100+50-12)) - ln(4/(100+50-4))
		// = ln(12/138) - ln(4/146) = -2.442347 - (-3.597312) = 1.154965;
		// sigma = sqrt(1/12 + 1/4) = 0.577350; z = 2.000459.
		{10, 100, 2, 100, 2, 50, 2.000459},
		{2, 100, 10, 100, 2, 50, -2.000459},
		{5, 100, 5, 100, 1, 10, 0},
		// A bigger prior pulls the same counts towards zero.
		{10, 100, 2, 100, 20, 500, 1.154620},
		{3, 10, 1, 10, 0, 0, 0},
	}
	for _, c := range cases {
		z := LogOdds(c.yi, c.ni, c.yj, c.nj, c.alpha, c.a0)
		if !near(z, c.z, 1e-5) {
			t.Errorf("LogOdds%v = %.6f, want %.6f", []float64{c.yi, c.ni, c.yj, c.nj, c.alpha, c.a0}, z, c.z)
		}
	}
}
