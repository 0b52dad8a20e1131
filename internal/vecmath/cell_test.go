package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// cellBackwardRef is the plain float64 formula CellBackward implements.
func cellBackwardRef(act, tanhC, dh, dc, cPrev []float32, hid int) (dGates, dcOut []float64) {
	dGates = make([]float64, 4*hid)
	dcOut = make([]float64, hid)
	for j := 0; j < hid; j++ {
		i, f, g, o := float64(act[j]), float64(act[hid+j]), float64(act[2*hid+j]), float64(act[3*hid+j])
		tc, dhv := float64(tanhC[j]), float64(dh[j])
		cp := 0.0
		if cPrev != nil {
			cp = float64(cPrev[j])
		}
		dcv := float64(dc[j]) + dhv*o*(1-tc*tc)
		dGates[j] = dcv * g * i * (1 - i)
		dGates[hid+j] = dcv * cp * f * (1 - f)
		dGates[2*hid+j] = dcv * i * (1 - g*g)
		dGates[3*hid+j] = dhv * tc * o * (1 - o)
		dcOut[j] = dcv * f
	}
	return dGates, dcOut
}

func TestCellBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, hid := range []int{1, 5, 8, 13, 16, 256} {
		for _, withPrev := range []bool{false, true} {
			act := make([]float32, 4*hid)
			for j := range act {
				act[j] = rng.Float32()
				if j >= 2*hid && j < 3*hid {
					act[j] = 2*act[j] - 1 // tanh(g) in (-1, 1)
				}
			}
			vec := func(n int, scale float32) []float32 {
				v := make([]float32, n)
				for j := range v {
					v[j] = scale * float32(rng.NormFloat64())
				}
				return v
			}
			tanhC, dh, dc := vec(hid, 0.5), vec(hid, 1), vec(hid, 1)
			var cPrev []float32
			if withPrev {
				cPrev = vec(hid, 2)
			}
			wantG, wantC := cellBackwardRef(act, tanhC, dh, dc, cPrev, hid)
			CellBackward(act, tanhC, dh, dc, cPrev, hid)
			check := func(name string, got []float32, want []float64) {
				for j := range got {
					if d := math.Abs(float64(got[j]) - want[j]); d > 1e-6+1e-5*math.Abs(want[j]) {
						t.Fatalf("hid=%d prev=%v: %s[%d] = %g, want %g", hid, withPrev, name, j, got[j], want[j])
					}
				}
			}
			check("dGates", act, wantG)
			check("dc", dc, wantC)
		}
	}
}

func TestCellForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for _, hid := range []int{1, 5, 8, 13, 16, 256} {
		for _, withPrev := range []bool{false, true} {
			vec := func(n int, scale float64) []float32 {
				v := make([]float32, n)
				for j := range v {
					v[j] = float32(scale * rng.NormFloat64())
				}
				return v
			}
			row, bias := vec(4*hid, 3), vec(4*hid, 1)
			var cPrev []float32
			if withPrev {
				cPrev = vec(hid, 2)
			}
			pre := append([]float32(nil), row...)
			c, tc, h := make([]float32, hid), make([]float32, hid), make([]float32, hid)
			CellForward(row, bias, cPrev, c, tc, h, hid)
			near := func(name string, j int, got float32, want float64) {
				if d := math.Abs(float64(got) - want); d > 1e-6+1e-6*math.Abs(want) {
					t.Fatalf("hid=%d prev=%v: %s[%d] = %.8g, want %.8g", hid, withPrev, name, j, got, want)
				}
			}
			for j := 0; j < hid; j++ {
				a := func(g int) float64 { return float64(pre[g*hid+j]) + float64(bias[g*hid+j]) }
				i, f, g, o := sig(a(0)), sig(a(1)), math.Tanh(a(2)), sig(a(3))
				cv := i * g
				if withPrev {
					cv += f * float64(cPrev[j])
				}
				near("i", j, row[j], i)
				near("f", j, row[hid+j], f)
				near("g", j, row[2*hid+j], g)
				near("o", j, row[3*hid+j], o)
				near("c", j, c[j], cv)
				near("tanhC", j, tc[j], math.Tanh(float64(c[j])))
				near("h", j, h[j], o*math.Tanh(cv))
			}
		}
	}
}
