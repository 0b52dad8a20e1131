package model

import (
	"fmt"

	"trainer/data"
	"trainer/internal/vecmath"
)

// Workspace is one replica's scratch memory for the forward and backward
// passes. Buffers grow to the largest batch seen and are then reused, so a
// steady training loop does not allocate. A Workspace is not safe for
// concurrent use: give each worker its own.
type Workspace struct {
	cfg    Config
	layout Layout
	pack   Packing
	tok    TokenRows // the batch's distinct tokens, layer 0's input rows
	x0     []float32 // stage input: embeddings of tok.IDs [U, E], or the previous stage's output [N, In]
	layers []layerState

	head Head
	ids  []int32 // Predict: the table row of every packed token

	// Predict's 8-bit input products of layers 1 and up (forwardInt8):
	// the layer's input quantized, and the identity 0, 1, ... as rows.
	xq     []int8
	xqInit []int32
	ident  []int32

	// With a share (SetShare), LossGrad splits the first layer's
	// input-side work with the share's other workers; gRows and
	// gRevRows are then each packed row's index in the share's tables.
	share           *RowShare
	shareIdx        int
	sharing         bool // inside LossGrad with a share
	gRows, gRevRows []int32
}

// forwardInt8 runs layer l >= 1 of a prediction with the input product in
// 8 bits: the input (in forward step order) is quantized once and both
// directions project all of it in one product each; the reverse direction
// then reads its rows through the packing's mirror, so its input is never
// copied into reverse order.
func (w *Workspace) forwardInt8(params []float32, tab *Inference, l int, in []float32) {
	n, inDim := w.pack.N(), w.cfg.InDim(l)
	pad := vecmath.Int8RowsPadded(n)
	w.xq = grow(w.xq, pad*inDim)
	w.xqInit = grow(w.xqInit, pad)
	vecmath.QuantizeRows(in, n, inDim, w.xq, w.xqInit)
	if len(w.ident) < n {
		w.ident = make([]int32, n)
		for j := range w.ident {
			w.ident[j] = int32(j)
		}
	}
	ids := [2][]int32{w.ident[:n], w.pack.Rev}
	for d := 0; d < w.cfg.Dirs(); d++ {
		lstmForwardInt8(w.layout.LSTM(params, l, d), w.xq, w.xqInit, ids[d], w.pack.Steps, &w.layers[l].acts[d], tab.input8(l, d), tab.recurrent8(l, d))
	}
}

// layerState is one LSTM layer's saved activations and gradients.
type layerState struct {
	in     []float32   // input [N, In], packed step order of the forward direction
	inRev  []float32   // input mirrored for the reverse direction
	acts   [2]LSTMActs // per direction
	out    []float32   // output [N, D] in forward step order: acts[0].H, or both directions concatenated
	dH     [2][]float32
	dIn    []float32 // gradient with respect to in
	dInRev []float32 // gradient with respect to inRev
}

// NewWorkspace returns an empty workspace for models of configuration c.
// It panics if c is invalid; check Config.Validate first.
func NewWorkspace(c Config) *Workspace {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return &Workspace{cfg: c, layout: NewLayout(c), layers: make([]layerState, c.Layers)}
}

// Config is the configuration the workspace was made for.
func (w *Workspace) Config() Config { return w.cfg }

// Packing is the layout of the batch last passed to Forward or LossGrad.
func (w *Workspace) Packing() *Packing { return &w.pack }

func (w *Workspace) checkParams(params []float32) {
	if len(params) != w.layout.Size() {
		panic(fmt.Sprintf("model: %d parameters given, the configuration has %d", len(params), w.layout.Size()))
	}
}

// Stages: a pipeline-parallel engine splits the LSTM layers into
// contiguous ranges [lo, hi). The stage with lo == 0 also runs the
// embedding, the one with hi == Layers also runs the head and the loss.
// Between stages flows a layer's output, [N, D] in the packed step order of
// the forward direction (both directions concatenated when bidirectional),
// and its gradient in the same layout. Forward and LossGrad are the one-stage
// case of the same code, so a split model computes exactly what the whole
// model does. Each stage (and each micro-batch in flight, for schedules
// that keep several) needs its own Workspace.

// StageForward runs LSTM layers [lo, hi) on batch b. For lo == 0 the input
// is b's embedding and in is ignored; otherwise in is layer lo-1's output
// (copied, so the caller may reuse it). For hi < Layers it returns layer
// hi-1's output, owned by the workspace and valid until its next call; for
// hi == Layers it runs the head and returns nil (see Logits).
func (w *Workspace) StageForward(params []float32, b data.Batch, lo, hi int, in []float32) []float32 {
	return w.forward(params, b, lo, hi, in, nil, false)
}

