package model

import (
	"fmt"

	"trainer/data"
	"trainer/internal/vecmath"
)

// PoolForward pools the top layer's outputs over time into pooled
// ([rows, dirs*hid], row k for sorted position k of p). hs[d] is direction
// d's output [N, hid] in its own step order (see the package doc), so each
// row's last state is at step Lengths[k]-1 in both directions: the forward
// direction's last token and the reverse direction's first. For PoolMax,
// argmax ([rows, dirs*hid]) receives the packed row each maximum came from;
// a pass with no backward pass after it gives a nil argmax, and the
// maxima are then taken step by step with vector instructions.
func PoolForward(pool string, hs [][]float32, hid int, p *Packing, pooled []float32, argmax []int32) {
	dirs := len(hs)
	width := dirs * hid
	rows := len(p.Lengths)
	if pool == PoolMax && argmax == nil {
		poolMaxValues(hs, hid, p, pooled)
		return
	}
	for d, h := range hs {
		for k := 0; k < rows; k++ {
			dst := pooled[k*width+d*hid : k*width+(d+1)*hid]
			length := p.Lengths[k]
			switch pool {
			case PoolLast, "":
				j := p.Offsets[length-1] + k
				copy(dst, h[j*hid:(j+1)*hid])
			case PoolMean:
				clear(dst)
				for s := 0; s < length; s++ {
					j := p.Offsets[s] + k
					vecmath.Add(dst, h[j*hid:(j+1)*hid])
				}
				inv := 1 / float32(length)
				for i := range dst {
					dst[i] *= inv
				}
			case PoolMax:
				am := argmax[k*width+d*hid : k*width+(d+1)*hid]
				copy(dst, h[k*hid:(k+1)*hid]) // step 0 is packed row k
				for i := range am {
					am[i] = int32(k)
				}
				for s := 1; s < length; s++ {
					j := p.Offsets[s] + k
					src := h[j*hid : (j+1)*hid]
					for i, v := range src {
						if v > dst[i] {
							dst[i], am[i] = v, int32(j)
						}
					}
				}
			default:
				panic(fmt.Sprintf("model: unknown pooling %q", pool))
			}
		}
	}
}

// poolMaxValues is PoolForward's max pooling without the argmax. Rows are
// packed longest first, so the rows alive at step s are packed rows
// Offsets[s] .. Offsets[s]+Sizes[s]-1 of batch rows 0 .. Sizes[s]-1: each
// step is one pass over contiguous states.
func poolMaxValues(hs [][]float32, hid int, p *Packing, pooled []float32) {
	width := len(hs) * hid
	for d, h := range hs {
		for k := range p.Lengths {
			copy(pooled[k*width+d*hid:k*width+(d+1)*hid], h[k*hid:(k+1)*hid]) // step 0 is packed row k
		}
		for s := 1; s < len(p.Sizes); s++ {
			o := p.Offsets[s]
			for k := 0; k < p.Sizes[s]; k++ {
				vecmath.Max(pooled[k*width+d*hid:k*width+(d+1)*hid], h[(o+k)*hid:(o+k+1)*hid])
			}
		}
	}
}

// PoolBackward adds the gradient with respect to pooled ([rows,
// dirs*hid]) to the gradients dhs[d] ([N, hid], step order of direction d)
// of the top layer's outputs. argmax is what PoolForward recorded.
func PoolBackward(pool string, dPooled []float32, hid int, p *Packing, argmax []int32, dhs [][]float32) {
	dirs := len(dhs)
	width := dirs * hid
	for d, dh := range dhs {
		for k, length := range p.Lengths {
			src := dPooled[k*width+d*hid : k*width+(d+1)*hid]
			switch pool {
			case PoolLast, "":
				j := p.Offsets[length-1] + k
				dst := dh[j*hid : (j+1)*hid]
				for i, v := range src {
					dst[i] += v
				}
			case PoolMean:
				inv := 1 / float32(length)
				for s := 0; s < length; s++ {
					j := p.Offsets[s] + k
					dst := dh[j*hid : (j+1)*hid]
					for i, v := range src {
						dst[i] += v * inv
					}
				}
			case PoolMax:
				am := argmax[k*width+d*hid : k*width+(d+1)*hid]
				for i, v := range src {
					dh[int(am[i])*hid+i] += v
				}
			default:
				panic(fmt.Sprintf("model: unknown pooling %q", pool))
			}
		}
	}
}

// LinearForward computes logits[k] = pooled[k]·w + b for rows of width d.
func LinearForward(pooled []float32, d int, w []float32, b float32, logits []float32) {
	w = w[:d]
	for k := range logits {
		x := pooled[k*d : (k+1)*d]
		var s float32
		for i, v := range x {
			s += v * w[i]
		}
		logits[k] = s + b
	}
}

