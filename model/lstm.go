package model

import "trainer/internal/vecmath"

// LSTMActs holds what one LSTM layer direction saves in the forward pass
// for the backward pass, all packed as Steps describes.
//
// A pass can run in step ranges: ForwardBegin, then ForwardRange over
// consecutive ranges that cover the steps in order; BackwardBegin, then
// BackwardRange over consecutive ranges from the last step down, then
// BackwardEnd for the weight gradients. A pipeline stage hands each range
// of a layer's output (or of its input gradient) on to the next stage as
// soon as it is done; LSTMForward and LSTMBackward are the one-range case.
type LSTMActs struct {
	Gates []float32 // [N, 4H]: gate activations i, f, g, o; the backward pass overwrites them with gate gradients
	C     []float32 // [N, H]: cell states
	TanhC []float32 // [N, H]: tanh of the cell states
	H     []float32 // [N, H]: hidden states, the layer's output
	hPrev []float32 // [N, H]: backward scratch, h of the previous step per packed row
	dc    []float32 // [Sizes[0], H]: backward scratch, gradient flowing through the cell state
	dhRec []float32 // [Sizes[0], H]: backward scratch, the recurrent gradient a step passes to the one before
	ones  []float32 // [N]: all ones, for the bias gradient's column sums

	// proj is, for an input given as distinct rows (LSTMForwardRows), the
	// input projection plus bias of every distinct row, [U, 4H], of which
	// the first projected are done; the backward pass reuses it for the
	// gradients of those projections.
	proj      []float32
	projected int

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
	a.ForwardBegin(w, st)
	a.ForwardRange(w, x, nil, st, 0, st.T())
}

// LSTMForwardRows is LSTMForward for an input given as distinct rows:
// packed row j of the layer's input is row rows[j] of x ([U, w.In]). This
// is the first layer's case, whose input rows are embeddings: a batch of
// N tokens has only U distinct ones (about a fifth of N for 128 Amazon
// reviews), so the input projection is computed once per distinct row, and
// each step's cell takes its rows' projections as their biases.
func LSTMForwardRows(w LSTMWeights, x []float32, rows []int32, st Steps, a *LSTMActs) {
	a.ForwardBegin(w, st)
	a.ForwardRange(w, x, rows, st, 0, st.T())
}

// ForwardBegin starts a forward pass of layer w over st that saves what a
// backward pass needs.
func (a *LSTMActs) ForwardBegin(w LSTMWeights, st Steps) {
	a.grow(st.N(), w.Hidden, true)
	a.projected = 0
	if a.vec(w) {
		a.whhT.Pack(w.Whh, w.Hidden, w.Hidden, 4*w.Hidden, true)
		if w.In > 0 {
			a.wihT.Pack(w.Wih, w.In, w.In, 4*w.Hidden, true)
		}
	}
}

// ForwardRange runs steps [s0, s1) of the pass ForwardBegin started, the
// steps before s0 being done. With rows nil, x ([N, In]) is the layer's
// input and the rows of these steps are projected first; with rows, x
// ([U, In]) holds distinct rows, packed row j's input being x[rows[j]],
// and the rows first used here are projected first. rows lists distinct
// rows in order of first use (see TokenRows), so those are a contiguous
// block after the ones already projected.
func (a *LSTMActs) ForwardRange(w LSTMWeights, x []float32, rows []int32, st Steps, s0, s1 int) {
	if s0 >= s1 {
		return
	}
	g4 := 4 * w.Hidden
	lo, hi := st.Offsets[s0], st.Offsets[s1]
	if rows == nil {
		a.product(a.vec(w), &a.wihT, hi-lo, x[lo*w.In:hi*w.In], w.In, w.Wih, a.Gates[lo*g4:hi*g4], g4, false)
		lstmSteps(w, st, s0, s1, a, stepInput{}, true)
		return
	}
	u := a.projected
	for _, r := range rows[lo:hi] {
		u = max(u, int(r)+1)
	}
	if u > a.projected {
		a.proj = growKeep(a.proj, u*g4)
		p := a.projected
		a.project(w, x[p*w.In:u*w.In], u-p, a.proj[p*g4:u*g4])
		a.projected = u
	}
	lstmSteps(w, st, s0, s1, a, stepInput{tab: a.proj, ids: rows}, true)
}

func (a *LSTMActs) grow(n, hid int, save bool) {
	a.C = grow(a.C, n*hid)
	a.H = grow(a.H, n*hid)
	if save {
		a.Gates = grow(a.Gates, n*4*hid)
		a.TanhC = grow(a.TanhC, n*hid)
	}
}

