package model

import (
	"fmt"

	"trainer/data"
)

// Inference is a model prepared for prediction only. The first LSTM
// layer's input projection of a token, embed[id]*W_ih^T, depends on
// nothing but the token, so it is computed once for every vocabulary word
// (a [V, 4H] table per direction) and prediction gathers table rows instead
// of multiplying: a third of the forward pass's arithmetic for the default
// model. The table costs V*4H*dirs float32s (80 MiB for V=20000, H=256).
// An Inference is read-only once made: workers share one, each with its
// own Workspace.
type Inference struct {
	cfg    Config
	params []float32
	table  [2][]float32 // per direction: [V, 4H]
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
		sgemm(false, true, c.VocabSize, g4, c.EmbedDim, 1, embed, c.EmbedDim, w.Wih, c.EmbedDim, 0, inf.table[d], g4)
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
	w.forward(inf.params, b, 0, w.cfg.Layers, nil, inf)
	w.Logits(logits)
}

// project fills layer 0's gates with the tabulated input projections of
// b's tokens and runs its time steps, in both directions.
func (inf *Inference) project(w *Workspace, b data.Batch) {
	p := &w.pack
	n, g4 := p.N(), 4*inf.cfg.Hidden
	ls := &w.layers[0]
	vocab := inf.cfg.VocabSize
	for d := 0; d < inf.cfg.Dirs(); d++ {
		a := &ls.acts[d]
		a.grow(n, inf.cfg.Hidden)
		tab := inf.table[d]
		for s, rows := range p.Sizes {
			o := p.Offsets[s]
			for k := 0; k < rows; k++ {
				// The reverse direction's step s of a row is its token Lengths-1-s.
				pos := s
				if d == 1 {
					pos = p.Lengths[k] - 1 - s
				}
				id := int(b.Tokens[p.Perm[k]*b.MaxLen+pos])
				if id < 0 || id >= vocab {
					panic(fmt.Sprintf("model: token id %d (batch row %d, position %d) outside the vocabulary of %d", id, p.Perm[k], pos, vocab))
				}
				copy(a.Gates[(o+k)*g4:(o+k+1)*g4], tab[id*g4:(id+1)*g4])
			}
		}
		lstmSteps(w.layout.LSTM(inf.params, 0, d), p.Steps, a)
	}
}
