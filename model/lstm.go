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

	// proj is, for an input given as distinct rows (LSTMForwardRows), the
	// input projection plus bias of every distinct row, [U, 4H]; the
	// backward pass reuses it for the gradients of those projections.
	proj []float32

	// The recurrent weights packed once per batch for the per-step
	// products (see vecmath.GemmPacked): W_hh^T forward, W_hh backward.
	whhT, whh vecmath.PackedB
	// W_ih packed the same way for the input projection (W_ih^T) and the
	// input gradient (W_ih): the kernel skips the BLAS's repacking of the
	// large operand, which is most of the BLAS's overhead on these shapes.
	wihT, wih vecmath.PackedB
	// A pass with no backward pass after it keeps each step's gates and
	// tanh(c) in this one-step scratch ([Sizes[0], 4H] and [Sizes[0], H]),
	// which stays in cache, instead of Gates and TanhC.
	stepGates, stepTanhC []float32
	// An 8-bit pass (stepInput.whh8) keeps the previous step's hidden
	// state quantized here, with its rows' offset corrections.
	hq       []int8
	hqInit   []int32
	blasOnly bool // tests: use the BLAS for every product
}

// LSTMForward runs one LSTM layer in one direction over a packed sequence
// x ([N, w.In], time-major as st describes) from a zero initial state and
// saves the activations in a (grown as needed); a.H is the output. The input
// projection of every step is one matrix product, then each step adds its
// recurrent product h_{s-1}*W_hh^T for its active rows and applies the
// fused cell. The products use the weights packed once per call where the
// vector kernels support the shape, the BLAS otherwise.
func LSTMForward(w LSTMWeights, x []float32, st Steps, a *LSTMActs) {
	n := st.N()
	a.grow(n, w.Hidden, true)
	a.project(w, x, n, a.Gates, false)
	lstmSteps(w, st, a, stepInput{}, true)
}

// LSTMForwardRows is LSTMForward for an input given as distinct rows:
// packed row j of the layer's input is row rows[j] of x ([U, w.In]). This
// is the first layer's case, whose input rows are embeddings: a batch of
// N tokens has only U distinct ones (about a fifth of N for 128 Amazon
// reviews), so the input projection is computed once per distinct row, and
// each step's cell takes its rows' projections as their biases.
func LSTMForwardRows(w LSTMWeights, x []float32, rows []int32, st Steps, a *LSTMActs) {
	lstmForwardRows(w, x, rows, st, a, true)
}

func lstmForwardRows(w LSTMWeights, x []float32, rows []int32, st Steps, a *LSTMActs, save bool) {
	hid, in := w.Hidden, w.In
	u := len(x) / max(in, 1)
	a.grow(st.N(), hid, save)
	a.proj = grow(a.proj, u*4*hid)
	a.project(w, x, u, a.proj, true)
	lstmSteps(w, st, a, stepInput{tab: a.proj, ids: rows}, save)
}

// lstmForwardNoSave is LSTMForward for a pass with no backward pass after
// it: only a.C and a.H are kept, and each step makes its input projection
// in the one-step scratch. whh8, when not nil, is W_hh^T in 8 bits.
func lstmForwardNoSave(w LSTMWeights, x []float32, st Steps, a *LSTMActs, whh8 *vecmath.PackedB8) {
	a.grow(st.N(), w.Hidden, false)
	lstmSteps(w, st, a, stepInput{x: x, whh8: whh8}, false)
}

func (a *LSTMActs) grow(n, hid int, save bool) {
	a.C = grow(a.C, n*hid)
	a.H = grow(a.H, n*hid)
	if save {
		a.Gates = grow(a.Gates, n*4*hid)
		a.TanhC = grow(a.TanhC, n*hid)
	}
}

// project sets dst ([m, 4H]) to x*W_ih^T for x's first m rows, plus the
// bias when withBias is set.
func (a *LSTMActs) project(w LSTMWeights, x []float32, m int, dst []float32, withBias bool) {
	hid, in := w.Hidden, w.In
	g4 := 4 * hid
	switch {
	case in == 0 || m == 0:
		clear(dst[:m*g4])
	case !a.blasOnly && vecmath.GemmSupported(g4):
		a.wihT.Pack(w.Wih, in, in, g4, true)
		vecmath.GemmPackedSet(m, x, in, &a.wihT, dst, g4)
	default:
		sgemm(false, true, m, g4, in, 1, x, in, w.Wih, in, 0, dst, g4)
	}
	if withBias {
		for r := 0; r < m; r++ {
			vecmath.Add(dst[r*g4:(r+1)*g4], w.B)
		}
	}
}