// LinearBackward adds to dw ([d]) and db the gradients of the linear head
// given dlogits, and sets dPooled ([rows, d]) to the gradient with respect
// to its input.
func LinearBackward(pooled []float32, d int, w, dlogits, dw []float32, db *float32, dPooled []float32) {
	w, dw = w[:d], dw[:d]
	var sb float32
	for k, g := range dlogits {
		x := pooled[k*d : (k+1)*d]
		dx := dPooled[k*d : (k+1)*d]
		for i, v := range x {
			dw[i] += g * v
			dx[i] = g * w[i]
		}
		sb += g
	}
	*db += sb
}

// Head is the scratch memory of the classifier head for one batch: pooling
// over time, the linear layer, the wide n-gram path and the loss, forward
// and backward, in the packed (length-sorted) row order. A Workspace keeps
// one, and so does each of a pipeline's micro-batches.
type Head struct {
	pooled, dPooled []float32 // [rows, D]
	argmax          []int32   // [rows, D] for PoolMax
	logits, labels  []float32 // [rows]
	dlogits         []float32
	feats, offs     []int32 // the wide path's features of packed row k: feats[offs[k]:offs[k+1]]
	rowFeats        []int32 // scratch: one row's features
	// noGrad marks a forward pass with no Backward after it (a
	// Workspace's prediction and evaluation): max pooling skips the argmax.
	noGrad bool
}

// Forward pools hs, the top layer's states ([N, hid] per direction, in p's
// step orders), and sets the logits of p's rows; with the n-gram path on it
// adds their wide terms, from b's tokens (p is b's packing).
func (h *Head) Forward(c Config, lay Layout, params []float32, hs [][]float32, p *Packing, b data.Batch) {
	rows, d := len(p.Perm), c.OutDim()
	h.pooled = grow(h.pooled, rows*d)
	var argmax []int32
	if c.pool() == PoolMax && !h.noGrad {
		h.argmax = grow(h.argmax, rows*d)
		argmax = h.argmax
	}
	PoolForward(c.pool(), hs, c.Hidden, p, h.pooled, argmax)
	h.logits = grow(h.logits, rows)
	LinearForward(h.pooled, d, lay.View("head.w").Slice(params), params[lay.View("head.b").Offset], h.logits)
	if c.Ngrams > 0 {
		h.features(c, p, b)
		WideForward(lay.Wide(params), h.feats, h.offs, h.logits)
	}
}

// features lists the wide path's features of b's rows in p's packed order.
func (h *Head) features(c Config, p *Packing, b data.Batch) {
	h.offs = grow(h.offs, len(p.Perm)+1)
	h.feats = h.feats[:0]
	h.offs[0] = 0
	for k, r := range p.Perm {
		h.rowFeats = NgramFeatures(b.Row(r), c, h.rowFeats)
		h.feats = append(h.feats, h.rowFeats...)
		h.offs[k+1] = int32(len(h.feats))
	}
}

// Logits copies the logits of the last Forward into dst[:rows], in the
// batch's row order.
func (h *Head) Logits(p *Packing, dst []float32) {
	for k, r := range p.Perm {
		dst[r] = h.logits[k]
	}
}

// Backward scores the last Forward's logits against labels (the batch's
// row order) with the BCE-with-logits loss, adds the head's weight
// gradients to grad, and sets dhs (one per direction, like Forward's hs) to
// the gradient with respect to the top layer's states. It returns the
// summed loss and the number of rows predicted right.
func (h *Head) Backward(c Config, lay Layout, params, grad, labels []float32, p *Packing, dhs [][]float32) (lossSum float64, correct int) {
	rows, d := len(p.Perm), c.OutDim()
	h.labels = grow(h.labels, rows)
	for k, r := range p.Perm {
		h.labels[k] = labels[r]
	}
	h.dlogits = grow(h.dlogits, rows)
	lossSum, correct = BCEWithLogits(h.logits, h.labels, h.dlogits)
	hw, hb := lay.View("head.w"), lay.View("head.b")
	h.dPooled = grow(h.dPooled, rows*d)
	LinearBackward(h.pooled, d, hw.Slice(params), h.dlogits, hw.Slice(grad), &grad[hb.Offset], h.dPooled)
	if c.Ngrams > 0 {
		WideBackward(h.feats, h.offs, h.dlogits, lay.Wide(grad))
	}
	for _, dh := range dhs {
		clear(dh)
	}
	PoolBackward(c.pool(), h.dPooled, c.Hidden, p, h.argmax, dhs)
	return lossSum, correct
}
