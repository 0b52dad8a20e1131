package train

import (
	"strings"

	"trainer/data"
	"trainer/internal/vecmath"
	"trainer/model"
)

// The model seen as a chain of pipeline units. Unit 0 is the embedding and
// LSTM layer 0; the last unit is the head (pooling, the linear layer and
// the loss). In between, a unidirectional layer l >= 1 is two units: its
// input projection x*W_ih^T + b for every step (proj), then its recurrence
// and the whole backward pass (rec), so that a stage boundary can fall
// inside a layer where that balances the stages better; a bidirectional
// layer is one unit. Each unit writes only its own activations and its own
// parameters' gradients, so units on different goroutines never write the
// same memory. The arithmetic is that of model.Workspace.LossGrad, split
// at unit boundaries.
//
// A unidirectional model also runs in time chunks: the steps of a batch are
// cut into consecutive ranges, and a unit hands each range of its output
// (forward) or of its input gradient (backward) on as soon as it is done, so
// the stages of one batch overlap like a wavefront instead of waiting for
// whole micro-batches. A bidirectional layer needs every step of its input
// before its reverse direction starts, so those models run in one chunk and
// overlap across micro-batches only (GPipe).

type unitKind int

const (
	unitEmbed unitKind = iota // embedding + LSTM layer 0
	unitProj                  // input projection of a unidirectional layer
	unitRec                   // recurrence and backward of a unidirectional layer
	unitLayer                 // a whole bidirectional layer
	unitHead                  // pooling, linear layer, loss
)

type unit struct {
	kind  unitKind
	layer int
}

// PipelineUnits names the units a pipeline splits c into, in order: a
// pipeline has at most that many stages.
func PipelineUnits(c model.Config) []string {
	return strings.Split(unitNames(pipelineUnits(c)), ", ")
}

// pipelineUnits lists the units of c in order.
func pipelineUnits(c model.Config) []unit {
	us := []unit{{unitEmbed, 0}}
	for l := 1; l < c.Layers; l++ {
		if c.Bidirectional {
			us = append(us, unit{unitLayer, l})
		} else {
			us = append(us, unit{unitProj, l}, unit{unitRec, l})
		}
	}
	return append(us, unit{unitHead, c.Layers})
}

// distinctShare is the share of a batch's tokens that are distinct, for
// the first layer's cost: about a fifth to a third on Amazon reviews.
const distinctShare = 0.3

// cost estimates a unit's multiply-adds per token, forward and backward,
// so that stages can be balanced.
func (u unit) cost(c model.Config) float64 {
	h, in, dirs := float64(c.Hidden), float64(c.InDim(u.layer)), float64(c.Dirs())
	switch u.kind {
	case unitEmbed:
		return dirs * 4 * h * 3 * (h + distinctShare*in)
	case unitProj:
		return 4 * h * in
	case unitRec:
		return 4 * h * (3*h + 2*in)
	case unitLayer:
		return dirs * 4 * h * 3 * (h + in)
	}
	return float64(c.OutDim())
}

// microState is everything one micro-batch carries through the pipeline:
// its packing and chunks, each layer's activations and the gradients
// flowing back. A stage writes only the fields of its own units; the
// channel hand-offs between stages order the accesses.
type microState struct {
	b      data.Batch
	pack   model.Packing
	cuts   []int           // chunk c is steps [cuts[c], cuts[c+1])
	tok    model.TokenRows // layer 0's input rows: the distinct tokens
	x0     []float32       // their embeddings
	ident  []int32         // 0..N-1: packed row j's projection is row j
	layers []layerUnits

	head    model.Head
	loss    float64
	correct int
}

// layerUnits is one LSTM layer's state, as model.Workspace keeps it.
type layerUnits struct {
	in     []float32
	inRev  []float32
	pre    []float32      // unidirectional l >= 1: the proj unit's x*W_ih^T + b, [N, 4H]
	proj   model.LSTMActs // the proj unit's packed weights, apart from the rec unit's
	acts   [2]model.LSTMActs
	out    []float32
	dH     [2][]float32
	dIn    []float32
	dInRev []float32
}

// unitRunner runs units of one model configuration.
type unitRunner struct {
	cfg model.Config
	lay model.Layout
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n, n+n/4)
	}
	return s[:n]
}