// stepInput says where lstmSteps finds each step's input projection:
//   - tab != nil: row ids[j] of tab ([U, 4H]) is packed row j's input
//     projection plus bias, read by the cell as its bias;
//   - x != nil: x ([N, In]) is the layer's input, projected step by step
//     into the step's gates;
//   - neither: the gates already hold the input projections and the cell
//     adds the layer's bias.
//
// whh8, when not nil, is W_hh^T in 8 bits for the recurrent products, in
// a pass that saves nothing for a backward pass.
type stepInput struct {
	tab  []float32
	ids  []int32
	x    []float32
	whh8 *vecmath.PackedB8
}

// lstmSteps runs the time steps of a forward pass: per step the input
// projection of its rows (see stepInput), plus the recurrent product
// h_{s-1}*W_hh^T, then the fused cell. With save the gate activations and
// tanh(c) go to a.Gates and a.TanhC for the backward pass; otherwise to the
// one-step scratch.
func lstmSteps(w LSTMWeights, st Steps, a *LSTMActs, in stepInput, save bool) {
	hid := w.Hidden
	g4 := 4 * hid
	if st.T() == 0 {
		return
	}
	vec := !a.blasOnly && vecmath.GemmSupported(g4)
	q8 := in.whh8 != nil && !save
	if vec && !q8 && st.T() > 1 {
		a.whhT.Pack(w.Whh, hid, hid, g4, true)
	}
	if in.x != nil && vec {
		a.wihT.Pack(w.Wih, w.In, w.In, g4, true)
	}
	if !save {
		// The 8-bit kernel works on whole blocks of rows: room for them.
		a.stepGates = grow(a.stepGates, vecmath.Int8RowsPadded(st.Sizes[0])*g4)
		a.stepTanhC = grow(a.stepTanhC, st.Sizes[0]*hid)
	}
	if q8 {
		a.hq = grow(a.hq, vecmath.Int8RowsPadded(st.Sizes[0])*hid)
		a.hqInit = grow(a.hqInit, vecmath.Int8RowsPadded(st.Sizes[0]))
	}
	for s, rows := range st.Sizes {
		o := st.Offsets[s]
		var gates, tanhC []float32
		if save {
			gates, tanhC = a.Gates[o*g4:(o+rows)*g4], a.TanhC[o*hid:(o+rows)*hid]
		} else {
			gates, tanhC = a.stepGates[:rows*g4], a.stepTanhC[:rows*hid]
		}
		// The gates get the step's recurrent product and input projection:
		// the first of the two products sets them, the second adds. Gates
		// that already hold the projection (save without tab or x) are
		// only added to; a table's projection comes in as the cell's bias.
		filled := in.tab == nil && in.x == nil
		if in.tab != nil && !save {
			// Prediction's table is larger than the caches: ask for the
			// step's rows before the recurrent product, read after it.
			vecmath.PrefetchRows(in.tab, in.ids[o:o+rows], g4)
		}
		var cPrev []float32
		if s > 0 {
			po := st.Offsets[s-1]
			cPrev = a.C[po*hid : (po+rows)*hid]
			switch {
			case q8:
				pad := vecmath.Int8RowsPadded(rows)
				vecmath.GemmInt8Set(rows, a.hq, hid, a.hqInit, in.whh8, a.stepGates[:pad*g4], g4)
			default:
				a.product(vec, &a.whhT, rows, a.H[po*hid:(po+rows)*hid], hid, w.Whh, gates, g4, filled)
			}
			filled = true
		}
		if in.x != nil {
			a.product(vec, &a.wihT, rows, in.x[o*w.In:(o+rows)*w.In], w.In, w.Wih, gates, g4, filled)
			filled = true
		}
		if !filled {
			clear(gates)
		}
		for r := 0; r < rows; r++ {
			j := o + r
			bias := w.B
			if in.tab != nil {
				id := int(in.ids[j])
				bias = in.tab[id*g4 : (id+1)*g4]
			}
			var cp []float32
			if cPrev != nil {
				cp = cPrev[r*hid : (r+1)*hid]
			}
			vecmath.CellForward(gates[r*g4:(r+1)*g4], bias, cp,
				a.C[j*hid:(j+1)*hid], tanhC[r*hid:(r+1)*hid], a.H[j*hid:(j+1)*hid], hid)
		}
		if q8 && s+1 < st.T() {
			vecmath.QuantizeRows(a.H[o*hid:(o+rows)*hid], rows, hid, a.hq, a.hqInit)
		}
	}
}

