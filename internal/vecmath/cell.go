package vecmath

// CellBackward is the element-wise LSTM cell backward for one row of hidden
// size hid. act ([4*hid]: i, f, g, o activations) is replaced by the
// gradients with respect to the gate pre-activations. tanhC and dh ([hid])
// are tanh(c) and the gradient with respect to h; dc ([hid]) holds on entry
// the gradient with respect to c from later steps and on return the one
// with respect to cPrev. cPrev ([hid]) is nil for a zero previous state.
func CellBackward(act, tanhC, dh, dc, cPrev []float32, hid int) {
	_, _, _ = act[4*hid-1], tanhC[hid-1], dh[hid-1]
	_ = dc[hid-1]
	if cPrev != nil {
		_ = cPrev[hid-1]
	}
	n := cellBackwardVec(act, tanhC, dh, dc, cPrev, hid)
	ai, af, ag, ao := act[:hid], act[hid:2*hid], act[2*hid:3*hid], act[3*hid:4*hid]
	for j := n; j < hid; j++ {
		i, f, g, o, tc, dhv := ai[j], af[j], ag[j], ao[j], tanhC[j], dh[j]
		dcv := dc[j] + dhv*o*(1-tc*tc)
		var cpv float32
		if cPrev != nil {
			cpv = cPrev[j]
		}
		ai[j] = dcv * g * i * (1 - i)
		af[j] = dcv * cpv * f * (1 - f)
		ag[j] = dcv * i * (1 - g*g)
		ao[j] = dhv * tc * o * (1 - o)
		dc[j] = dcv * f
	}
}

// CellForward is the fused element-wise LSTM cell forward for one row of
// hidden size hid. row ([4*hid]: blocks i, f, g, o) holds the
// pre-activations without bias; bias ([4*hid]) is added, and row is
// replaced by the activations sigmoid(i), sigmoid(f), tanh(g), sigmoid(o).
// c, tanhC and h ([hid]) receive c = f*cPrev + i*g, tanh(c) and
// o*tanh(c); cPrev is nil for a zero previous state.
func CellForward(row, bias, cPrev, c, tanhC, h []float32, hid int) {
	_, _ = row[4*hid-1], bias[4*hid-1]
	_, _, _ = c[hid-1], tanhC[hid-1], h[hid-1]
	if cPrev != nil {
		_ = cPrev[hid-1]
	}
	n := cellForwardVec(row, bias, cPrev, c, tanhC, h, hid)
	if n == hid {
		return
	}
	gi, gf, gg, gout := row[:hid], row[hid:2*hid], row[2*hid:3*hid], row[3*hid:4*hid]
	for j := n; j < hid; j++ {
		i := Sigmoid32(gi[j] + bias[j])
		f := Sigmoid32(gf[j] + bias[hid+j])
		g := Tanh32(gg[j] + bias[2*hid+j])
		o := Sigmoid32(gout[j] + bias[3*hid+j])
		cv := i * g
		if cPrev != nil {
			cv += f * cPrev[j]
		}
		tc := Tanh32(cv)
		gi[j], gf[j], gg[j], gout[j] = i, f, g, o
		c[j], tanhC[j], h[j] = cv, tc, o*tc
	}
}
