package model

import (
	"fmt"

	"trainer/data"
	"trainer/model/internal/vecmath"
)

// Inference is a model prepared for prediction only. The first LSTM
// layer's input projection of a token, embed[id]*W_ih^T, depends on
// nothing but the token, so it is computed once for every vocabulary word
// (a [V, 4H] table per direction) and prediction gathers table rows instead
// of multiplying: a third of the forward pass's arithmetic for the default
// model. The table rows include the layer's bias, so a step's cell reads
// its row straight from the table as the bias of its gates and nothing is
// copied. The table costs V*4H*dirs float32s (80 MiB for V=20000, H=256).
// An Inference is read-only once made: workers share one, each with its
// own Workspace.
type Inference struct {
	cfg    Config
	params []float32
	table  [2][]float32 // per direction: [V, 4H], embed*W_ih^T + bias
}

// NewInference tabulates the first layer's input projections of params,
// which must stay unchanged while the Inference is in use.
func NewInference(c Config, params []float32) (*Inference, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	lay := NewLayout(c)
	if len(params) != lay.Size() {
		return nil, fmt.Errorf("model: %d parameters given, the configuration has %d", len(params), lay.Size())
	}
	inf := &Inference{cfg: c, params: params}
	embed := lay.View("embed").Slice(params)
	g4 := 4 * c.Hidden
	for d := 0; d < c.Dirs(); d++ {
		w := lay.LSTM(params, 0, d)
		inf.table[d] = make([]float32, c.VocabSize*g4)
		tab := inf.table[d]
		for v := 0; v < c.VocabSize; v++ {
			copy(tab[v*g4:(v+1)*g4], w.B)
		}
		sgemm(false, true, c.VocabSize, g4, c.EmbedDim, 1, embed, c.EmbedDim, w.Wih, c.EmbedDim, 1, tab, g4)
	}
	return inf, nil
}

// Config is the configuration of the prepared model.
func (inf *Inference) Config() Config { return inf.cfg }

// Predict computes the logit of every row of b into logits[:b.Size], in
// b's row order, like Forward with inf's parameters. w must have been made
// for the same configuration.
func (w *Workspace) Predict(inf *Inference, b data.Batch, logits []float32) {
	if w.cfg != inf.cfg {
		panic("model: Predict with a workspace of another configuration")
	}
	if b.Size == 0 {
		return
	}
	w.forward(inf.params, b, 0, w.cfg.Layers, nil, inf, true)
	w.Logits(logits)
}

// project runs layer 0's time steps on the tabulated input projections of
// b's tokens, in both directions.
func (inf *Inference) project(w *Workspace, b data.Batch) {
	p := &w.pack
	n := p.N()
	ls := &w.layers[0]
	vocab := inf.cfg.VocabSize
	w.ids = grow(w.ids, n)
	for d := 0; d < inf.cfg.Dirs(); d++ {
		for s, rows := range p.Sizes {
			o := p.Offsets[s]
			for k := 0; k < rows; k++ {
				// The reverse direction's step s of a row is its token Lengths-1-s.
				pos := s
				if d == 1 {
					pos = p.Lengths[k] - 1 - s
				}
				id := b.Tokens[p.Perm[k]*b.MaxLen+pos]
				if id < 0 || int(id) >= vocab {
					panic(fmt.Sprintf("model: token id %d (batch row %d, position %d) outside the vocabulary of %d", id, p.Perm[k], pos, vocab))
				}
				w.ids[o+k] = id
			}
		}
		a := &ls.acts[d]
		a.C = grow(a.C, n*inf.cfg.Hidden)
		a.H = grow(a.H, n*inf.cfg.Hidden)
		lstmStepsTable(w.layout.LSTM(inf.params, 0, d), p.Steps, a, inf.table[d], w.ids)
	}
}

// lstmStepsTable is lstmSteps for a first layer whose input projections
// plus bias are rows of tab, packed row j's being row ids[j]: each step's
// gates are only its recurrent product, and the cell adds the table row as
// the bias. Prediction has no backward pass, so the gates and tanh(c) of
// a step go to a one-step scratch that stays in cache instead of a.Gates
// and a.TanhC.
func lstmStepsTable(w LSTMWeights, st Steps, a *LSTMActs, tab []float32, ids []int32) {
	hid := w.Hidden
	g4 := 4 * hid
	packed := !a.blasOnly && vecmath.GemmSupported(g4) && st.T() > 1
	if packed {
		a.whhT.Pack(w.Whh, hid, hid, g4, true)
	}
	a.stepGates = grow(a.stepGates, st.Sizes[0]*g4)
	a.stepTanhC = grow(a.stepTanhC, st.Sizes[0]*hid)
	for s, rows := range st.Sizes {
		o := st.Offsets[s]
		gates := a.stepGates[:rows*g4]
		var cPrev []float32
		if s == 0 {
			clear(gates)
		} else {
			po := st.Offsets[s-1]
			hPrev := a.H[po*hid : (po+rows)*hid]
			if packed {
				vecmath.GemmPackedSet(rows, hPrev, hid, &a.whhT, gates, g4)
			} else {
				sgemm(false, true, rows, g4, hid, 1, hPrev, hid, w.Whh, hid, 0, gates, g4)
			}
			cPrev = a.C[po*hid : (po+rows)*hid]
		}
		for r := 0; r < rows; r++ {
			j := o + r
			id := int(ids[j])
			var cp []float32
			if cPrev != nil {
				cp = cPrev[r*hid : (r+1)*hid]
			}
			vecmath.CellForward(gates[r*g4:(r+1)*g4], tab[id*g4:(id+1)*g4], cp,
				a.C[j*hid:(j+1)*hid], a.stepTanhC[r*hid:(r+1)*hid], a.H[j*hid:(j+1)*hid], hid)
		}
	}
}