// project sets dst ([m, 4H]) to x*W_ih^T plus the bias for x's m rows;
// W_ih^T is packed already where the vector kernels run.
func (a *LSTMActs) project(w LSTMWeights, x []float32, m int, dst []float32) {
	g4 := 4 * w.Hidden
	a.product(a.vec(w), &a.wihT, m, x, w.In, w.Wih, dst, g4, false)
	for r := 0; r < m; r++ {
		vecmath.Add(dst[r*g4:(r+1)*g4], w.B)
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

// lstmSteps runs steps [s0, s1) of a forward pass: per step the input
// projection of its rows (see stepInput), plus the recurrent product
// h_{s-1}*W_hh^T, then the fused cell. With save the gate activations and
// tanh(c) go to a.Gates and a.TanhC for the backward pass; otherwise to the
// one-step scratch. The packed weights the vector kernels use are packed
// by the caller.
func lstmSteps(w LSTMWeights, st Steps, s0, s1 int, a *LSTMActs, in stepInput, save bool) {
	hid := w.Hidden
	g4 := 4 * hid
	if s0 >= s1 {
		return
	}
	vec := a.vec(w)
	q8 := in.whh8 != nil && !save
	if !save {
		// The 8-bit kernel works on whole blocks of rows: room for them.
		a.stepGates = grow(a.stepGates, vecmath.Int8RowsPadded(st.Sizes[0])*g4)
		a.stepTanhC = grow(a.stepTanhC, st.Sizes[0]*hid)
	}
	if q8 {
		a.hq = grow(a.hq, vecmath.Int8RowsPadded(st.Sizes[0])*hid)
		a.hqInit = grow(a.hqInit, vecmath.Int8RowsPadded(st.Sizes[0]))
	}
	for s := s0; s < s1; s++ {
		rows := st.Sizes[s]
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
	a.BackwardBegin(w, st, 0)
	a.BackwardRange(w, nil, st, 0, st.T(), dH, dx)
	a.BackwardEnd(w, dw, x, nil, st, nil)
}

// LSTMBackwardRows is the backward pass of LSTMForwardRows: like
// LSTMBackward, with x, rows and dx ([U, w.In], overwritten) in the form
// LSTMForwardRows took its input. The gate gradients of the packed rows
// that share an input row are summed first, so the W_ih and input
// gradients are products over the U distinct rows, not the N tokens.
func LSTMBackwardRows(w, dw LSTMWeights, x []float32, rows []int32, st Steps, a *LSTMActs, dH, dx []float32) {
	a.BackwardBegin(w, st, len(x)/max(w.In, 1))
	a.BackwardRange(w, rows, st, 0, st.T(), dH, nil)
	a.BackwardEnd(w, dw, x, rows, st, dx)
}

// BackwardBegin starts the backward pass of the forward pass a holds; u
// is the number of distinct input rows for an input given as rows, 0
// otherwise.
func (a *LSTMActs) BackwardBegin(w LSTMWeights, st Steps, u int) {
	hid := w.Hidden
	if st.T() == 0 {
		return
	}
	a.dc = grow(a.dc, st.Sizes[0]*hid)
	clear(a.dc)
	a.dhRec = grow(a.dhRec, st.Sizes[0]*hid)
	if !a.blasOnly && vecmath.GemmSupported(hid) && st.T() > 1 {
		a.whh.Pack(w.Whh, hid, 4*hid, hid, false)
	}
	a.packInputGrad(w)
	if u > 0 {
		// The forward projections are spent: the table holds the
		// distinct rows' gate gradients from here on.
		a.proj = grow(a.proj, u*4*hid)
		clear(a.proj)
	}
}

// packInputGrad packs W_ih for the input gradient's products.
func (a *LSTMActs) packInputGrad(w LSTMWeights) {
	if !a.blasOnly && vecmath.GemmSupported(w.In) && w.In > 0 {
		a.wih.Pack(w.Wih, w.In, 4*w.Hidden, w.In, false)
	}
}

// BackwardRange runs the backward pass over steps s1-1 down to s0, the
// steps from s1 on being done. dH holds, on the rows of these steps, the
// gradient with respect to a.H from above (the layer's output gradient);
// the recurrent part is added to it here. a.Gates rows of these steps get
// the gate gradients. With rows, those are added to the distinct rows'
// table for BackwardEnd; otherwise dx ([N, In]), when not nil, gets the
// input gradient on the rows of these steps (overwritten).
func (a *LSTMActs) BackwardRange(w LSTMWeights, rows []int32, st Steps, s0, s1 int, dH, dx []float32) {
	hid := w.Hidden
	g4 := 4 * hid
	if s0 >= s1 {
		return
	}
	packed := !a.blasOnly && vecmath.GemmSupported(hid) && st.T() > 1
	for s := s1 - 1; s >= s0; s-- {
		n, o := st.Sizes[s], st.Offsets[s]
		gates := a.Gates[o*g4 : (o+n)*g4]
		dh := dH[o*hid : (o+n)*hid]
		if s+1 < st.T() {
			// The recurrent gradient from step s+1 reaches the rows still
			// active there; the rest end at s.
			k := st.Sizes[s+1] * hid
			vecmath.Add(dh[:k], a.dhRec[:k])
		}
		var cPrev []float32
		if s > 0 {
			po := st.Offsets[s-1]
			cPrev = a.C[po*hid : (po+n)*hid]
		}
		// Rows that end at step s get no gradient from step s+1: their part
		// of dc is still zero because only shorter prefixes were written.
		LSTMCellBackward(n, hid, gates, cPrev, a.TanhC[o*hid:(o+n)*hid], dh, a.dc[:n*hid], gates)
		if s > 0 {
			if packed {
				vecmath.GemmPackedSet(n, gates, g4, &a.whh, a.dhRec, hid)
			} else {
				sgemm(false, false, n, hid, g4, 1, gates, g4, w.Whh, hid, 0, a.dhRec, hid)
			}
		}
	}
	lo, hi := st.Offsets[s0], st.Offsets[s1]
	switch {
	case rows != nil:
		for j := lo; j < hi; j++ {
			r := int(rows[j])
			vecmath.Add(a.proj[r*g4:(r+1)*g4], a.Gates[j*g4:(j+1)*g4])
		}
	case dx != nil:
		a.inputGrad(w, hi-lo, a.Gates[lo*g4:hi*g4], dx[lo*w.In:hi*w.In])
	}
}

// BackwardEnd adds the W_hh, W_ih and bias gradients of the whole pass to
// dw, each one product over all steps. For an input given as rows it also
// sets dx ([U, In], when not nil) to the gradient of the distinct rows.
func (a *LSTMActs) BackwardEnd(w, dw LSTMWeights, x []float32, rows []int32, st Steps, dx []float32) {
	if st.T() == 0 {
		return
	}
	a.backwardRecurrent(w, dw, st)
	if rows == nil {
		a.backwardInput(w, dw, x, st.N(), a.Gates, nil)
		return
	}
	a.backwardInput(w, dw, x, len(x)/max(w.In, 1), a.proj, dx)
}

// backwardRecurrent adds the W_hh gradient of the whole pass to dw: one
// product of the gate gradients with the previous steps' states.
func (a *LSTMActs) backwardRecurrent(w, dw LSTMWeights, st Steps) {
	hid, n := w.Hidden, st.N()
	g4 := 4 * hid
	n0 := st.Sizes[0]
	a.hPrev = grow(a.hPrev, n*hid)
	for s := 1; s < st.T(); s++ {
		k, o, po := st.Sizes[s], st.Offsets[s], st.Offsets[s-1]
		copy(a.hPrev[o*hid:(o+k)*hid], a.H[po*hid:(po+k)*hid])
	}
	sgemm(true, false, g4, hid, n-n0, 1, a.Gates[n0*g4:], g4, a.hPrev[n0*hid:n*hid], hid, 1, dw.Whh, hid)
}

// backwardInput adds to dw the W_ih and bias gradients of m input rows x
// ([m, In]) whose gate gradients are dGates ([m, 4H]), and sets dx ([m,
// In]), when not nil, to their input gradient. BackwardBegin packed W_ih.
func (a *LSTMActs) backwardInput(w, dw LSTMWeights, x []float32, m int, dGates, dx []float32) {
	if m == 0 {
		return
	}
	g4 := 4 * w.Hidden
	sgemm(true, false, g4, w.In, m, 1, dGates, g4, x, w.In, 1, dw.Wih, w.In)
	if len(a.ones) < m {
		a.ones = make([]float32, m+m/4)
		for i := range a.ones {
			a.ones[i] = 1
		}
	}
	sgemvT(m, g4, dGates, g4, a.ones[:m], dw.B)
	if dx != nil {
		a.inputGrad(w, m, dGates, dx)
	}
}