// prepare packs micro-batch m for chunks time chunks (fewer when it has
// fewer steps) and sizes the buffers that cross stages, before any stage
// runs.
func (r *unitRunner) prepare(m *microState, chunks int) {
	c := r.cfg
	m.pack.Pack(m.b)
	if c.Bidirectional {
		m.pack.BuildRev()
		chunks = 1
	}
	m.tok.Build(&m.pack, m.b, c.VocabSize)
	n := m.pack.N()
	m.cuts = chunkCuts(m.pack.Steps, chunks, m.cuts)
	if len(m.ident) < n {
		m.ident = make([]int32, n+n/4)
		for j := range m.ident {
			m.ident[j] = int32(j)
		}
	}
	for l := range m.layers {
		for d := 0; d < c.Dirs(); d++ {
			m.layers[l].dH[d] = grow32(m.layers[l].dH[d], n*c.Hidden)
		}
	}
}

// chunkCuts cuts st's steps into at most k ranges of about equal tokens.
func chunkCuts(st model.Steps, k int, cuts []int) []int {
	t, n := st.T(), st.N()
	k = max(1, min(k, t))
	cuts = append(cuts[:0], 0)
	s := 0
	for i := 1; i < k; i++ {
		target := n * i / k
		for s < t && st.Offsets[s] < target {
			s++
		}
		if s > cuts[len(cuts)-1] && s < t {
			cuts = append(cuts, s)
		}
	}
	return append(cuts, t)
}

// forward runs unit u of micro-batch m over chunk ch. The head needs every
// step and runs once, after the last chunk; it also runs its own backward
// pass, since the loss gradient is available at once.
func (r *unitRunner) forward(u unit, m *microState, ch int, params, grad []float32) {
	c := r.cfg
	p := &m.pack
	s0, s1 := m.cuts[ch], m.cuts[ch+1]
	switch u.kind {
	case unitEmbed:
		ls := &m.layers[0]
		if ch == 0 {
			m.x0 = grow32(m.x0, len(m.tok.IDs)*c.EmbedDim)
			m.tok.Gather(r.lay.View("embed").Slice(params), c.EmbedDim, m.x0)
			ls.in = m.x0
			for d := 0; d < c.Dirs(); d++ {
				ls.acts[d].ForwardBegin(r.lay.LSTM(params, 0, d), p.Steps)
			}
		}
		ls.acts[0].ForwardRange(r.lay.LSTM(params, 0, 0), m.x0, m.tok.Rows, p.Steps, s0, s1)
		switch {
		case c.Dirs() == 2:
			ls.acts[1].ForwardRange(r.lay.LSTM(params, 0, 1), m.x0, m.tok.RevRows, p.Steps, s0, s1)
			r.joinDirections(m, ls)
		case ch == 0:
			// Set once: the next stage reads it while this one goes on.
			ls.out = ls.acts[0].H
		}
	case unitProj:
		ls := &m.layers[u.layer]
		w := r.lay.LSTM(params, u.layer, 0)
		if ch == 0 {
			ls.in = m.layers[u.layer-1].out
			ls.pre = grow32(ls.pre, p.N()*4*c.Hidden)
			ls.proj.ProjectBegin(w)
		}
		ls.proj.ProjectRange(w, ls.in, p.Steps, s0, s1, ls.pre)
	case unitRec:
		ls := &m.layers[u.layer]
		w := r.lay.LSTM(params, u.layer, 0)
		if ch == 0 {
			ls.acts[0].StepsBegin(w, p.Steps)
			ls.out = ls.acts[0].H
		}
		ls.acts[0].StepsRange(w, ls.pre, m.ident, p.Steps, s0, s1)
	case unitLayer:
		r.bidirectionalForward(u.layer, m, params)
	case unitHead:
		if ch == len(m.cuts)-2 {
			r.head(m, params, grad)
		}
	}
}

// bidirectionalForward runs a whole bidirectional layer l >= 1.
func (r *unitRunner) bidirectionalForward(l int, m *microState, params []float32) {
	c := r.cfg
	p := &m.pack
	n, inDim := p.N(), c.InDim(l)
	ls := &m.layers[l]
	ls.in = m.layers[l-1].out
	model.LSTMForward(r.lay.LSTM(params, l, 0), ls.in, p.Steps, &ls.acts[0])
	ls.inRev = grow32(ls.inRev, n*inDim)
	p.Reverse(ls.inRev, ls.in, inDim)
	model.LSTMForward(r.lay.LSTM(params, l, 1), ls.inRev, p.Steps, &ls.acts[1])
	r.joinDirections(m, ls)
}

// joinDirections sets a bidirectional layer's output: both directions'
// states side by side, in the forward direction's step order.
func (r *unitRunner) joinDirections(m *microState, ls *layerUnits) {
	hid := r.cfg.Hidden
	p := &m.pack
	ls.out = grow32(ls.out, p.N()*2*hid)
	p.Join(ls.out, ls.acts[0].H, ls.acts[1].H, hid)
}