// forward is StageForward; with tab, layer 0's input projections come
// from tab's table instead of the embedding and a matrix product. With
// noSave no backward pass follows, and the layers keep only what the next
// layer and the head read.
func (w *Workspace) forward(params []float32, b data.Batch, lo, hi int, in []float32, tab *Inference, noSave bool) []float32 {
	save := !noSave
	lstmFwd := func(l, d int, x []float32) {
		a := &w.layers[l].acts[d]
		switch {
		case save:
			LSTMForward(w.layout.LSTM(params, l, d), x, w.pack.Steps, a)
		default:
			lstmForwardNoSave(w.layout.LSTM(params, l, d), x, w.pack.Steps, a, tab.recurrent8(l, d))
		}
	}
	w.checkParams(params)
	w.checkStage(lo, hi)
	c := w.cfg
	w.pack.Pack(b)
	if c.Bidirectional {
		w.pack.BuildRev()
	}
	n, hid, dirs := w.pack.N(), c.Hidden, c.Dirs()
	switch {
	case tab != nil:
		in = nil
	case lo == 0 && w.sharing:
		w.tok.Build(&w.pack, b, c.VocabSize)
		w.shareProject(params)
		in = nil
	case lo == 0:
		w.tok.Build(&w.pack, b, c.VocabSize)
		w.x0 = grow(w.x0, len(w.tok.IDs)*c.EmbedDim)
		w.tok.Gather(w.layout.View("embed").Slice(params), c.EmbedDim, w.x0)
		in = w.x0
	default:
		if len(in) != n*c.InDim(lo) {
			panic(fmt.Sprintf("model: stage input has %d values, want %d tokens x %d", len(in), n, c.InDim(lo)))
		}
		w.x0 = grow(w.x0, len(in))
		copy(w.x0, in)
		in = w.x0
	}
	for l := lo; l < hi; l++ {
		ls := &w.layers[l]
		inDim := c.InDim(l)
		ls.in = in
		switch {
		case l == 0 && tab != nil:
			tab.project(w, b)
		case l == 0 && w.sharing:
			w.shareSteps(params)
		case l == 0:
			lstmForwardRows(w.layout.LSTM(params, 0, 0), in, w.tok.Rows, w.pack.Steps, &ls.acts[0], save)
			if dirs == 2 {
				lstmForwardRows(w.layout.LSTM(params, 0, 1), in, w.tok.RevRows, w.pack.Steps, &ls.acts[1], save)
			}
		case tab.input8(l, 0) != nil:
			w.forwardInt8(params, tab, l, in)
		default:
			lstmFwd(l, 0, in)
			if dirs == 2 {
				ls.inRev = grow(ls.inRev, n*inDim)
				w.pack.Reverse(ls.inRev, in, inDim)
				lstmFwd(l, 1, ls.inRev)
			}
		}
		switch {
		case dirs == 1:
			ls.out = ls.acts[0].H
		case noSave && l == c.Layers-1:
			// The head reads each direction's states itself; nothing
			// reads the joined output of the top layer in prediction.
			ls.out = nil
		default:
			ls.out = grow(ls.out, n*2*hid)
			w.pack.Join(ls.out, ls.acts[0].H, ls.acts[1].H, hid)
		}
		in = ls.out
	}
	if hi < c.Layers {
		return w.layers[hi-1].out
	}
	top := &w.layers[c.Layers-1]
	w.head.noGrad = noSave
	w.head.Forward(c, w.layout, params, [][]float32{top.acts[0].H, top.acts[1].H}[:dirs], &w.pack, b)
	return nil
}

// Logits copies the logits of the last StageForward that ran the head into
// dst[:rows], in the batch's row order.
func (w *Workspace) Logits(dst []float32) { w.head.Logits(&w.pack, dst) }

