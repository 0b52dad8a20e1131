package model

import (
	"math"
	"strconv"

	"trainer/data"
)

// This file is the network written as plainly as it can be: one review at
// a time, one step at a time, in float64, with no packing, no distinct-row
// tables, no packed kernels and no BLAS. It defines what the rest of the
// package computes fast, and the tests hold Workspace to it. It is far too
// slow to train with.

// ReferenceLossGrad runs the network on every row of b and adds to grad
// (laid out like params) the gradient of the summed BCE-with-logits loss,
// like Workspace.LossGrad, whose result it defines. It returns the summed
// loss and the number of rows whose prediction (logit > 0 means positive)
// equals the label.
func ReferenceLossGrad(c Config, params []float32, b data.Batch, grad []float32) (lossSum float64, correct int) {
	lay := NewLayout(c)
	g := make([]float64, len(grad))
	for r := 0; r < b.Size; r++ {
		tokens := b.Tokens[r*b.MaxLen : r*b.MaxLen+int(b.Lengths[r])]
		fw := referenceForward(c, lay, params, tokens)
		z := fw.logit
		y := float64(b.Labels[r])
		lossSum += math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z)))
		if (z > 0) == (y > 0.5) {
			correct++
		}
		fw.backward(c, lay, params, tokens, 1/(1+math.Exp(-z))-y, g)
	}
	for i, v := range g {
		grad[i] += float32(v)
	}
	return lossSum, correct
}

// ReferenceLogits sets logits[:b.Size] to the network's logit of every row
// of b, the result Workspace.Forward must match.
func ReferenceLogits(c Config, params []float32, b data.Batch, logits []float32) {
	lay := NewLayout(c)
	for r := 0; r < b.Size; r++ {
		tokens := b.Tokens[r*b.MaxLen : r*b.MaxLen+int(b.Lengths[r])]
		logits[r] = float32(referenceForward(c, lay, params, tokens).logit)
	}
}

// refCell is what one LSTM step of one direction keeps for the backward
// pass: the gate activations, the previous and new cell states and tanh of
// the new one, and the previous hidden state.
type refCell struct {
	i, f, g, o      []float64
	cPrev, c, tanhC []float64
	hPrev           []float64
}

// refForward is one review's forward pass, kept for its backward pass.
type refForward struct {
	inputs [][][]float64 // [layer][t] the layer's input at position t
	cells  [][][]refCell // [layer][direction][t] by position, not by processing order
	out    [][]float64   // [t] the top layer's output, directions side by side
	pooled []float64
	argmax []int // PoolMax: the position each pooled value came from
	logit  float64
}

