package model

import (
	"fmt"

	"trainer/data"
	"trainer/internal/vecmath"
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
//
// With Int8 the recurrent products run on 8-bit weights and activations
// (see vecmath.GemmInt8Set) where the CPU has AVX-512 VNNI: about three
// times the float32 rate on the step that dominates prediction, for
// logits within about 1e-2 of the float32 ones.
type Inference struct {
	cfg    Config
	params []float32
	table  [2][]float32 // per direction: [V, 4H], embed*W_ih^T + bias
	whh8   [][2]vecmath.PackedB8
	// wih8 is the input weights of layers 1 and up in 8 bits (index 0
	// unused): their input is the layer below's hidden state, in [-1, 1]
	// like the recurrent product's, so the same kernel serves it.
	wih8 [][2]vecmath.PackedB8
	int8 bool
}

// InferenceOptions selects the arithmetic of an Inference.
type InferenceOptions struct {
	// Int8 quantizes the recurrent weights to 8 bits where the CPU can
	// run the 8-bit kernel; elsewhere it has no effect (see Int8).
	Int8 bool
}

// NewInference tabulates the first layer's input projections of params,
// which must stay unchanged while the Inference is in use, in float32.
func NewInference(c Config, params []float32) (*Inference, error) {
	return NewInferenceWith(c, params, InferenceOptions{})
}

// NewInferenceWith is NewInference with the arithmetic of opt.
func NewInferenceWith(c Config, params []float32, opt InferenceOptions) (*Inference, error) {
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
	if opt.Int8 && vecmath.Int8Supported(c.Hidden, g4) {
		inf.int8 = true
		inf.whh8 = make([][2]vecmath.PackedB8, c.Layers)
		for l := range inf.whh8 {
			for d := 0; d < c.Dirs(); d++ {
				w := lay.LSTM(params, l, d)
				inf.whh8[l][d].Pack(w.Whh, c.Hidden, c.Hidden, g4, true)
			}
		}
		if c.Layers > 1 && vecmath.Int8Supported(c.InDim(1), g4) {
			inf.wih8 = make([][2]vecmath.PackedB8, c.Layers)
			for l := 1; l < c.Layers; l++ {
				for d := 0; d < c.Dirs(); d++ {
					w := lay.LSTM(params, l, d)
					inf.wih8[l][d].Pack(w.Wih, w.In, w.In, g4, true)
				}
			}
		}
	}
	return inf, nil
}

// Config is the configuration of the prepared model.
func (inf *Inference) Config() Config { return inf.cfg }

// Int8 reports whether the recurrent products run in 8 bits.
func (inf *Inference) Int8() bool { return inf.int8 }

// recurrent8 is the 8-bit recurrent weights of layer l, direction d, or nil.
func (inf *Inference) recurrent8(l, d int) *vecmath.PackedB8 {
	if inf == nil || !inf.int8 {
		return nil
	}
	return &inf.whh8[l][d]
}

// input8 is the 8-bit input weights of layer l >= 1, direction d, or nil.
func (inf *Inference) input8(l, d int) *vecmath.PackedB8 {
	if inf == nil || inf.wih8 == nil {
		return nil
	}
	return &inf.wih8[l][d]
}

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
		a.grow(n, inf.cfg.Hidden, false)
		a.stepsNoSave(w.layout.LSTM(inf.params, 0, d), p.Steps, stepInput{tab: inf.table[d], ids: w.ids, whh8: inf.recurrent8(0, d)})
	}
}

// lstmForwardRows is LSTMForwardRows for a pass with no backward pass after
// it (save false) or with one.
func lstmForwardRows(w LSTMWeights, x []float32, rows []int32, st Steps, a *LSTMActs, save bool) {
	if save {
		LSTMForwardRows(w, x, rows, st, a)
		return
	}
	u := len(x) / max(w.In, 1)
	a.grow(st.N(), w.Hidden, false)
	a.proj = grow(a.proj, u*4*w.Hidden)
	if a.vec(w) && w.In > 0 {
		a.wihT.Pack(w.Wih, w.In, w.In, 4*w.Hidden, true)
	}
	a.project(w, x, u, a.proj)
	a.stepsNoSave(w, st, stepInput{tab: a.proj, ids: rows})
}

// lstmForwardInt8 is lstmForwardNoSave with the input projection of every
// token made at once in 8 bits (xq, quantized by vecmath.QuantizeRows, times
// wih8 = W_ih^T) rather than step by step in float32: one large product
// instead of one per step, at the 8-bit rate. The projections plus bias
// then feed the steps as a table: packed token j reads row ids[j].
func lstmForwardInt8(w LSTMWeights, xq []int8, xqInit []int32, ids []int32, st Steps, a *LSTMActs, wih8, whh8 *vecmath.PackedB8) {
	n, g4 := st.N(), 4*w.Hidden
	a.grow(n, w.Hidden, false)
	a.proj = grow(a.proj, vecmath.Int8RowsPadded(n)*g4)
	vecmath.GemmInt8Set(n, xq, w.In, xqInit, wih8, a.proj, g4)
	for j := 0; j < n; j++ {
		vecmath.Add(a.proj[j*g4:(j+1)*g4], w.B)
	}
	a.stepsNoSave(w, st, stepInput{tab: a.proj, ids: ids, whh8: whh8})
}

// lstmForwardNoSave is LSTMForward for a pass with no backward pass after
// it: only a.C and a.H are kept, and each step makes its input projection
// in the one-step scratch. whh8, when not nil, is W_hh^T in 8 bits.
func lstmForwardNoSave(w LSTMWeights, x []float32, st Steps, a *LSTMActs, whh8 *vecmath.PackedB8) {
	a.grow(st.N(), w.Hidden, false)
	if a.vec(w) && w.In > 0 {
		a.wihT.Pack(w.Wih, w.In, w.In, 4*w.Hidden, true)
	}
	a.stepsNoSave(w, st, stepInput{x: x, whh8: whh8})
}

// stepsNoSave runs every step of a pass that saves nothing.
func (a *LSTMActs) stepsNoSave(w LSTMWeights, st Steps, in stepInput) {
	if a.vec(w) && in.whh8 == nil && st.T() > 1 {
		a.whhT.Pack(w.Whh, w.Hidden, w.Hidden, 4*w.Hidden, true)
	}
	lstmSteps(w, st, 0, st.T(), a, in, false)
}
