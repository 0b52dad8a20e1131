package vecmath

import "math"

// AdamW holds the per-step constants of one AdamW update (see
// AdamWUpdate). The layout is read by the vector kernel: keep the field
// order and types.
type AdamW struct {
	B1, B2   float32 // moment decay rates
	OB1, OB2 float32 // 1-B1 and 1-B2, rounded from float64
	StepSize float32 // lr / (1 - B1^t)
	C2       float32 // sqrt(1 - B2^t)
	Eps      float32
	Decay    float32 // 1 - lr*weight decay
}

// AdamWUpdate applies one AdamW step to every element of p, with
// gradient g and moments m and v (all the same length):
//
//	m = B1*m + OB1*g;  v = B2*v + OB2*g*g
//	p = p*Decay - StepSize*m / (sqrt(v)/C2 + Eps)
//
// Every operation is rounded to float32 in that order, with no fused
// multiply-add, so the vector kernel and adamWRef give the same bits and
// the step does not depend on which one ran.
func AdamWUpdate(k *AdamW, p, g, m, v []float32) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	n := adamWVec(k, p, g, m, v)
	adamWRef(k, p[n:], g[n:], m[n:], v[n:])
}

// adamWRef is AdamWUpdate element by element, the reference for the
// vector kernel. The float32 conversions round each product on its own,
// which keeps the compiler from fusing it into the following add.
func adamWRef(k *AdamW, p, g, m, v []float32) {
	for i := range p {
		gi := g[i]
		mi := float32(k.B1*m[i]) + float32(k.OB1*gi)
		vi := float32(k.B2*v[i]) + float32(float32(k.OB2*gi)*gi)
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/k.C2 + k.Eps
		p[i] = float32(p[i]*k.Decay) - float32(k.StepSize*mi)/denom
	}
}
