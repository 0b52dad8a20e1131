package train

import (
	"trainer/data"
	"trainer/model"
)

// The model seen as a chain of pipeline units: unit 0 is the embedding and
// LSTM layer 0, unit l (1 <= l < Layers) is LSTM layer l, and the last unit
// (index Layers) is the head: pooling, the linear layer and the loss. Each
// unit reads and writes only its own parameters and gradients, so units on
// different goroutines never touch the same memory. The arithmetic is that
// of model.Workspace.LossGrad, split at layer boundaries.

// microState is everything one micro-batch carries through the pipeline:
// its packing, each layer's activations and the gradients flowing back.
// A stage writes only the fields of its own units; the channel hand-off
// between stages orders the accesses.
type microState struct {
	b      data.Batch
	pack   model.Packing
	tok    model.TokenRows // layer 0's input rows: the distinct tokens
	x0     []float32       // their embeddings
	layers []unitLayer

	pooled, dPooled []float32
	argmax          []int32
	logits, labels  []float32
	dlogits         []float32
	loss            float64
	correct         int
}

// unitLayer is one LSTM layer's saved state, as model.Workspace keeps it.
type unitLayer struct {
	in     []float32
	inRev  []float32
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

// forward runs unit u of micro-batch m. The head unit also runs its own
// backward pass, since the loss gradient is available at once.
func (r *unitRunner) forward(u int, m *microState, params, grad []float32) {
	c := r.cfg
	if u == 0 {
		m.pack.Pack(m.b)
		if c.Bidirectional {
			m.pack.BuildRev()
		}
		m.tok.Build(&m.pack, m.b, c.VocabSize)
		m.x0 = grow32(m.x0, len(m.tok.IDs)*c.EmbedDim)
		m.tok.Gather(r.lay.View("embed").Slice(params), c.EmbedDim, m.x0)
	}
	if u < c.Layers {
		in := m.x0
		if u > 0 {
			in = m.layers[u-1].out
		}
		r.layerForward(u, m, params, in)
		return
	}
	r.head(m, params, grad)
}

func (r *unitRunner) layerForward(l int, m *microState, params, in []float32) {
	c := r.cfg
	p := &m.pack
	n, hid := p.N(), c.Hidden
	ls := &m.layers[l]
	ls.in = in
	switch {
	case l == 0:
		model.LSTMForwardRows(r.lay.LSTM(params, 0, 0), in, m.tok.Rows, p.Steps, &ls.acts[0])
		if c.Dirs() == 2 {
			model.LSTMForwardRows(r.lay.LSTM(params, 0, 1), in, m.tok.RevRows, p.Steps, &ls.acts[1])
		}
	default:
		model.LSTMForward(r.lay.LSTM(params, l, 0), in, p.Steps, &ls.acts[0])
		if c.Dirs() == 2 {
			inDim := c.InDim(l)
			ls.inRev = grow32(ls.inRev, n*inDim)
			for i, j := range p.Rev {
				copy(ls.inRev[i*inDim:(i+1)*inDim], in[int(j)*inDim:(int(j)+1)*inDim])
			}
			model.LSTMForward(r.lay.LSTM(params, l, 1), ls.inRev, p.Steps, &ls.acts[1])
		}
	}
	if c.Dirs() == 1 {
		ls.out = ls.acts[0].H
		return
	}
	ls.out = grow32(ls.out, n*2*hid)
	hf, hr := ls.acts[0].H, ls.acts[1].H
	for j, jr := range p.Rev {
		copy(ls.out[j*2*hid:j*2*hid+hid], hf[j*hid:(j+1)*hid])
		copy(ls.out[j*2*hid+hid:(j+1)*2*hid], hr[int(jr)*hid:(int(jr)+1)*hid])
	}
}

// head pools the top layer, computes the logits and the loss, and leaves
// the gradient with respect to the top layer's outputs in its dH.
func (r *unitRunner) head(m *microState, params, grad []float32) {
	c := r.cfg
	p := &m.pack
	rows, d, hid, dirs, n := m.b.Size, c.OutDim(), c.Hidden, c.Dirs(), p.N()
	pool := c.Pool
	if pool == "" {
		pool = model.PoolLast
	}
	top := &m.layers[c.Layers-1]
	hs := [][]float32{top.acts[0].H, top.acts[1].H}[:dirs]
	m.pooled = grow32(m.pooled, rows*d)
	if pool == model.PoolMax && cap(m.argmax) < rows*d {
		m.argmax = make([]int32, rows*d)
	}
	if pool == model.PoolMax {
		m.argmax = m.argmax[:rows*d]
	}
	model.PoolForward(pool, hs, hid, p, m.pooled, m.argmax)
	hw, hb := r.lay.View("head.w"), r.lay.View("head.b")
	m.logits = grow32(m.logits, rows)
	model.LinearForward(m.pooled, d, hw.Slice(params), params[hb.Offset], m.logits)
	m.labels = grow32(m.labels, rows)
	for k, row := range p.Perm {
		m.labels[k] = m.b.Labels[row]
	}
	m.dlogits = grow32(m.dlogits, rows)
	m.loss, m.correct = model.BCEWithLogits(m.logits, m.labels, m.dlogits)
	m.dPooled = grow32(m.dPooled, rows*d)
	model.LinearBackward(m.pooled, d, hw.Slice(params), m.dlogits, hw.Slice(grad), &grad[hb.Offset], m.dPooled)
	for dir := 0; dir < dirs; dir++ {
		top.dH[dir] = grow32(top.dH[dir], n*hid)
		clear(top.dH[dir])
	}
	model.PoolBackward(pool, m.dPooled, hid, p, m.argmax, top.dH[:dirs])
}

// backward runs the backward pass of unit u (the head's ran in forward),
// leaving the gradient for the unit below in its layer's dH, or, for unit
// 0, in the embedding gradient.
func (r *unitRunner) backward(u int, m *microState, params, grad []float32) {
	c := r.cfg
	if u == c.Layers {
		return
	}
	p := &m.pack
	n, hid, dirs, inDim := p.N(), c.Hidden, c.Dirs(), c.InDim(u)
	ls := &m.layers[u]
	if u == 0 {
		// Layer 0's input is the distinct tokens' embeddings.
		k := len(m.tok.IDs) * inDim
		ls.dIn = grow32(ls.dIn, k)
		model.LSTMBackwardRows(r.lay.LSTM(params, 0, 0), r.lay.LSTM(grad, 0, 0), ls.in, m.tok.Rows, p.Steps, &ls.acts[0], ls.dH[0], ls.dIn)
		if dirs == 2 {
			ls.dInRev = grow32(ls.dInRev, k)
			model.LSTMBackwardRows(r.lay.LSTM(params, 0, 1), r.lay.LSTM(grad, 0, 1), ls.in, m.tok.RevRows, p.Steps, &ls.acts[1], ls.dH[1], ls.dInRev)
			for i, v := range ls.dInRev {
				ls.dIn[i] += v
			}
		}
		m.tok.ScatterAdd(r.lay.View("embed").Slice(grad), c.EmbedDim, ls.dIn)
		return
	}
	ls.dIn = grow32(ls.dIn, n*inDim)
	model.LSTMBackward(r.lay.LSTM(params, u, 0), r.lay.LSTM(grad, u, 0), ls.in, p.Steps, &ls.acts[0], ls.dH[0], ls.dIn)
	if dirs == 2 {
		ls.dInRev = grow32(ls.dInRev, n*inDim)
		model.LSTMBackward(r.lay.LSTM(params, u, 1), r.lay.LSTM(grad, u, 1), ls.inRev, p.Steps, &ls.acts[1], ls.dH[1], ls.dInRev)
		for jr, j := range p.Rev {
			dst := ls.dIn[int(j)*inDim : (int(j)+1)*inDim]
			src := ls.dInRev[jr*inDim : (jr+1)*inDim]
			for i, v := range src {
				dst[i] += v
			}
		}
	}
	lower := &m.layers[u-1]
	if dirs == 1 {
		lower.dH[0], ls.dIn = ls.dIn, lower.dH[0]
		return
	}
	lower.dH[0] = grow32(lower.dH[0], n*hid)
	lower.dH[1] = grow32(lower.dH[1], n*hid)
	for j, jr := range p.Rev {
		copy(lower.dH[0][j*hid:(j+1)*hid], ls.dIn[j*2*hid:j*2*hid+hid])
		copy(lower.dH[1][int(jr)*hid:(int(jr)+1)*hid], ls.dIn[j*2*hid+hid:(j+1)*2*hid])
	}
}

// unitCost estimates a unit's work per token (multiply-adds forward and
// backward), so that stages can be balanced: an LSTM layer costs about
// dirs*4H*(In+H) per token, the head and embedding next to nothing.
func unitCost(c model.Config, u int) float64 {
	if u == c.Layers {
		return float64(c.OutDim())
	}
	return float64(c.Dirs() * 4 * c.Hidden * (c.InDim(u) + c.Hidden))
}
