package model

import "trainer/model/internal/vecmath"

// LSTMActs holds what one LSTM layer direction saves in the forward pass
// for the backward pass, all packed as Steps describes.
type LSTMActs struct {
	Gates []float32 // [N, 4H]: gate activations i, f, g, o; the backward pass overwrites them with gate gradients
	C     []float32 // [N, H]: cell states
	TanhC []float32 // [N, H]: tanh of the cell states
	H     []float32 // [N, H]: hidden states, the layer's output
	hPrev []float32 // [N, H]: backward scratch, h of the previous step per packed row
	dc    []float32 // [Sizes[0], H]: backward scratch, gradient flowing through the cell state
	ones  []float32 // [N]: all ones, for the bias gradient's column sums

	// The recurrent weights packed once per batch for the per-step
	// products (see vecmath.GemmPacked): W_hh^T forward, W_hh backward.
	whhT, whh vecmath.PackedB
	// W_ih packed the same way for the input projection (W_ih^T) and the
	// input gradient (W_ih): the kernel skips the BLAS's repacking of the
	// large operand, which is most of the BLAS's overhead on these shapes.
	wihT, wih vecmath.PackedB
	// Prediction's one-step scratch for the gates ([Sizes[0], 4H]) and
	// tanh(c) ([Sizes[0], H]), which it does not keep.
	stepGates, stepTanhC []float32
	blasOnly             bool // tests: use the BLAS for every product
}

func (a *LSTMActs) grow(n, hid int) {
	a.Gates = grow(a.Gates, n*4*hid)
	a.C = grow(a.C, n*hid)
	a.TanhC = grow(a.TanhC, n*hid)
	a.H = grow(a.H, n*hid)
}

// LSTMForward runs one LSTM layer in one direction over a packed sequence
// x ([N, w.In], time-major as st describes) from a zero initial state and
// saves the activations in a (grown as needed); a.H is the output. The input
// projection of every step is one matrix product, then each step adds its
// recurrent product h_{s-1}*W_hh^T for its active rows and applies the
// fused cell. The products use the weights packed once per call where the
// vector kernels support the shape, the BLAS otherwise.
func LSTMForward(w LSTMWeights, x []float32, st Steps, a *LSTMActs) {
	hid, in, n := w.Hidden, w.In, st.N()
	a.grow(n, hid)
	if !a.blasOnly && vecmath.GemmSupported(4*hid) && in > 0 {
		a.wihT.Pack(w.Wih, in, in, 4*hid, true)
		vecmath.GemmPackedSet(n, x, in, &a.wihT, a.Gates, 4*hid)
	} else {
		sgemm(false, true, n, 4*hid, in, 1, x, in, w.Wih, in, 0, a.Gates, 4*hid)
	}
	lstmSteps(w, st, a)
}

// lstmSteps runs the time steps of LSTMForward once a.Gates (grown to
// [N, 4H]) holds every step's input projection x*W_ih^T, without bias.
func lstmSteps(w LSTMWeights, st Steps, a *LSTMActs) {
	hid := w.Hidden
	g4 := 4 * hid
	packed := !a.blasOnly && vecmath.GemmSupported(g4) && st.T() > 1
	if packed {
		a.whhT.Pack(w.Whh, hid, hid, g4, true)
	}
	for s, rows := range st.Sizes {
		o := st.Offsets[s]
		gates := a.Gates[o*g4 : (o+rows)*g4]
		var cPrev []float32
		if s > 0 {
			po := st.Offsets[s-1]
			hPrev := a.H[po*hid : (po+rows)*hid]
			if packed {
				vecmath.GemmPacked(rows, hPrev, hid, &a.whhT, gates, g4)
			} else {
				sgemm(false, true, rows, g4, hid, 1, hPrev, hid, w.Whh, hid, 1, gates, g4)
			}
			cPrev = a.C[po*hid : (po+rows)*hid]
		}
		LSTMCellForward(rows, hid, gates, w.B, cPrev,
			a.C[o*hid:(o+rows)*hid], a.TanhC[o*hid:(o+rows)*hid], a.H[o*hid:(o+rows)*hid])
	}
}