// product computes C (rows x n) = A*op(W) for A (rows x k), op(W) being
// W^T for W (n x k), with the packed p when vec, the BLAS otherwise; with
// add it adds to C instead.
func (a *LSTMActs) product(vec bool, p *vecmath.PackedB, rows int, x []float32, k int, w, c []float32, n int, add bool) {
	switch {
	case k == 0:
		if !add {
			clear(c[:rows*n])
		}
	case vec && add:
		vecmath.GemmPacked(rows, x, k, p, c, n)
	case vec:
		vecmath.GemmPackedSet(rows, x, k, p, c, n)
	default:
		beta := float32(0)
		if add {
			beta = 1
		}
		sgemm(false, true, rows, n, k, 1, x, k, w, k, beta, c, n)
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
	if st.T() == 0 {
		return
	}
	a.backwardSteps(w, dw, st, dH)
	a.inputGrads(w, dw, x, st.N(), a.Gates, dx)
}

// LSTMBackwardRows is the backward pass of LSTMForwardRows: like
// LSTMBackward, with x, rows and dx ([U, w.In], overwritten) in the form
// LSTMForwardRows took its input. The gate gradients of the packed rows
// that share an input row are summed first, so the W_ih and input
// gradients are products over the U distinct rows, not the N tokens.
func LSTMBackwardRows(w, dw LSTMWeights, x []float32, rows []int32, st Steps, a *LSTMActs, dH, dx []float32) {
	if st.T() == 0 {
		return
	}
	a.backwardSteps(w, dw, st, dH)
	g4 := 4 * w.Hidden
	u := len(x) / max(w.In, 1)
	a.proj = grow(a.proj, u*g4)
	dProj := a.proj
	clear(dProj)
	for j, r := range rows[:st.N()] {
		vecmath.Add(dProj[int(r)*g4:(int(r)+1)*g4], a.Gates[j*g4:(j+1)*g4])
	}
	a.inputGrads(w, dw, x, u, dProj, dx)
}

// backwardSteps runs the per-step part of the backward pass, leaving the
// gate gradients in a.Gates, and adds the W_hh gradient to dw.
func (a *LSTMActs) backwardSteps(w, dw LSTMWeights, st Steps, dH []float32) {
	hid, n := w.Hidden, st.N()
	g4 := 4 * hid
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
	n0 := st.Sizes[0]
	a.hPrev = grow(a.hPrev, n*hid)
	for s := 1; s < st.T(); s++ {
		rows, o, po := st.Sizes[s], st.Offsets[s], st.Offsets[s-1]
		copy(a.hPrev[o*hid:(o+rows)*hid], a.H[po*hid:(po+rows)*hid])
	}
	sgemm(true, false, g4, hid, n-n0, 1, a.Gates[n0*g4:], g4, a.hPrev[n0*hid:n*hid], hid, 1, dw.Whh, hid)
}

// inputGrads adds the W_ih and bias gradients of m input rows x ([m, In])
// whose pre-activation gradients are dGates ([m, 4H]) to dw, and sets dx
// ([m, In], when not nil) to the gradient with respect to x.
func (a *LSTMActs) inputGrads(w, dw LSTMWeights, x []float32, m int, dGates, dx []float32) {
	hid, in := w.Hidden, w.In
	g4 := 4 * hid
	sgemm(true, false, g4, in, m, 1, dGates, g4, x, in, 1, dw.Wih, in)
	if len(a.ones) < m {
		a.ones = make([]float32, m+m/4)
		for i := range a.ones {
			a.ones[i] = 1
		}
	}
	sgemvT(m, g4, dGates, g4, a.ones[:m], dw.B)
	if dx == nil {
		return
	}
	if !a.blasOnly && vecmath.GemmSupported(in) {
		a.wih.Pack(w.Wih, in, g4, in, false)
		vecmath.GemmPackedSet(m, dGates, g4, &a.wih, dx, in)
	} else {
		sgemm(false, false, m, in, g4, 1, dGates, g4, w.Wih, in, 0, dx, in)
	}
}