// head pools the top layer, computes the logits and the loss, and leaves
// the gradient with respect to the top layer's outputs in its dH.
func (r *unitRunner) head(m *microState, params, grad []float32) {
	dirs := r.cfg.Dirs()
	top := &m.layers[r.cfg.Layers-1]
	m.head.Forward(r.cfg, r.lay, params, [][]float32{top.acts[0].H, top.acts[1].H}[:dirs], &m.pack, m.b)
	m.loss, m.correct = m.head.Backward(r.cfg, r.lay, params, grad, m.b.Labels, &m.pack, top.dH[:dirs])
}

// backward runs the backward pass of unit u over chunk ch, the chunks after
// it being done (the head's ran in forward). It leaves the gradient for
// the unit below on the chunk's rows of that layer's dH, or, for unit 0,
// in its table of distinct rows; end then adds the weight gradients.
func (r *unitRunner) backward(u unit, m *microState, ch int, params, grad []float32) {
	c := r.cfg
	p := &m.pack
	s0, s1 := m.cuts[ch], m.cuts[ch+1]
	last := ch == len(m.cuts)-2
	switch u.kind {
	case unitEmbed:
		ls := &m.layers[0]
		for d := 0; d < c.Dirs(); d++ {
			rows := m.tok.Rows
			if d == 1 {
				rows = m.tok.RevRows
			}
			if last {
				ls.acts[d].BackwardBegin(r.lay.LSTM(params, 0, d), p.Steps, len(m.tok.IDs))
			}
			ls.acts[d].BackwardRange(r.lay.LSTM(params, 0, d), rows, p.Steps, s0, s1, ls.dH[d], nil)
		}
	case unitRec:
		ls := &m.layers[u.layer]
		w := r.lay.LSTM(params, u.layer, 0)
		if last {
			ls.acts[0].BackwardBegin(w, p.Steps, 0)
		}
		ls.acts[0].BackwardRange(w, nil, p.Steps, s0, s1, ls.dH[0], m.layers[u.layer-1].dH[0])
	case unitLayer:
		r.bidirectionalBackward(u.layer, m, params, grad)
	}
}

// end finishes unit u's backward pass of micro-batch m once its last chunk
// is done and handed on: the weight gradients, and for unit 0 the input
// gradient of the distinct tokens and the embedding gradient.
func (r *unitRunner) end(u unit, m *microState, params, grad []float32) {
	c := r.cfg
	p := &m.pack
	switch u.kind {
	case unitEmbed:
		ls := &m.layers[0]
		k := len(m.tok.IDs) * c.EmbedDim
		ls.dIn = grow32(ls.dIn, k)
		ls.acts[0].BackwardEnd(r.lay.LSTM(params, 0, 0), r.lay.LSTM(grad, 0, 0), ls.in, m.tok.Rows, p.Steps, ls.dIn)
		if c.Dirs() == 2 {
			ls.dInRev = grow32(ls.dInRev, k)
			ls.acts[1].BackwardEnd(r.lay.LSTM(params, 0, 1), r.lay.LSTM(grad, 0, 1), ls.in, m.tok.RevRows, p.Steps, ls.dInRev)
			vecmath.Add(ls.dIn, ls.dInRev)
		}
		m.tok.ScatterAdd(r.lay.View("embed").Slice(grad), c.EmbedDim, ls.dIn)
	case unitRec:
		ls := &m.layers[u.layer]
		ls.acts[0].BackwardEnd(r.lay.LSTM(params, u.layer, 0), r.lay.LSTM(grad, u.layer, 0), ls.in, nil, p.Steps, nil)
	}
}

// bidirectionalBackward is the whole backward pass of a bidirectional
// layer l >= 1, leaving the gradient of the layer below in its dH.
func (r *unitRunner) bidirectionalBackward(l int, m *microState, params, grad []float32) {
	c := r.cfg
	p := &m.pack
	n, hid, inDim := p.N(), c.Hidden, c.InDim(l)
	ls := &m.layers[l]
	ls.dIn = grow32(ls.dIn, n*inDim)
	model.LSTMBackward(r.lay.LSTM(params, l, 0), r.lay.LSTM(grad, l, 0), ls.in, p.Steps, &ls.acts[0], ls.dH[0], ls.dIn)
	ls.dInRev = grow32(ls.dInRev, n*inDim)
	model.LSTMBackward(r.lay.LSTM(params, l, 1), r.lay.LSTM(grad, l, 1), ls.inRev, p.Steps, &ls.acts[1], ls.dH[1], ls.dInRev)
	p.AddReversed(ls.dIn, ls.dInRev, inDim)
	lower := &m.layers[l-1]
	p.Split(ls.dIn, hid, lower.dH[0], lower.dH[1])
}