// LSTMBackward is backpropagation through time for LSTMForward. dH ([N, H])
// is the gradient of the loss with respect to a.H; it is used as scratch
// and left holding the gradient with respect to each step's h including the
// recurrent part. The weight gradients are added to dw (laid out like w).
// dx ([N, w.In]), when not nil, receives the gradient with respect to x
// (overwritten, not added). a.Gates is overwritten with the gate gradients.
//
// Per step it runs the fused cell backward and one product dGates*W_hh for
// the previous step's rows; W_ih, W_hh and the bias gradients are each one
// product over all steps at the end.
func LSTMBackward(w, dw LSTMWeights, x []float32, st Steps, a *LSTMActs, dH, dx []float32) {
	hid, in, n := w.Hidden, w.In, st.N()
	g4 := 4 * hid
	if st.T() == 0 {
		return
	}
	a.dc = grow(a.dc, st.Sizes[0]*hid)
	clear(a.dc)
	packed := !a.blasOnly && vecmath.GemmSupported(hid) && st.T() > 1
	if packed {
		a.whh.Pack(w.Whh, hid, g4, hid, false)
	}
	for s := st.T() - 1; s >= 0; s-- {
		rows, o := st.Sizes[s], st.Offsets[s]
		gates := a.Gates[o*g4 : (o+rows)*g4]
		var cPrev []float32
		if s > 0 {
			po := st.Offsets[s-1]
			cPrev = a.C[po*hid : (po+rows)*hid]
		}
		// Rows that end at step s get no gradient from step s+1: their part
		// of dc is still zero because only shorter prefixes were written.
		LSTMCellBackward(rows, hid, gates, cPrev, a.TanhC[o*hid:(o+rows)*hid],
			dH[o*hid:(o+rows)*hid], a.dc[:rows*hid], gates)
		if s > 0 {
			po := st.Offsets[s-1]
			dhPrev := dH[po*hid : (po+rows)*hid]
			if packed {
				vecmath.GemmPacked(rows, gates, g4, &a.whh, dhPrev, hid)
			} else {
				sgemm(false, false, rows, hid, g4, 1, gates, g4, w.Whh, hid, 1, dhPrev, hid)
			}
		}
	}
	// Weight gradients over all steps at once.
	sgemm(true, false, g4, in, n, 1, a.Gates, g4, x, in, 1, dw.Wih, in)
	n0 := st.Sizes[0]
	a.hPrev = grow(a.hPrev, n*hid)
	for s := 1; s < st.T(); s++ {
		rows, o, po := st.Sizes[s], st.Offsets[s], st.Offsets[s-1]
		copy(a.hPrev[o*hid:(o+rows)*hid], a.H[po*hid:(po+rows)*hid])
	}
	sgemm(true, false, g4, hid, n-n0, 1, a.Gates[n0*g4:], g4, a.hPrev[n0*hid:n*hid], hid, 1, dw.Whh, hid)
	if len(a.ones) < n {
		a.ones = make([]float32, n+n/4)
		for i := range a.ones {
			a.ones[i] = 1
		}
	}
	sgemvT(n, g4, a.Gates, g4, a.ones[:n], dw.B)
	if dx != nil {
		if !a.blasOnly && vecmath.GemmSupported(in) {
			a.wih.Pack(w.Wih, in, g4, in, false)
			vecmath.GemmPackedSet(n, a.Gates, g4, &a.wih, dx, in)
		} else {
			sgemm(false, false, n, in, g4, 1, a.Gates, g4, w.Wih, in, 0, dx, in)
		}
	}
}

// lstmForwardNoSave is LSTMForward for a pass with no backward pass after
// it: only a.C and a.H are kept. Each step makes its input projection and
// recurrent product in a one-step scratch that stays in cache instead of
// going through the [N, 4H] gate buffer in memory, which the backward pass
// would need.
func lstmForwardNoSave(w LSTMWeights, x []float32, st Steps, a *LSTMActs) {
	hid, in, n := w.Hidden, w.In, st.N()
	g4 := 4 * hid
	if a.blasOnly || !vecmath.GemmSupported(g4) || in == 0 || st.T() == 0 {
		LSTMForward(w, x, st, a)
		return
	}
	a.C = grow(a.C, n*hid)
	a.H = grow(a.H, n*hid)
	a.wihT.Pack(w.Wih, in, in, g4, true)
	a.whhT.Pack(w.Whh, hid, hid, g4, true)
	a.stepGates = grow(a.stepGates, st.Sizes[0]*g4)
	a.stepTanhC = grow(a.stepTanhC, st.Sizes[0]*hid)
	for s, rows := range st.Sizes {
		o := st.Offsets[s]
		gates := a.stepGates[:rows*g4]
		vecmath.GemmPackedSet(rows, x[o*in:(o+rows)*in], in, &a.wihT, gates, g4)
		var cPrev []float32
		if s > 0 {
			po := st.Offsets[s-1]
			vecmath.GemmPacked(rows, a.H[po*hid:(po+rows)*hid], hid, &a.whhT, gates, g4)
			cPrev = a.C[po*hid : (po+rows)*hid]
		}
		for r := 0; r < rows; r++ {
			j := o + r
			var cp []float32
			if cPrev != nil {
				cp = cPrev[r*hid : (r+1)*hid]
			}
			vecmath.CellForward(gates[r*g4:(r+1)*g4], w.B, cp,
				a.C[j*hid:(j+1)*hid], a.stepTanhC[r*hid:(r+1)*hid], a.H[j*hid:(j+1)*hid], hid)
		}
	}
}