// refParam reads a named weight matrix as a function of (row, column).
func refParam(lay Layout, params []float32, name string) func(i, j int) float64 {
	v := lay.View(name)
	cols := v.Shape[len(v.Shape)-1]
	w := v.Slice(params)
	return func(i, j int) float64 { return float64(w[i*cols+j]) }
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// referenceForward runs the network on one review's tokens.
func referenceForward(c Config, lay Layout, params []float32, tokens []int32) *refForward {
	T, H, D := len(tokens), c.Hidden, c.OutDim()
	fw := &refForward{}
	// Embedding: each position's input is its token's row.
	embed := refParam(lay, params, "embed")
	x := make([][]float64, T)
	for t, id := range tokens {
		x[t] = make([]float64, c.EmbedDim)
		for j := range x[t] {
			x[t][j] = embed(int(id), j)
		}
	}
	// LSTM layers: each direction runs over the positions in its own
	// order from a zero state; the layer's output at position t is the
	// forward direction's h next to the reverse direction's.
	for l := 0; l < c.Layers; l++ {
		fw.inputs = append(fw.inputs, x)
		out := make([][]float64, T)
		for t := range out {
			out[t] = make([]float64, D)
		}
		cells := make([][]refCell, c.Dirs())
		for d := range cells {
			p := "lstm." + strconv.Itoa(l) + "." + DirName(d) + "."
			wih, whh, bias := refParam(lay, params, p+"w_ih"), refParam(lay, params, p+"w_hh"), lay.View(p+"b").Slice(params)
			cells[d] = make([]refCell, T)
			h, cs := make([]float64, H), make([]float64, H)
			for k := 0; k < T; k++ {
				t := k
				if d == 1 {
					t = T - 1 - k
				}
				z := make([]float64, 4*H)
				for i := range z {
					z[i] = float64(bias[i])
					for j, v := range x[t] {
						z[i] += wih(i, j) * v
					}
					for j, v := range h {
						z[i] += whh(i, j) * v
					}
				}
				cell := refCell{i: make([]float64, H), f: make([]float64, H), g: make([]float64, H), o: make([]float64, H),
					cPrev: cs, c: make([]float64, H), tanhC: make([]float64, H), hPrev: h}
				hNew := make([]float64, H)
				for j := 0; j < H; j++ {
					cell.i[j] = sigmoid(z[j])
					cell.f[j] = sigmoid(z[H+j])
					cell.g[j] = math.Tanh(z[2*H+j])
					cell.o[j] = sigmoid(z[3*H+j])
					cell.c[j] = cell.f[j]*cs[j] + cell.i[j]*cell.g[j]
					cell.tanhC[j] = math.Tanh(cell.c[j])
					hNew[j] = cell.o[j] * cell.tanhC[j]
				}
				cells[d][t] = cell
				h, cs = hNew, cell.c
				copy(out[t][d*H:(d+1)*H], h)
			}
		}
		fw.cells = append(fw.cells, cells)
		x = out
	}
	fw.out = x
	// Pooling over time.
	fw.pooled = make([]float64, D)
	switch c.pool() {
	case PoolLast: // each direction's final state
		for j := 0; j < D; j++ {
			t := T - 1
			if j >= H {
				t = 0
			}
			fw.pooled[j] = x[t][j]
		}
	case PoolMean:
		for t := range x {
			for j, v := range x[t] {
				fw.pooled[j] += v / float64(T)
			}
		}
	case PoolMax: // the first maximum in each direction's own order
		fw.argmax = make([]int, D)
		for j := 0; j < D; j++ {
			best := -1
			for k := 0; k < T; k++ {
				t := k
				if j >= H {
					t = T - 1 - k
				}
				if best < 0 || x[t][j] > x[best][j] {
					best = t
				}
			}
			fw.argmax[j], fw.pooled[j] = best, x[best][j]
		}
	}
	// The linear head: one logit.
	hw := refParam(lay, params, "head.w")
	fw.logit = float64(lay.View("head.b").Slice(params)[0])
	for j, v := range fw.pooled {
		fw.logit += hw(0, j) * v
	}
	// The wide n-gram path: its features' table values, weighted.
	if wide := lay.Wide(params); wide != nil {
		feats := NgramFeatures(tokens, c, nil)
		for _, f := range feats {
			fw.logit += WideWeight(len(feats)) * float64(wide[f])
		}
	}
	return fw
}

// backward adds to g the gradient of the loss whose derivative with
// respect to the logit is dz.
func (fw *refForward) backward(c Config, lay Layout, params []float32, tokens []int32, dz float64, g []float64) {
	T, H, D := len(tokens), c.Hidden, c.OutDim()
	add := func(name string) func(i, j int, v float64) {
		view := lay.View(name)
		cols := view.Shape[len(view.Shape)-1]
		return func(i, j int, v float64) { g[view.Offset+i*cols+j] += v }
	}
	// The wide path: each occurrence of a feature gets dz times its weight.
	if c.Ngrams > 0 {
		off := lay.View("wide").Offset
		feats := NgramFeatures(tokens, c, nil)
		for _, f := range feats {
			g[off+int(f)] += dz * WideWeight(len(feats))
		}
	}
	// Head.
	hw := refParam(lay, params, "head.w")
	dHeadW := add("head.w")
	g[lay.View("head.b").Offset] += dz
	dPooled := make([]float64, D)
	for j, v := range fw.pooled {
		dHeadW(0, j, dz*v)
		dPooled[j] = dz * hw(0, j)
	}
	// Pooling.
	dOut := make([][]float64, T)
	for t := range dOut {
		dOut[t] = make([]float64, D)
	}
	for j, v := range dPooled {
		switch c.pool() {
		case PoolLast:
			t := T - 1
			if j >= H {
				t = 0
			}
			dOut[t][j] += v
		case PoolMean:
			for t := range dOut {
				dOut[t][j] += v / float64(T)
			}
		case PoolMax:
			dOut[fw.argmax[j]][j] += v
		}
	}
	// LSTM layers, top down; each direction back through time in the
	// reverse of its own order.
	for l := c.Layers - 1; l >= 0; l-- {
		x := fw.inputs[l]
		in := len(x[0])
		dx := make([][]float64, T)
		for t := range dx {
			dx[t] = make([]float64, in)
		}
		for d := 0; d < c.Dirs(); d++ {
			p := "lstm." + strconv.Itoa(l) + "." + DirName(d) + "."
			wih, whh := refParam(lay, params, p+"w_ih"), refParam(lay, params, p+"w_hh")
			dWih, dWhh, dB := add(p+"w_ih"), add(p+"w_hh"), add(p+"b")
			dhRec, dcNext := make([]float64, H), make([]float64, H)
			for k := T - 1; k >= 0; k-- {
				t := k
				if d == 1 {
					t = T - 1 - k
				}
				cell := fw.cells[l][d][t]
				dzs := make([]float64, 4*H)
				for j := 0; j < H; j++ {
					dh := dOut[t][d*H+j] + dhRec[j]
					dc := dh*cell.o[j]*(1-cell.tanhC[j]*cell.tanhC[j]) + dcNext[j]
					dzs[j] = dc * cell.g[j] * cell.i[j] * (1 - cell.i[j])
					dzs[H+j] = dc * cell.cPrev[j] * cell.f[j] * (1 - cell.f[j])
					dzs[2*H+j] = dc * cell.i[j] * (1 - cell.g[j]*cell.g[j])
					dzs[3*H+j] = dh * cell.tanhC[j] * cell.o[j] * (1 - cell.o[j])
					dcNext[j] = dc * cell.f[j]
				}
				for j := range dhRec {
					dhRec[j] = 0
				}
				for i, dzi := range dzs {
					dB(0, i, dzi)
					for j, v := range x[t] {
						dWih(i, j, dzi*v)
						dx[t][j] += wih(i, j) * dzi
					}
					for j, v := range cell.hPrev {
						dWhh(i, j, dzi*v)
						dhRec[j] += whh(i, j) * dzi
					}
				}
			}
		}
		dOut = dx
	}
	// Embedding: each position's gradient goes to its token's row.
	dEmbed := add("embed")
	for t, id := range tokens {
		for j, v := range dOut[t] {
			dEmbed(int(id), j, v)
		}
	}
}
