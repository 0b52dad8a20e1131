package model

import "trainer/internal/vecmath"

// LSTMCellForward is the fused element-wise part of one LSTM step for n
// rows of hidden size hid. On entry gates ([n, 4*hid], blocks i, f, g, o)
// holds the pre-activations x*W_ih^T + h*W_hh^T without the bias; bias
// ([4*hid], nil for none) is added here. On return gates holds the
// activations sigmoid(i), sigmoid(f), tanh(g), sigmoid(o), which the
// backward pass needs. cPrev ([n, hid]) is the previous cell state, nil
// for a zero state. c, tanhC and h ([n, hid]) receive c = f*cPrev + i*g,
// tanh(c) and h = o*tanh(c).
func LSTMCellForward(n, hid int, gates, bias, cPrev, c, tanhC, h []float32) {
	if bias != nil {
		for r := 0; r < n; r++ {
			var cp []float32
			if cPrev != nil {
				cp = cPrev[r*hid : (r+1)*hid]
			}
			vecmath.CellForward(gates[r*4*hid:(r+1)*4*hid], bias, cp,
				c[r*hid:(r+1)*hid], tanhC[r*hid:(r+1)*hid], h[r*hid:(r+1)*hid], hid)
		}
		return
	}
	for r := 0; r < n; r++ {
		row := gates[r*4*hid : (r+1)*4*hid]
		// i and f are adjacent, so one call covers both.
		vecmath.Sigmoid(row[:2*hid])
		vecmath.Tanh(row[2*hid : 3*hid])
		vecmath.Sigmoid(row[3*hid:])
		gi, gf, gg, gout := row[:hid], row[hid:2*hid], row[2*hid:3*hid], row[3*hid:4*hid]
		cr := c[r*hid : (r+1)*hid]
		tr := tanhC[r*hid : (r+1)*hid]
		hr := h[r*hid : (r+1)*hid]
		if cPrev == nil {
			for j := range cr {
				cr[j] = gi[j] * gg[j]
			}
		} else {
			cp := cPrev[r*hid : (r+1)*hid]
			for j := range cr {
				cr[j] = gf[j]*cp[j] + gi[j]*gg[j]
			}
		}
		copy(tr, cr)
		vecmath.Tanh(tr)
		for j := range hr {
			hr[j] = gout[j] * tr[j]
		}
	}
}

// LSTMCellBackward is the fused element-wise backward of one LSTM step.
// act ([n, 4*hid]) holds the activations LSTMCellForward left in gates,
// cPrev the previous cell state (nil for zero) and tanhC the saved tanh(c).
// dh ([n, hid]) is the gradient of the loss with respect to h. dc ([n, hid])
// is on entry the gradient with respect to c arriving from later steps and
// on return the gradient with respect to cPrev. dGates ([n, 4*hid])
// receives the gradient with respect to the pre-activations; it may be
// the same slice as act.
func LSTMCellBackward(n, hid int, act, cPrev, tanhC, dh, dc, dGates []float32) {
	for r := 0; r < n; r++ {
		drow := dGates[r*4*hid : (r+1)*4*hid]
		if arow := act[r*4*hid : (r+1)*4*hid]; &arow[0] != &drow[0] {
			copy(drow, arow)
		}
		var cp []float32
		if cPrev != nil {
			cp = cPrev[r*hid : (r+1)*hid]
		}
		vecmath.CellBackward(drow, tanhC[r*hid:(r+1)*hid], dh[r*hid:(r+1)*hid], dc[r*hid:(r+1)*hid], cp, hid)
	}
}