// StageBackward is the backward pass of the StageForward(params, b, lo,
// hi, ...) that ran last on this workspace. For hi == Layers it computes
// the loss against b's labels (returning its sum and the correct count)
// and dOut is ignored; otherwise dOut is the gradient with respect to the
// stage's output. It adds the gradients of the stage's parameters to grad.
// For lo > 0 it returns the gradient with respect to the stage's input,
// owned by the workspace; for lo == 0 it returns nil.
func (w *Workspace) StageBackward(params []float32, b data.Batch, lo, hi int, dOut, grad []float32) (dIn []float32, lossSum float64, correct int) {
	w.checkStage(lo, hi)
	if len(grad) != len(params) {
		panic(fmt.Sprintf("model: gradient buffer has %d values, parameters %d", len(grad), len(params)))
	}
	c, p := w.cfg, &w.pack
	d, hid, dirs, n := c.OutDim(), c.Hidden, c.Dirs(), p.N()
	top := &w.layers[hi-1]
	for dir := 0; dir < dirs; dir++ {
		top.dH[dir] = grow(top.dH[dir], n*hid)
	}
	if hi == c.Layers {
		lossSum, correct = w.head.Backward(c, w.layout, params, grad, b.Labels, p, top.dH[:dirs])
	} else {
		if len(dOut) != n*d {
			panic(fmt.Sprintf("model: stage output gradient has %d values, want %d tokens x %d", len(dOut), n, d))
		}
		w.splitDirections(top, dOut)
	}
	for l := hi - 1; l >= lo; l-- {
		ls := &w.layers[l]
		inDim := c.InDim(l)
		if l == 0 && w.sharing {
			w.shareBackward(params, grad)
			return nil, lossSum, correct
		}
		if l == 0 {
			// The embedding layer's input is the batch's distinct tokens.
			u := len(w.tok.IDs)
			ls.dIn = grow(ls.dIn, u*inDim)
			LSTMBackwardRows(w.layout.LSTM(params, 0, 0), w.layout.LSTM(grad, 0, 0), ls.in, w.tok.Rows, p.Steps, &ls.acts[0], ls.dH[0], ls.dIn)
			if dirs == 2 {
				ls.dInRev = grow(ls.dInRev, u*inDim)
				LSTMBackwardRows(w.layout.LSTM(params, 0, 1), w.layout.LSTM(grad, 0, 1), ls.in, w.tok.RevRows, p.Steps, &ls.acts[1], ls.dH[1], ls.dInRev)
				vecmath.Add(ls.dIn, ls.dInRev)
			}
			break
		}
		ls.dIn = grow(ls.dIn, n*inDim)
		LSTMBackward(w.layout.LSTM(params, l, 0), w.layout.LSTM(grad, l, 0), ls.in, p.Steps, &ls.acts[0], ls.dH[0], ls.dIn)
		if dirs == 2 {
			ls.dInRev = grow(ls.dInRev, n*inDim)
			LSTMBackward(w.layout.LSTM(params, l, 1), w.layout.LSTM(grad, l, 1), ls.inRev, p.Steps, &ls.acts[1], ls.dH[1], ls.dInRev)
			p.AddReversed(ls.dIn, ls.dInRev, inDim)
		}
		if l == lo {
			break
		}
		lower := &w.layers[l-1]
		if dirs == 1 {
			// The lower layer's output is this layer's input: hand the buffer over.
			lower.dH[0], ls.dIn = ls.dIn, lower.dH[0]
			continue
		}
		w.splitDirections(lower, ls.dIn)
	}
	if lo > 0 {
		return w.layers[lo].dIn, lossSum, correct
	}
	w.tok.ScatterAdd(w.layout.View("embed").Slice(grad), c.EmbedDim, w.layers[0].dIn)
	return nil, lossSum, correct
}

// splitDirections sets ls.dH from the gradient of ls's output ([N, D],
// forward step order): the reverse direction's half goes to its own step
// order.
func (w *Workspace) splitDirections(ls *layerState, dOut []float32) {
	hid, n := w.cfg.Hidden, w.pack.N()
	ls.dH[0] = grow(ls.dH[0], n*hid)
	if w.cfg.Dirs() == 1 {
		copy(ls.dH[0], dOut)
		return
	}
	ls.dH[1] = grow(ls.dH[1], n*hid)
	w.pack.Split(dOut, hid, ls.dH[0], ls.dH[1])
}

func (w *Workspace) checkStage(lo, hi int) {
	if lo < 0 || hi > w.cfg.Layers || lo >= hi {
		panic(fmt.Sprintf("model: stage layers [%d, %d) outside the model's %d layers", lo, hi, w.cfg.Layers))
	}
}

// Forward computes the logit of every row of b into logits[:b.Size], in
// b's row order.
func (w *Workspace) Forward(params []float32, b data.Batch, logits []float32) {
	if b.Size == 0 {
		return
	}
	w.forward(params, b, 0, w.cfg.Layers, nil, nil, true)
	w.Logits(logits)
}

// LossGrad runs the forward and backward passes on b and adds to grad
// (laid out like params) the gradient of the sum over rows of the
// BCE-with-logits loss. It returns that sum and the number of rows whose
// prediction (logit > 0 means positive) equals the label. The caller zeroes
// and normalises grad. An empty batch adds nothing.
func (w *Workspace) LossGrad(params []float32, b data.Batch, grad []float32) (lossSum float64, correct int) {
	if w.share != nil {
		w.sharing = true
		defer func() { w.sharing = false }()
		if b.Size == 0 {
			// No rows, but a slice of the share's work all the same.
			w.tok.IDs, w.gRows, w.gRevRows = w.tok.IDs[:0], w.gRows[:0], w.gRevRows[:0]
			w.pack.Pack(b)
			w.shareProject(params)
			w.shareBackward(params, grad)
			return 0, 0
		}
	}
	if b.Size == 0 {
		return 0, 0
	}
	w.StageForward(params, b, 0, w.cfg.Layers, nil)
	_, lossSum, correct = w.StageBackward(params, b, 0, w.cfg.Layers, nil, grad)
	return lossSum, correct
}
